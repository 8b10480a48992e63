"""The checklist's lines, each a pure function of what was read (no I/O here).

Every function takes values gathered by :mod:`sidecar.doctor.gather` and
returns :class:`Line` objects: ok, warn or fail, what was found, and for a
warn or fail the next step, naming the setting or the command that fixes it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sidecar.config import Config
from sidecar.errors import ConfigError, SidecarError
from sidecar.sla.errors import SeverityError
from sidecar.sla.severity import parse_severity


class Status(enum.IntEnum):
    """A line's verdict; the command's exit status is the worst one's value."""

    OK = 0
    WARN = 1
    FAIL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Line:
    """One line of the checklist."""

    section: str
    check: str
    status: Status
    detail: str
    next_step: str = ""


def ok(section: str, check: str, detail: str) -> Line:
    return Line(section, check, Status.OK, detail)


def warn(section: str, check: str, detail: str, next_step: str) -> Line:
    return Line(section, check, Status.WARN, detail, next_step)


def fail(section: str, check: str, detail: str, next_step: str) -> Line:
    return Line(section, check, Status.FAIL, detail, next_step)


def worst(lines: Iterable[Line]) -> Status:
    """The worst status among ``lines`` (OK for none)."""
    return max((line.status for line in lines), default=Status.OK)


# --- configuration -------------------------------------------------------------

CONFIG = "configuration"
KNOWN_SETTINGS = frozenset(f.metadata["env"] for f in fields(Config))
# Read by the process, not by Config (gunicorn, the test suite).
OTHER_SETTINGS = frozenset(
    {"WEB_CONCURRENCY", "WEB_THREADS", "PROMETHEUS_MULTIPROC_DIR"}
)


def check_settings(
    environ: Mapping[str, str], *, parse: Callable[[Mapping[str, str]], Config]
) -> list[Line]:
    """Parse every setting with Config's own parser: one fail line per bad one.

    ``parse`` is :meth:`Config.from_env`. Each variable set is parsed on its
    own (so every bad one is named, not only the first), then all together
    (the file named by SIDECAR_CONFIG and the rules across settings).
    """
    lines: list[Line] = []
    bad = 0
    for name in sorted(KNOWN_SETTINGS & set(environ)):
        if name == "SIDECAR_CONFIG":
            continue  # read as part of the whole, below
        try:
            parse({name: environ[name]})
        except ConfigError as exc:
            bad += 1
            lines.append(
                fail(CONFIG, name, str(exc), f"fix {name} in the service's environment")
            )
    if not bad:
        try:
            parse(environ)
        except ConfigError as exc:
            lines.append(
                fail(
                    CONFIG,
                    "settings",
                    str(exc),
                    "fix the setting named above (environment or SIDECAR_CONFIG file)",
                )
            )
    unknown = sorted(
        name
        for name in environ
        if name.startswith("SIDECAR_")
        and name not in KNOWN_SETTINGS
        and not name.startswith("SIDECAR_TEST_")
    )
    if unknown:
        lines.append(
            warn(
                CONFIG,
                "unknown settings",
                f"not read by the sidecar: {', '.join(unknown)}",
                "check their spelling against the README's Configuration table",
            )
        )
    if not lines:
        count = len((KNOWN_SETTINGS | {"SIDECAR_CONFIG"}) & set(environ))
        lines.append(ok(CONFIG, "settings", f"every setting parsed ({count} set)"))
    return lines


def check_policy(describe: Callable[[], str]) -> Line:
    """The SLA policy loads (``describe`` loads it and names it, or raises ConfigError)."""
    try:
        return ok(CONFIG, "policy", describe())
    except SidecarError as exc:
        return fail(
            CONFIG,
            "policy",
            str(exc),
            "run `sidecar policy check FILE` and fix SIDECAR_POLICY_FILE / "
            "SIDECAR_POLICY_NAME",
        )


