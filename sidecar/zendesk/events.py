"""Parse both kinds of Zendesk webhook body into one normalized event (pure).

(a) Event-subscribed webhooks carry Zendesk's fixed envelope
    ``{"type": "zen:event-type:ticket.status_changed", "id": "<uuid>",
    "subject": "zen:ticket:123", "detail": {...}, "event": {...}}`` with string ids
    and UPPERCASE statuses; ``organization.*`` events name ``zen:organization:<id>``.
(b) Trigger-connected webhooks carry the body we define (see TRIGGER_BODY) with
    placeholders that Zendesk renders as text, possibly empty.

A webhook is only a hint that a ticket may have changed (README, "How it works"), so the
event carries ids, never ticket state.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sidecar.errors import BadEvent
from sidecar.sla.errors import SeverityError
from sidecar.sla.severity import parse_severity

INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
# Which webhook sent the delivery ("Anatomy of a webhook request", request headers).
WEBHOOK_ID_HEADER = "X-Zendesk-Webhook-Id"
EVENT_PREFIX = "zen:event-type:"
TICKET_EVENT_PREFIX = EVENT_PREFIX + "ticket."
ORG_EVENT_PREFIX = EVENT_PREFIX + "organization."

# The body of the trigger-connected webhook the product expects (README, `setup`).
# Zendesk renders placeholders unescaped; these ones are digits or ISO text.
TRIGGER_BODY = (
    '{"ticket_id": "{{ticket.id}}", "event": "ticket.changed", '
    '"updated_at": "{{ticket.updated_at_with_timestamp}}", '
    '"organization_id": "{{ticket.organization.id}}"}'
)
# A rendered trigger body that is not JSON (a placeholder rendered a quote) still
# names its ticket: it is signed, and ``ticket_id`` comes first and is digits.
_TICKET_ID_PREFIX = re.compile(rb'\A\s*\{\s*"ticket_id"\s*:\s*"([0-9]{1,19})"')


def trigger_body(severity_field_id: int | str | None = None) -> str:
    """The trigger's webhook body; with the severity field, the severity as a lane hint.

    ``{{ticket.ticket_field_<id>}}`` renders a dropdown's option tag (e.g.
    ``sev_1``), so the receiver can put a SEV 1/2 ticket's reconcile in the
    urgent lane before anything is read (docs/decisions.md, "Urgent before the
    read"). It comes last: whatever it renders, the fields before it parse.
    """
    if severity_field_id is None:
        return TRIGGER_BODY
    field = int(severity_field_id)
    return TRIGGER_BODY[:-1] + f', "severity": "{{{{ticket.ticket_field_{field}}}}}"}}'


# Ticket events that cannot change SLA state (severity, first agent reply,
# organization, status, deletion). Everything else is reconciled: reconcile is
# idempotent, so acting on a harmless event only costs one API read.
IGNORED_TICKET_EVENTS = frozenset(
    {
        "attachment_linked_to_comment",
        "attachment_redacted_from_comment",
        "csat_received",
        "csat_requested",
        "description_changed",
        "external_id_changed",
        "subject_changed",
    }
)

Kind = Literal["ticket", "organization", "ignored"]
_MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_STAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?Z"
)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One webhook delivery, normalized: what to reconcile and how to dedup it.

    ``kind`` is "ticket" (reconcile ``ticket_id``), "organization" (invalidate the
    cached organization ``organization_id``) or "ignored". ``event_id`` is the
    payload's event id, else the invocation id header, else None (no dedup).
    """

    kind: Kind
    ticket_id: int | None
    event_id: str | None
    event_type: str
    organization_id: int | None = None
    # Who made the change (event payloads' ``detail.actor_id``) and the ticket's
    # ``updated_at`` as the webhook rendered it: hints that let the worker skip
    # a change it provably knows (sidecar.tasks.memo), never ticket state.
    actor_id: int | None = None
    version: str | None = None
    # The Issue Severity the trigger body rendered (1..5), else None: it only
    # picks the lane the reconcile waits in; the reconcile reads the ticket.
    severity: int | None = None


def replay_key(body: bytes, *, timestamp: str) -> str:
    """The dedup key of what the signature covers: timestamp + body.

    The invocation id header is not signed, so a captured request resent with a
    new one would pass as a new delivery; this key cannot be changed without
    breaking the signature. A genuine new delivery of the same body carries a
    new signature timestamp, hence a new key.
    """
    digest = hashlib.sha256(timestamp.encode() + b"\n" + body).hexdigest()
    return f"signed:{digest}"


def parse_event(body: bytes, *, invocation_id: str | None = None) -> WebhookEvent:
    """Parse a (verified) webhook body, or raise BadEvent naming the problem.

    ``invocation_id``: the delivery's ``X-Zendesk-Webhook-Invocation-Id``
    header, the dedup id of a body that carries none of its own.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        named = _TICKET_ID_PREFIX.match(body)
        if named is not None and (ticket_id := _id(named.group(1).decode())):
            # Our trigger body, broken by what a placeholder rendered: reconcile
            # the ticket without hints rather than lose the change.
            return WebhookEvent(
                "ticket", ticket_id, _text(invocation_id),
                "trigger:unparsed",
            )  # fmt: skip
        raise BadEvent("body is not valid JSON", status=400) from None
    except RecursionError:
        raise BadEvent("body is nested too deeply", status=400) from None
    if not isinstance(data, dict):
        raise BadEvent("body is not a JSON object", status=400)
    invocation_id = _text(invocation_id)
    event_type = data.get("type")
    if isinstance(event_type, str) and event_type.startswith(EVENT_PREFIX):
        return _from_subscription(data, event_type, invocation_id)
    if "ticket_id" in data:
        return _from_trigger(data, invocation_id)
    raise BadEvent("no ticket_id and no Zendesk event type", status=422)


def _from_subscription(
    data: dict[str, Any], event_type: str, invocation_id: str | None
) -> WebhookEvent:
    # The payload id is the event's own id: stable across redeliveries (§1.7).
    event_id = _text(data.get("id")) or invocation_id
    detail = data.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    if event_type.startswith(TICKET_EVENT_PREFIX):
        name = event_type.removeprefix(TICKET_EVENT_PREFIX)
        if name in IGNORED_TICKET_EVENTS:
            return WebhookEvent("ignored", None, event_id, event_type)
        ticket_id = _subject_id(data.get("subject"), "zen:ticket:")
        if ticket_id is None:
            ticket_id = _id(detail.get("id"))
        if ticket_id is None:
            raise BadEvent("ticket event without a ticket id", status=422)
        org_id = _id(detail.get("organization_id"))
        return WebhookEvent(
            "ticket",
            ticket_id,
            event_id,
            event_type,
            org_id,
            actor_id=_id(detail.get("actor_id")),
            version=_stamp(detail.get("updated_at")),
        )
    if event_type.startswith(ORG_EVENT_PREFIX):
        org_id = _subject_id(data.get("subject"), "zen:organization:")
        if org_id is None:
            org_id = _id(detail.get("id"))
        if org_id is None:
            raise BadEvent("organization event without an organization id", status=422)
        return WebhookEvent("organization", None, event_id, event_type, org_id)
    return WebhookEvent("ignored", None, event_id, event_type)


def _from_trigger(data: dict[str, Any], invocation_id: str | None) -> WebhookEvent:
    raw = data["ticket_id"]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise BadEvent("ticket_id is empty", status=422)
    ticket_id = _id(raw)
    if ticket_id is None:
        raise BadEvent("ticket_id is not a positive integer", status=422)
    label = _text(data.get("event")) or "ticket.changed"
    event_type = "trigger:" + label[:100]
    # Trigger bodies have no event id; the invocation id is the only dedup key.
    # (ticket id + updated_at is minute-precise and would hide real updates.)
    return WebhookEvent(
        "ticket",
        ticket_id,
        invocation_id,
        event_type,
        _id(data.get("organization_id")),
        version=_stamp(data.get("updated_at")),
        severity=_severity(data.get("severity")),
    )


def _severity(value: object) -> int | None:
    """The rendered severity as 1..5; None when empty or not a severity."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        return parse_severity(value)
    except SeverityError:
        return None


def _stamp(value: object) -> str | None:
    """An ISO 8601 UTC stamp as rendered (``2026-11-27T15:04Z`` or with seconds), else None."""
    if isinstance(value, str) and _STAMP.fullmatch(value.strip()):
        return value.strip()
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:200]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _id(value: object) -> int | None:
    """Return a positive integer id from an int or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= _MAX_ID else None


def _subject_id(subject: object, prefix: str) -> int | None:
    if isinstance(subject, str) and subject.startswith(prefix):
        return _id(subject.removeprefix(prefix))
    return None
