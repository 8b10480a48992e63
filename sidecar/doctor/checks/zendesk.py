"""Zendesk: identity, clock, fields, severity options, webhooks, trigger, headroom."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.config import Config
from sidecar.doctor.checks.lines import Line, fail, ok, options_of, warn
from sidecar.sla.errors import SeverityError
from sidecar.sla.severity import parse_severity

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
    field_id: int | None,
    ticket_fields: Sequence[Mapping[str, Any]],
    *,
    slack_enabled: bool = False,
) -> Line | None:
    """Each option tag of the severity field maps to SEV 1-5 (the reconciler's parser).

    With the Slack app on, a severity without an option is a failure: Slack
    tickets are created with the account's own tag, and the worker refuses to
    start without one for every severity.
    """
    found = next((f for f in ticket_fields if f.get("id") == field_id), None)
    if found is None or found.get("type") != "tagger":
        return None  # reported by check_fields
    unmapped, mapped = [], set()
    for name, tag in options_of(found):
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
        return (fail if slack_enabled else warn)(
            ZENDESK,
            check,
            f"no option for SEV {', '.join(map(str, missing))}",
            "add the missing options (tags sev_1 ... sev_5) to the Issue Severity field",
        )
    return ok(ZENDESK, check, "every option maps to SEV 1-5")


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
    headroom: Mapping[str, tuple[float, float, float | None]],
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
    resets = f"resets in {reset:.0f} s" if reset is not None else "no reset given"
    detail = (
        f"{remaining:.0f} of {limit:.0f} requests left this minute ({resets}); "
        f"our share SIDECAR_ZENDESK_BUDGET_REQUESTS={share}; {spent}"
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