def check_entitlements(describe: Callable[[], str]) -> Line:
    """The entitlements file validates (``describe`` loads it, or raises ConfigError)."""
    try:
        return ok(CONFIG, "entitlements", describe())
    except SidecarError as exc:
        return fail(
            CONFIG,
            "entitlements",
            str(exc),
            "fix the file (every problem is listed; `sidecar orgs check --offline` "
            "re-checks it), or SIDECAR_ENTITLEMENTS_FILE",
        )


def _options(field_def: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, tag) of a drop-down's options."""
    return [
        (str(o.get("name") or ""), str(o.get("value") or ""))
        for o in field_def.get("custom_field_options") or ()
        if isinstance(o, Mapping)
    ]


def check_plans(
    eligible: Sequence[str],
    org_fields: Sequence[Mapping[str, Any]],
    *,
    plan_field: str,
    enterprise_field: str,
) -> list[Line]:
    """SIDECAR_ORG_PLANS against the plan field's options; both organization fields exist."""
    lines: list[Line] = []
    plan = next((f for f in org_fields if f.get("key") == plan_field), None)
    if plan is None:
        lines.append(
            fail(
                CONFIG,
                "plans",
                f"Zendesk has no organization field {plan_field!r}: every organization "
                "reads as having no plan, so none is entitled",
                "run `sidecar zendesk setup --url URL`, or set SIDECAR_ORG_PLAN_FIELD "
                "to the field's key",
            )
        )
    elif plan.get("type") != "dropdown":
        lines.append(
            fail(
                CONFIG,
                "plans",
                f"organization field {plan_field!r} is a {plan.get('type')!r} field, "
                "not a drop-down",
                "point SIDECAR_ORG_PLAN_FIELD at the drop-down of support plans",
            )
        )
    else:
        tags = [tag for _, tag in _options(plan)]
        unknown = [name for name in eligible if name not in tags]
        known = [name for name in eligible if name in tags]
        shown = ", ".join(tags) or "none"
        if unknown and not known:
            lines.append(
                fail(
                    CONFIG,
                    "plans",
                    f"SIDECAR_ORG_PLANS={','.join(eligible)}: no such option of "
                    f"{plan_field!r} (its options: {shown}); no organization can be "
                    "entitled, so nothing pages",
                    "set SIDECAR_ORG_PLANS to option tags of the plan field "
                    "(default ultra,enterprise)",
                )
            )
        elif unknown:
            lines.append(
                warn(
                    CONFIG,
                    "plans",
                    f"SIDECAR_ORG_PLANS names {', '.join(unknown)}, not an option of "
                    f"{plan_field!r} (its options: {shown})",
                    "correct or remove it in SIDECAR_ORG_PLANS",
                )
            )
        else:
            lines.append(
                ok(
                    CONFIG,
                    "plans",
                    f"{', '.join(eligible)} are options of {plan_field!r}",
                )
            )
    checkbox = next((f for f in org_fields if f.get("key") == enterprise_field), None)
    if checkbox is None or checkbox.get("type") != "checkbox":
        found = "missing" if checkbox is None else f"a {checkbox.get('type')!r} field"
        lines.append(
            fail(
                CONFIG,
                "enterprise field",
                f"organization field {enterprise_field!r} is {found}, not a checkbox",
                "run `sidecar zendesk setup --url URL`, or set "
                "SIDECAR_ORG_ENTERPRISE_FIELD to the checkbox's key",
            )
        )
    else:
        lines.append(
            ok(CONFIG, "enterprise field", f"{enterprise_field!r} is a checkbox")
        )
    return lines


# --- queue -----------------------------------------------------------------------

QUEUE = "queue"
# Ready jobs older than this mean no worker is taking them.
STALE_READY_SECONDS = 300.0


@dataclass(frozen=True)
class QueueState:
    """What the queue said (``error`` set when it could not be opened or read)."""

    where: str
    error: str | None = None
    depth: int = 0
    scheduled: int = 0
    dead_letters: int = 0
    oldest_ready_age: float | None = None  # seconds, over both lanes


