"""Read and validate the entitlements TOML file; reject it whole on any problem.

The file is the contract record kept in version control::

    [orgs."360001234567"]           # organization id, or [orgs."ext:acme-corp"]
    plan = "enterprise"             # optional: overrides the Zendesk field
    enterprise_support = true       # optional: overrides the Zendesk field
    starts = 2026-01-01             # optional TOML date: first day of the add-on
    ends = 2026-12-31               # optional TOML date: last day of the add-on
    sla = { sev1 = "30m", sev3 = "4h", sev2 = { first_response = "1h", next_reply = "2h" } }
    pagerduty_routing_key = "env:ACME_PD_ROUTING_KEY"   # optional override
    slack_webhook_url = "env:ACME_SLACK_WEBHOOK_URL"
    csm_user_id = 123456
    slack_channel = "C0123ABCDEF"   # the Slack app: the customer's shared channel
    default_requester_email = "it-ops@acme.example"   # when Slack hides the email

Every problem is collected, each naming the org and the field, and raised as
one :class:`EntitlementsError`. Secrets are never echoed. The two secret
fields hold ``env:VARIABLE`` references, resolved from the environment when
the file is read; a literal secret in the file is refused (the file is kept
in version control, secrets come from the environment only).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from sidecar.config import Secret
from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    PLANS,
    EntitlementsError,
    EntitlementsFile,
    OrgEntitlement,
)
from sidecar.net import is_loopback
from sidecar.sla.policy import METRICS, parse_duration
from sidecar.sla.severity import SEVERITIES

ORG_FIELDS = (
    "plan",
    "enterprise_support",
    "starts",
    "ends",
    "sla",
    "pagerduty_routing_key",
    "slack_webhook_url",
    "csm_user_id",
    "slack_channel",
    "default_requester_email",
)
# Slack conversation ids: C… (channels; shared private ones may move from G… to
# C…) or G… (older private channels). docs.slack.dev/apis/web-api/using-the-conversations-api
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEVERITY_KEY = re.compile(r"^sev([1-9][0-9]*)$")
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
EXTERNAL_PREFIX = "ext:"
ENV_PREFIX = "env:"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load_entitlements(
    path: str | Path,
    *,
    embedded: bool = False,
    environ: Mapping[str, str] | None = None,
    eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS,
    resolve_secrets: bool = True,
) -> EntitlementsFile:
    """Read the file at ``path`` and validate it, raising EntitlementsError.

    ``embedded`` means the file is the SIDECAR_CONFIG file: only its ``[orgs]``
    table is read and other tables belong to other settings. A standalone file
    may hold only ``[orgs]``. ``environ`` resolves ``env:VARIABLE`` references
    (default: the process environment, read now). With ``resolve_secrets``
    false (`orgs check --offline`, CI) only each reference's form is checked:
    the entries carry no secrets and ``references`` lists the variables.
    """
    shown = str(path)
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise EntitlementsError(
            [f"cannot read the file ({exc.strerror})"], path=shown
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise EntitlementsError([f"not valid TOML: {exc}"], path=shown) from None
    return parse_entitlements(
        data,
        path=shown,
        embedded=embedded,
        environ=environ,
        eligible_plans=eligible_plans,
        resolve_secrets=resolve_secrets,
    )


def parse_entitlements(
    data: dict[str, Any],
    *,
    path: str | None = None,
    embedded: bool = False,
    environ: Mapping[str, str] | None = None,
    eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS,
    resolve_secrets: bool = True,
) -> EntitlementsFile:
    """Validate parsed TOML into an EntitlementsFile, raising EntitlementsError."""
    rules = _Rules(
        environ=os.environ if environ is None else environ,
        eligible=tuple(eligible_plans),
        resolve=resolve_secrets,
    )
    problems: list[str] = []
    if not embedded:
        for key in sorted(set(data) - {"orgs"}):
            problems.append(f"unknown top-level key {key!r} (only [orgs] belongs here)")
    orgs = data.get("orgs", {})
    if not isinstance(orgs, dict):
        raise EntitlementsError(["[orgs] must be a table of organizations"], path=path)
    entries: list[OrgEntitlement] = []
    seen_external: dict[str, str] = {}
    seen_channels: dict[str, str] = {}
    seen_ids: dict[int, str] = {}
    for key, table in orgs.items():
        org_id, _ = _parse_key(key, [])  # its problems are reported by _parse_org
        if org_id is not None and org_id in seen_ids:
            problems.append(
                f"org {key}: same organization id as org {seen_ids[org_id]}"
            )
            continue
        if org_id is not None:
            seen_ids[org_id] = key
        entry = _parse_org(key, table, problems, rules)
        if entry is None:
            continue
        if entry.external_id is not None:
            folded = entry.external_id.casefold()
            if folded in seen_external:
                problems.append(
                    f"org {key}: same external id as org {seen_external[folded]} "
                    "(Zendesk external ids are case-insensitive)"
                )
                continue
            seen_external[folded] = key
        if entry.slack_channel is not None:
            if entry.slack_channel in seen_channels:
                problems.append(
                    f"org {key}: slack_channel: {entry.slack_channel} is already "
                    f"the channel of org {seen_channels[entry.slack_channel]}"
                )
                continue
            seen_channels[entry.slack_channel] = key
        entries.append(entry)
    if problems:
        raise EntitlementsError(problems, path=path)
    return EntitlementsFile(
        path=path, orgs=tuple(entries), references=tuple(rules.references)
    )


class _Rules:
    """What validation depends on besides the file: the environment, the plans."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str],
        eligible: tuple[str, ...],
        resolve: bool = True,
    ):
        self.environ = environ
        self.eligible = eligible
        self.known = tuple(dict.fromkeys((*PLANS, *eligible)))
        # False: check each env:VARIABLE's form only, never read its value.
        self.resolve = resolve
        self.references: list[tuple[str, str, str]] = []


