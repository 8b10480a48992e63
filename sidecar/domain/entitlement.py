"""The entitlements file and the decision made from it, as plain frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

# The plan names live with the configuration, which checks SIDECAR_ORG_PLANS against them.
from sidecar.config import ENTERPRISE_SUPPORT_PLANS as ENTERPRISE_SUPPORT_PLANS
from sidecar.config import PLANS as PLANS
from sidecar.config import Secret
from sidecar.errors import ConfigError
from sidecar.sla.policy import Policy


class EntitlementsError(ConfigError):
    """The entitlements file is invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[str], *, path: str | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        count = len(self.problems)
        super().__init__(
            f"{where}{count} problem{'s' if count != 1 else ''} in the entitlements "
            "file:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


@dataclass(frozen=True)
class OrgEntitlement:
    """One ``[orgs."..."]`` table: what the contract says about one organization.

    ``None`` means "not set in the file": the Zendesk organization field decides.
    """

    key: str  # as written: "360001234567" or "ext:acme-corp"
    org_id: int | None = None
    external_id: str | None = None
    plan: str | None = None
    enterprise_support: bool | None = None
    starts: date | None = None
    ends: date | None = None  # inclusive: the add-on ends after this date
    sla_overrides: Mapping[int, timedelta] = field(
        default_factory=dict
    )  # sev -> first-response target
    # sev -> {metric: target} for the metrics beyond the first response
    # (next_reply, periodic_update, resolution): `sev2 = { next_reply = "2h" }`.
    metric_overrides: Mapping[int, Mapping[str, timedelta]] = field(
        default_factory=dict
    )
    pagerduty_routing_key: Secret | None = None
    slack_webhook_url: Secret | None = None
    csm_user_id: int | None = None
    # The Slack app (sidecar/slack): the customer's shared channel id, and who
    # requests a ticket when Slack does not share the reacting person's email.
    slack_channel: str | None = None
    default_requester_email: str | None = None

    @property
    def label(self) -> str:
        """Name the entry the way the file does (for messages)."""
        return f"org {self.key}"


@dataclass(frozen=True)
class EntitlementsFile:
    """A validated entitlements file (empty when there is none)."""

    path: str | None = None
    orgs: tuple[OrgEntitlement, ...] = ()
    # Each ``env:VARIABLE`` reference as (org key, field, variable), in file order.
    references: tuple[tuple[str, str, str], ...] = ()
    _by_id: Mapping[int, OrgEntitlement] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_external: Mapping[str, OrgEntitlement] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_channel: Mapping[str, OrgEntitlement] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_channel = {e.slack_channel: e for e in self.orgs if e.slack_channel}
        object.__setattr__(self, "_by_channel", MappingProxyType(by_channel))
        by_id = {e.org_id: e for e in self.orgs if e.org_id is not None}
        by_ext = {
            e.external_id.casefold(): e for e in self.orgs if e.external_id is not None
        }
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_by_external", MappingProxyType(by_ext))

    def lookup(
        self, *, org_id: int | None = None, external_id: str | None = None
    ) -> OrgEntitlement | None:
        """Find an org's entry: by organization id first, then by external id."""
        # Zendesk compares external ids case-insensitively, so do we.
        if org_id is not None and org_id in self._by_id:
            return self._by_id[org_id]
        if external_id:
            return self._by_external.get(external_id.casefold())
        return None

    def for_channel(self, channel: str) -> OrgEntitlement | None:
        """The organization whose shared Slack channel this is, if any."""
        return self._by_channel.get(channel)


@dataclass(frozen=True)
class Entitlement:
    """Whether an organization holds Enterprise Support now, and why.

    ``source`` names what decided: "zendesk" (the organization fields), "file"
    (the entitlements file), "file+zendesk" (both contributed) or "none" (no
    organization). The per-org extras (enhanced SLAs, Slack, CSM) are filled
    only when ``entitled``: they are part of the add-on. ``routing_key`` is
    always the org's own when it has one, so a page is resolved where it opened.
    ``problem`` is set when Zendesk holds a bad value an admin should fix (the
    caller logs it); the org is then not entitled. ``reason`` is a whole
    verdict, starting "entitled: " or "not entitled: ": print it as it is.
    """

    entitled: bool
    reason: str
    source: str
    plan: str | None = None
    org_id: int | None = None
    plan_source: str | None = None
    enterprise_support_source: str | None = None
    # The add-on's checkbox as decided (file over Zendesk), whatever the plan.
    enterprise_support: bool = False
    sla_overrides: Mapping[int, timedelta] = field(default_factory=dict)
    metric_overrides: Mapping[int, Mapping[str, timedelta]] = field(
        default_factory=dict
    )
    routing_key: Secret | None = None
    slack_webhook_url: Secret | None = None
    csm_user_id: int | None = None
    problem: str | None = None


def add_on_in_force(entry: OrgEntitlement | None, day: date) -> bool:
    """Whether the file's dates (``starts``/``ends``, inclusive) cover ``day``.

    An entry without dates, or no entry, bounds nothing. This is the one rule
    both the live decision (``today``) and the report (a ticket's creation day)
    apply.
    """
    if entry is None:
        return True
    if entry.starts is not None and day < entry.starts:
        return False
    return not (entry.ends is not None and day > entry.ends)


def applicable_overrides(
    policy: Policy,
    sla_overrides: Mapping[int, timedelta],
    metric_overrides: Mapping[int, Mapping[str, timedelta]],
) -> dict[int, dict[str, timedelta]]:
    """The enhanced targets ``policy.with_overrides`` can apply, by severity and metric.

    An enhanced SLA shortens a target the policy has; one for a metric the
    policy does not set for that severity cannot create it (there is no
    schedule to keep) and is left out here (``orgs check`` warns about it).
    """
    found: dict[int, dict[str, timedelta]] = {}
    for severity in sorted({*sla_overrides, *metric_overrides}):
        known = policy.metric_targets(severity)
        named = dict(metric_overrides.get(severity, {}))
        if severity in sla_overrides:
            named["first_response"] = sla_overrides[severity]
        usable = {m: d for m, d in named.items() if m in known}
        if usable:
            found[severity] = usable
    return found


def enhanced_policy(
    policy: Policy,
    sla_overrides: Mapping[int, timedelta],
    metric_overrides: Mapping[int, Mapping[str, timedelta]],
) -> Policy:
    """The policy with an organization's enhanced targets applied (itself if none)."""
    overrides: dict[object, Mapping[str, timedelta]] = {
        severity: named
        for severity, named in applicable_overrides(
            policy, sla_overrides, metric_overrides
        ).items()
    }
    return policy.with_overrides(overrides) if overrides else policy