def check_queue(state: QueueState) -> list[Line]:
    """Reachable, the one the service uses, its depth, dead letters and oldest job."""
    if state.error is not None:
        return [
            fail(
                QUEUE,
                "reachable",
                state.error
                if state.where.split(" ", 1)[-1] in state.error
                else f"{state.where}: {state.error}",
                "run doctor where the service runs (its working directory), or set "
                "SIDECAR_QUEUE_URL to the service's queue and check it is up",
            )
        ]
    lines = [
        ok(QUEUE, "reachable", state.where),
        ok(QUEUE, "depth", f"{state.depth} ready, {state.scheduled} scheduled"),
    ]
    age = state.oldest_ready_age
    if age is None:
        lines.append(ok(QUEUE, "oldest job", "no job waiting"))
    elif age >= STALE_READY_SECONDS:
        lines.append(
            warn(
                QUEUE,
                "oldest job",
                f"ready for {_duration(age)}: no worker is taking jobs",
                "start or restart `sidecar worker` (or `sidecar serve`) on this queue",
            )
        )
    else:
        lines.append(ok(QUEUE, "oldest job", f"ready for {_duration(age)}"))
    if state.dead_letters:
        lines.append(
            warn(
                QUEUE,
                "dead letters",
                f"{state.dead_letters} job(s) exhausted their retries",
                "read them with `sidecar jobs failed`, fix the cause, then "
                "`sidecar jobs retry --all`",
            )
        )
    else:
        lines.append(ok(QUEUE, "dead letters", "none"))
    return lines


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- Zendesk ------------------------------------------------------------------------

ZENDESK = "zendesk"
CLOCK_OK_SECONDS = 5.0


def check_api_user(role: str, user_id: int, email: str) -> list[Line]:
    """The credentials work; the API user's role lets the sidecar do its work."""
    who = f"user {user_id} ({email or 'no email'}), role {role or 'unknown'}"
    if role == "admin":
        lines = [ok(ZENDESK, "credentials", who)]
    elif role == "agent":
        lines = [
            warn(
                ZENDESK,
                "credentials",
                f"{who}: tickets can be updated, but webhooks, triggers and fields "
                "need an admin (setup, doctor's checks below)",
                "make the API user an admin, or use an admin's API token",
            )
        ]
    else:
        lines = [
            fail(
                ZENDESK,
                "credentials",
                f"{who}: not an agent, so it cannot update tickets",
                "use an admin's credentials in SIDECAR_ZENDESK_EMAIL + "
                "SIDECAR_ZENDESK_API_TOKEN (or SIDECAR_ZENDESK_OAUTH_TOKEN)",
            )
        ]
    lines.append(
        ok(
            ZENDESK,
            "API user id",
            f"{user_id}: its own comments never count as a first response",
        )
    )
    return lines


def check_clock(skew_seconds: float | None, *, tolerance_seconds: int) -> Line:
    """Our clock against Zendesk's Date header (signatures carry Zendesk's time)."""
    if skew_seconds is None:
        return warn(
            ZENDESK,
            "clock",
            "Zendesk's answer had no readable Date header",
            "check for a proxy between the sidecar and Zendesk (SIDECAR_ZENDESK_URL)",
        )
    direction = "ahead of" if skew_seconds > 0 else "behind"
    detail = f"ours is {abs(skew_seconds):.0f} s {direction} Zendesk's"
    if abs(skew_seconds) <= CLOCK_OK_SECONDS:
        return ok(ZENDESK, "clock", detail)
    if abs(skew_seconds) < tolerance_seconds:
        return warn(
            ZENDESK,
            "clock",
            f"{detail}; webhooks are refused once it reaches "
            f"SIDECAR_WEBHOOK_TOLERANCE ({tolerance_seconds} s)",
            "synchronise this machine's clock (NTP)",
        )
    return fail(
        ZENDESK,
        "clock",
        f"{detail}: beyond SIDECAR_WEBHOOK_TOLERANCE ({tolerance_seconds} s), every "
        "webhook is refused as stale (401)",
        "synchronise this machine's clock (NTP)",
    )