def _parse_org(
    key: str, table: Any, problems: list[str], rules: _Rules
) -> OrgEntitlement | None:
    org = f"org {key}"
    org_id, external_id = _parse_key(key, problems)
    if not isinstance(table, dict):
        problems.append(f"{org}: must be a table of settings")
        return None
    count = len(problems)
    for name in sorted(set(table) - set(ORG_FIELDS)):
        problems.append(
            f"{org}: unknown field {name!r} (known: {', '.join(ORG_FIELDS)})"
        )

    plan = table.get("plan")
    if plan is not None:
        if not isinstance(plan, str) or plan.strip().casefold() not in rules.known:
            problems.append(
                f"{org}: plan: {plan!r} is not one of {', '.join(rules.known)}"
            )
            plan = None
        else:
            plan = plan.strip().casefold()

    enterprise = table.get("enterprise_support")
    if enterprise is not None and not isinstance(enterprise, bool):
        problems.append(f"{org}: enterprise_support: must be true or false")
        enterprise = None
    if enterprise and plan is not None and plan not in rules.eligible:
        problems.append(
            f"{org}: enterprise_support: Enterprise Support is an add-on for "
            f"{' and '.join(rules.eligible)} plans only, not {plan!r}"
        )

    starts = _date(table, "starts", org, problems)
    ends = _date(table, "ends", org, problems)
    if starts is not None and ends is not None and ends < starts:
        problems.append(f"{org}: ends: {ends.isoformat()} is before starts {starts}")

    overrides, metric_overrides = _sla(table.get("sla"), org, problems)
    routing_key = _routing_key(
        _secret_ref(table, "pagerduty_routing_key", org, problems, rules, key=key),
        org,
        problems,
    )
    slack = _slack_url(
        _secret_ref(table, "slack_webhook_url", org, problems, rules, key=key),
        org,
        problems,
    )

    csm = table.get("csm_user_id")
    if csm is not None and (type(csm) is not int or csm <= 0):
        problems.append(f"{org}: csm_user_id: must be a positive Zendesk user id")
        csm = None

    channel = table.get("slack_channel")
    if channel is not None and (
        not isinstance(channel, str) or not _SLACK_CHANNEL.match(channel)
    ):
        problems.append(
            f"{org}: slack_channel: {channel!r} is not a Slack channel id "
            "(like C0123ABCDEF: channel details > About, at the bottom)"
        )
        channel = None
    requester = table.get("default_requester_email")
    if requester is not None and (
        not isinstance(requester, str) or not _EMAIL.match(requester.strip())
    ):
        problems.append(
            f"{org}: default_requester_email: {requester!r} is not an email address"
        )
        requester = None

    if len(problems) > count or (org_id is None and external_id is None):
        return None
    return OrgEntitlement(
        key=key,
        org_id=org_id,
        external_id=external_id,
        plan=plan,
        enterprise_support=enterprise,
        starts=starts,
        ends=ends,
        sla_overrides=MappingProxyType(overrides),
        metric_overrides=MappingProxyType(
            {s: MappingProxyType(m) for s, m in metric_overrides.items()}
        ),
        pagerduty_routing_key=routing_key,
        slack_webhook_url=slack,
        csm_user_id=csm,
        slack_channel=channel,
        default_requester_email=requester.strip() if requester else None,
    )


def _parse_key(key: str, problems: list[str]) -> tuple[int | None, str | None]:
    if key.isascii() and key.isdigit() and int(key) > 0:
        return int(key), None
    if key.startswith(EXTERNAL_PREFIX) and key[len(EXTERNAL_PREFIX) :].strip():
        return None, key[len(EXTERNAL_PREFIX) :].strip()
    problems.append(
        f"org {key}: the key must be an organization id (digits) or 'ext:<external id>'"
    )
    return None, None


def _date(
    table: dict[str, Any], name: str, org: str, problems: list[str]
) -> date | None:
    value = table.get(name)
    # A TOML datetime is also a ``date`` subclass: refuse it, a contract has days.
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    problems.append(f"{org}: {name}: must be a TOML date like 2026-01-01 (no quotes)")
    return None