@dataclass(frozen=True)
class FieldWant:
    """A ticket field the config names, and the type it must have."""

    env: str
    field_id: int | None
    type: str
    required: bool


TYPE_NAMES = {
    "tagger": "drop-down",
    "text": "text",
    "date": "date",
    "integer": "number (integer)",
}


def fields_wanted(config: Config) -> list[FieldWant]:
    """The ticket fields the config names, with the type each must have."""
    return [
        FieldWant(
            "SIDECAR_SEVERITY_FIELD_ID", config.severity_field_id, "tagger", True
        ),
        FieldWant("SIDECAR_DUE_AT_FIELD_ID", config.due_at_field_id, "text", True),
        FieldWant("SIDECAR_DUE_DATE_FIELD_ID", config.due_date_field_id, "date", False),
        FieldWant(
            "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
            config.first_response_at_field_id,
            "text",
            False,
        ),
        FieldWant(
            "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
            config.first_response_date_field_id,
            "date",
            False,
        ),
        FieldWant(
            "SIDECAR_BREACH_MINUTES_FIELD_ID",
            config.breach_minutes_field_id,
            "integer",
            False,
        ),
    ]


def check_fields(
    wanted: Sequence[FieldWant], ticket_fields: Sequence[Mapping[str, Any]]
) -> list[Line]:
    """Each configured ticket field exists, is active and has the expected type."""
    lines = []
    by_id = {f.get("id"): f for f in ticket_fields}
    setup = "run `sidecar zendesk setup --url URL` (it prints the ids)"
    for want in wanted:
        kind = TYPE_NAMES[want.type]
        if want.field_id is None:
            if want.required:
                lines.append(
                    fail(
                        ZENDESK,
                        want.env,
                        "not set: no SLA can be computed without it",
                        f"{setup}, or set {want.env} to the {kind} field's id",
                    )
                )
            else:
                lines.append(ok(ZENDESK, want.env, "not set (optional)"))
            continue
        found = by_id.get(want.field_id)
        if found is None:
            lines.append(
                fail(
                    ZENDESK,
                    want.env,
                    f"Zendesk has no ticket field {want.field_id}",
                    f"set {want.env} to the id of the {kind} field, or {setup}",
                )
            )
        elif found.get("type") != want.type:
            lines.append(
                fail(
                    ZENDESK,
                    want.env,
                    f"field {want.field_id} ({found.get('title')!r}) is a "
                    f"{TYPE_NAMES.get(str(found.get('type')), found.get('type'))!r} "
                    f"field, not a {kind} field",
                    f"set {want.env} to a {kind} field's id (a field's type cannot "
                    "be changed in Zendesk)",
                )
            )
        elif found.get("active") is False:
            lines.append(
                fail(
                    ZENDESK,
                    want.env,
                    f"field {want.field_id} ({found.get('title')!r}) is inactive",
                    "activate it in Admin Center (Objects and rules > Tickets > Fields)",
                )
            )
        else:
            lines.append(
                ok(ZENDESK, want.env, f"{want.field_id} {found.get('title')!r}, {kind}")
            )
    return lines


def check_severity_options(
    field_id: int | None, ticket_fields: Sequence[Mapping[str, Any]]
) -> Line | None:
    """Each option tag of the severity field maps to SEV 1-5 (the reconciler's parser)."""
    found = next((f for f in ticket_fields if f.get("id") == field_id), None)
    if found is None or found.get("type") != "tagger":
        return None  # reported by check_fields
    unmapped, mapped = [], set()
    for name, tag in _options(found):
        try:
            severity = parse_severity(tag)
        except SeverityError:
            severity = None
        if severity is None:
            unmapped.append(f"{name!r} (tag {tag!r})")
        else:
            mapped.add(severity)
    check = "severity options"
    if unmapped:
        return fail(
            ZENDESK,
            check,
            f"{', '.join(unmapped)} maps to no SEV 1-5: tickets with it get no SLA",
            "give each option a tag such as sev_1 ... sev_5 (Admin Center > Fields > "
            "Issue Severity)",
        )
    missing = sorted(set(range(1, 6)) - mapped)
    if missing:
        return warn(
            ZENDESK,
            check,
            f"no option for SEV {', '.join(map(str, missing))}",
            "add the missing options (tags sev_1 ... sev_5) to the Issue Severity field",
        )
    return ok(ZENDESK, check, "every option maps to SEV 1-5")


def check_slack_severity_tags(
    tags: Sequence[str],
    field_id: int | None,
    ticket_fields: Sequence[Mapping[str, Any]],
) -> Line | None:
    """The tags Slack tickets get (SIDECAR_SLACK_SEVERITY_TAGS) are options of the field."""
    found = next((f for f in ticket_fields if f.get("id") == field_id), None)
    if found is None or found.get("type") != "tagger":
        return None  # reported by check_fields
    options = {tag for _, tag in _options(found)}
    unknown = [tag for tag in tags if tag not in options]
    if unknown:
        return fail(
            ZENDESK,
            "Slack severity tags",
            f"{', '.join(unknown)} are no option of field {field_id}: tickets opened "
            "from Slack would carry no severity, so no SLA",
            "set SIDECAR_SLACK_SEVERITY_TAGS to the field's option tags for SEV 1 to 5",
        )
    return ok(ZENDESK, "Slack severity tags", "each is an option of the severity field")


@dataclass(frozen=True)
class HookState:
    """One of the sidecar's webhooks, and whether its secret is one we hold."""

    id: str
    name: str
    status: str
    endpoint: str
    secret_known: bool | None  # None: the secret could not be read


def check_webhooks(
    hooks: Sequence[HookState], *, url: str | None, secrets_set: bool
) -> list[Line]:
    """The sidecar's webhooks are active, point at the URL and sign with a known secret."""
    repair = f"`sidecar zendesk setup --url {url or 'URL'} --repair`"
    if not hooks:
        return [
            fail(
                ZENDESK,
                "webhook",
                "no webhook points at the sidecar (none named 'Sidecar: ...' or "
                "ending in /webhooks/zendesk)",
                f"run `sidecar zendesk setup --url {url or 'URL'}`",
            )
        ]
    lines = []
    for hook in hooks:
        check = f"webhook {hook.name!r}"
        if hook.status != "active":
            lines.append(
                fail(
                    ZENDESK,
                    check,
                    f"{hook.id} is {hook.status!r}: Zendesk sends nothing",
                    f"activate it (Admin Center > Apps and integrations > Webhooks) or {repair}",
                )
            )
        elif url is not None and hook.endpoint != url:
            lines.append(
                fail(
                    ZENDESK,
                    check,
                    f"{hook.id} points at {hook.endpoint}, not {url}",
                    repair,
                )
            )
        else:
            where = (
                hook.endpoint
                if url is not None
                else f"{hook.endpoint} (--url not given)"
            )
            lines.append(ok(ZENDESK, check, f"{hook.id} active, {where}"))
        secret_check = f"{check} secret"
        if hook.secret_known is None:
            lines.append(
                warn(
                    ZENDESK,
                    secret_check,
                    "could not read its signing secret",
                    "check the API user is an admin",
                )
            )
        elif not secrets_set:
            lines.append(
                fail(
                    ZENDESK,
                    secret_check,
                    "SIDECAR_WEBHOOK_SECRET is not set: every delivery is refused (401)",
                    "set SIDECAR_WEBHOOK_SECRET to the webhook's signing secret "
                    "(Admin Center > Webhooks > Reveal secret)",
                )
            )
        elif not hook.secret_known:
            lines.append(
                fail(
                    ZENDESK,
                    secret_check,
                    "its signing secret is not among SIDECAR_WEBHOOK_SECRET's: "
                    "every delivery is refused (401)",
                    "add the webhook's signing secret to SIDECAR_WEBHOOK_SECRET "
                    "(comma-separated; Admin Center > Webhooks > Reveal secret)",
                )
            )
        else:
            lines.append(ok(ZENDESK, secret_check, "among SIDECAR_WEBHOOK_SECRET's"))
    return lines