_SLA_EXAMPLE = 'sev2 = "1h", or sev2 = { first_response = "1h", next_reply = "2h" }'


def _sla(
    value: Any, org: str, problems: list[str]
) -> tuple[dict[int, timedelta], dict[int, dict[str, timedelta]]]:
    """Return (first-response overrides, other metrics' overrides) by severity.

    A severity maps to one duration (its first response, as always) or to a
    table of durations by metric name (METRICS).
    """
    first: dict[int, timedelta] = {}
    others: dict[int, dict[str, timedelta]] = {}
    if value is None:
        return first, others
    if not isinstance(value, dict):
        problems.append(f"{org}: sla: must be a table like {{ {_SLA_EXAMPLE} }}")
        return first, others
    for name, text in value.items():
        match = _SEVERITY_KEY.match(name)
        if match is None or int(match.group(1)) not in SEVERITIES:
            problems.append(
                f"{org}: sla.{name}: unknown severity "
                f"(use sev1 to sev{max(SEVERITIES)})"
            )
            continue
        severity = int(match.group(1))
        if isinstance(text, dict):
            named = _metric_table(f"sla.{name}", text, org, problems)
            if "first_response" in named:
                first[severity] = named.pop("first_response")
            if named:
                others[severity] = named
            continue
        duration = _duration(f"sla.{name}", text, org, problems)
        if duration is not None:
            first[severity] = duration
    return first, others


def _metric_table(
    where: str, table: dict[str, Any], org: str, problems: list[str]
) -> dict[str, timedelta]:
    """``{ first_response = "1h", next_reply = "2h" }``: durations by metric name."""
    found: dict[str, timedelta] = {}
    if not table:
        problems.append(
            f"{org}: {where}: an empty table sets nothing (expected metric = "
            f"duration; example: {_SLA_EXAMPLE})"
        )
    for metric, text in table.items():
        if metric not in METRICS:
            problems.append(
                f"{org}: {where}.{metric}: unknown metric {metric!r} (expected one "
                f"of {', '.join(METRICS)}; example: {_SLA_EXAMPLE})"
            )
            continue
        duration = _duration(f"{where}.{metric}", text, org, problems)
        if duration is not None:
            found[metric] = duration
    return found


def _duration(where: str, text: Any, org: str, problems: list[str]) -> timedelta | None:
    if not isinstance(text, str):
        problems.append(
            f'{org}: {where}: {text!r} must be a duration string like "30m" '
            f"(example: {_SLA_EXAMPLE})"
        )
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        problems.append(f"{org}: {where}: {exc} (example: {_SLA_EXAMPLE})")
        return None


def _secret_ref(
    table: dict[str, Any],
    name: str,
    org: str,
    problems: list[str],
    rules: _Rules,
    *,
    key: str,
) -> str | None:
    """Resolve ``name = "env:VARIABLE"`` from the environment; refuse literals.

    Without ``rules.resolve`` the reference is recorded and nothing is read.
    """
    value = table.get(name)
    if value is None:
        return None
    how = (
        f"put the secret in an environment variable and write {name} = "
        '"env:VARIABLE" here'
    )
    if not isinstance(value, str) or not value.startswith(ENV_PREFIX):
        # Never echo the value: it is (or contains) the credential.
        problems.append(
            f"{org}: {name}: secrets do not belong in the entitlements file; {how}"
        )
        return None
    variable = value[len(ENV_PREFIX) :].strip()
    if not _ENV_NAME.match(variable):
        problems.append(f"{org}: {name}: {value!r} is not a valid reference; {how}")
        return None
    rules.references.append((key, name, variable))
    if not rules.resolve:
        return None
    resolved = rules.environ.get(variable, "")
    if not resolved:
        problems.append(
            f"{org}: {name}: environment variable {variable} is not set (or empty)"
        )
        return None
    return resolved


def is_routing_key(value: str) -> bool:
    """True for a well-formed PagerDuty integration key (32 letters and digits)."""
    return bool(_ROUTING_KEY.match(value))


def _routing_key(value: Any, org: str, problems: list[str]) -> Secret | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ROUTING_KEY.match(value):
        # Say what is wrong without echoing any part of the secret.
        length = len(value) if isinstance(value, str) else 0
        problems.append(
            f"{org}: pagerduty_routing_key: must be a 32-character PagerDuty "
            f"integration key (got {length} characters)"
        )
        return None
    return Secret(value)


def _slack_url(value: Any, org: str, problems: list[str]) -> Secret | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        host = parts.hostname if parts is not None else None
    except ValueError:  # e.g. an unclosed "[" in the host
        parts = host = None
    ok = (
        parts is not None
        and host is not None
        and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)))
        and len(parts.path) > 1
    )
    if not ok:
        # The URL is the credential: name only its host.
        problems.append(
            f"{org}: slack_webhook_url: must be an https:// incoming-webhook URL"
            + (f" (host {host})" if host else "")
        )
        return None
    return Secret(value)