def check_trigger(
    triggers: Sequence[Mapping[str, Any]], *, hook_ids: Sequence[str], url: str | None
) -> Line:
    """An active trigger notifies one of the sidecar's webhooks."""
    calling = [
        t
        for t in triggers
        if any(
            isinstance(a, Mapping)
            and a.get("field") == "notification_webhook"
            and isinstance(a.get("value"), list)
            and a["value"]
            and str(a["value"][0]) in hook_ids
            for a in t.get("actions") or ()
        )
    ]
    active = [t for t in calling if t.get("active") is not False]
    if active:
        names = ", ".join(f"{t.get('id')} {t.get('title')!r}" for t in active)
        return ok(ZENDESK, "trigger", f"active: {names}")
    if calling:
        names = ", ".join(f"{t.get('id')} {t.get('title')!r}" for t in calling)
        return fail(
            ZENDESK,
            "trigger",
            f"inactive: {names}; ticket changes reach the sidecar only through "
            "the minute sweep",
            "activate it (Admin Center > Objects and rules > Triggers) or "
            f"`sidecar zendesk setup --url {url or 'URL'} --repair`",
        )
    return fail(
        ZENDESK,
        "trigger",
        "no trigger notifies the sidecar's webhook",
        f"run `sidecar zendesk setup --url {url or 'URL'}`",
    )


def check_budget(
    headroom: Mapping[str, tuple[float, float, float]],
    *,
    share: int,
    low_water: float,
    calls: int,
) -> Line:
    """How much of the account's rate limit is left now (Zendesk's headers)."""
    account = headroom.get("requests")
    spent = f"doctor made {calls} Zendesk call(s)"
    if account is None:
        return warn(
            ZENDESK,
            "budget",
            f"no rate-limit headers in Zendesk's answers; {spent}",
            "check for a proxy that strips headers (SIDECAR_ZENDESK_URL)",
        )
    remaining, limit, reset = account
    detail = (
        f"{remaining:.0f} of {limit:.0f} requests left this minute (resets in "
        f"{reset:.0f} s); our share SIDECAR_ZENDESK_BUDGET_REQUESTS={share}; {spent}"
    )
    if remaining <= limit * low_water:
        return warn(
            ZENDESK,
            "budget",
            detail,
            "ordinary work waits for the reset; find who spends the account's "
            "limit (`sidecar budget`, /metrics sidecar_zendesk_calls_total)",
        )
    return ok(ZENDESK, "budget", detail)


# --- PagerDuty ------------------------------------------------------------------------

PAGERDUTY = "pagerduty"


@dataclass(frozen=True)
class OrgKeys:
    """An organization of the entitlements file that may be entitled, and its own key."""

    label: str
    has_own_key: bool


def check_pagerduty(
    *, default_key_length: int | None, default_key_ok: bool, orgs: Sequence[OrgKeys]
) -> list[Line]:
    """Routing keys are well formed and every entitled organization resolves one."""
    if default_key_length is None and not orgs:
        return [
            warn(
                PAGERDUTY,
                "routing keys",
                "skipped: not configured: SEV 1/2 of entitled organizations page no one",
                "set SIDECAR_PAGERDUTY_ROUTING_KEY (an Events API v2 integration key)",
            )
        ]
    lines = []
    if default_key_length is not None and not default_key_ok:
        lines.append(
            fail(
                PAGERDUTY,
                "SIDECAR_PAGERDUTY_ROUTING_KEY",
                f"not a 32-character integration key (got {default_key_length} "
                "characters): every page is refused",
                "copy the Integration Key of the service's Events API v2 integration "
                "into SIDECAR_PAGERDUTY_ROUTING_KEY",
            )
        )
    elif default_key_length is not None:
        lines.append(ok(PAGERDUTY, "SIDECAR_PAGERDUTY_ROUTING_KEY", "32 characters"))
    unresolved = [
        o.label for o in orgs if not o.has_own_key and default_key_length is None
    ]
    if unresolved:
        lines.append(
            fail(
                PAGERDUTY,
                "entitled organizations",
                f"no routing key for {', '.join(unresolved)}: their SEV 1/2 pages "
                "are dead letters",
                "set SIDECAR_PAGERDUTY_ROUTING_KEY, or the organization's "
                "pagerduty_routing_key in the entitlements file",
            )
        )
    elif orgs:
        own = sum(o.has_own_key for o in orgs)
        lines.append(
            ok(
                PAGERDUTY,
                "entitled organizations",
                f"{len(orgs)} in the entitlements file, each resolves a key "
                f"({own} their own)",
            )
        )
    return lines


# --- Slack ---------------------------------------------------------------------------------

SLACK = "slack"
# The bot scopes of deploy/slack-manifest.yaml.
APP_SCOPES = (
    "chat:write",
    "commands",
    "reactions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
)


def check_slack_identity(
    *, user_id: str, team: str, scopes: frozenset[str] | None
) -> list[Line]:
    """The token works; it holds the scopes the app needs."""
    lines = [ok(SLACK, "token", f"bot {user_id} in {team or 'the workspace'}")]
    if scopes is None:
        lines.append(
            warn(
                SLACK,
                "scopes",
                "Slack did not say the token's scopes (no x-oauth-scopes header)",
                "compare OAuth & Permissions > Bot Token Scopes with "
                "deploy/slack-manifest.yaml",
            )
        )
        return lines
    missing = [s for s in APP_SCOPES if s not in scopes]
    if missing:
        lines.append(
            fail(
                SLACK,
                "scopes",
                f"the token lacks {', '.join(missing)}",
                "add them under OAuth & Permissions > Bot Token Scopes (or paste "
                "deploy/slack-manifest.yaml), reinstall the app, and update "
                "SIDECAR_SLACK_BOT_TOKEN if it changed",
            )
        )
    else:
        lines.append(ok(SLACK, "scopes", "every scope the app needs"))
    return lines


@dataclass(frozen=True)
class ChannelState:
    """A mapped channel: is the bot in it? (``error``: Slack's error code instead)."""

    channel: str
    org: str
    member: bool = False
    error: str | None = None


def check_channels(channels: Sequence[ChannelState]) -> list[Line]:
    """The bot is a member of every channel the entitlements file maps."""
    lines = []
    for state in channels:
        check = f"channel {state.channel}"
        if state.error == "missing_scope":
            lines.append(
                warn(
                    SLACK,
                    check,
                    f"({state.org}) not checked: the token lacks channels:read / "
                    "groups:read",
                    "add both scopes to the app (deploy/slack-manifest.yaml) and reinstall",
                )
            )
        elif state.error is not None:
            lines.append(
                fail(
                    SLACK,
                    check,
                    f"({state.org}) {state.error}: the channel does not exist or is "
                    "private without the bot",
                    f"check slack_channel of {state.org} in the entitlements file, "
                    "and /invite the app there",
                )
            )
        elif not state.member:
            lines.append(
                fail(
                    SLACK,
                    check,
                    f"({state.org}) the bot is not a member: no 🎫 events from it, "
                    "and notices there fail",
                    "type `/invite @<the app>` in the channel",
                )
            )
        else:
            lines.append(ok(SLACK, check, f"({state.org}) the bot is a member"))
    return lines


@dataclass
class Report:
    """Every line, and the calls the checks made."""

    lines: list[Line] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return worst(self.lines)
