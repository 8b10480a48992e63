"""PagerDuty V3 webhooks in: verify the signature, read the event, find its ticket (pure).

What PagerDuty sends (developer-docs, "Webhooks" > "Overview" and "Verifying
Signatures", github.com/PagerDuty/developer-docs docs/webhooks/01-Overview.md
and 04-Signatures.md; docs/decisions.md "PagerDuty acknowledgements back on
the ticket"):

- one event per request (Behavior page, "Batching": "V3 webhook payloads will
  only ever contain a single webhook event by design"): ``{"event": {"id",
  "event_type", "resource_type", "occurred_at", "agent", "client", "data"}}``;
- ``X-PagerDuty-Signature``: ``v1=<hex HMAC-SHA256 of the raw body>``, one per
  signing secret, comma-separated (several during a secret rotation); at least
  one must match, compared in constant time;
- ``data`` is the incident for incident.acknowledged/unacknowledged/reassigned/
  escalated/resolved/triggered (with ``incident_key``, the dedup key of the
  Events API trigger that opened it), and an ``incident_note`` for
  incident.annotated (``content`` and an ``incident`` reference: no key).

No timestamp is signed, so a captured delivery could be replayed for ever: the
receiver refuses events whose ``occurred_at`` is older than its window
(PagerDuty retries a failed delivery over about 20 minutes), and claims each
``event.id`` for longer than that window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime

from sidecar.domain.oncall import (
    ACKNOWLEDGED,
    ANNOTATED,
    ESCALATED,
    REASSIGNED,
    RESOLVED,
    TRIGGERED,
    UNACKNOWLEDGED,
    IncidentEvent,
)
from sidecar.errors import BadEvent, InvalidSignature
from sidecar.oncall.pagerduty import dedup_key

SIGNATURE_HEADER = "X-PagerDuty-Signature"
SIGNATURE_VERSION = "v1"
# The events the sidecar acts on; incident.triggered only teaches it which
# incident id belongs to which ticket (an annotation names the id, not the key).
EVENT_TYPES = (
    TRIGGERED,
    ACKNOWLEDGED,
    UNACKNOWLEDGED,
    REASSIGNED,
    ESCALATED,
    ANNOTATED,
    RESOLVED,
)
# A note's content is quoted into a Zendesk comment: bounded.
MAX_NOTE_CHARS = 4000


def sign(body: bytes, *, secret: str) -> str:
    """Return one ``v1=<hex>`` signature as PagerDuty computes it for ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(body: bytes, *, header: str | None, secrets: Sequence[str]) -> None:
    """Verify ``X-PagerDuty-Signature`` on the raw body, or raise InvalidSignature.

    Fails closed: no secret configured, no header, no ``v1`` signature, or none
    matching any secret all raise. Every (signature, secret) pair is compared,
    so the time taken tells nothing about which one matched.
    """
    keys = [s for s in secrets if s]
    if not keys:
        raise InvalidSignature(
            "no PagerDuty webhook secret configured (SIDECAR_PAGERDUTY_WEBHOOK_SECRET)"
        )
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    # Header values reach us latin-1 decoded (WSGI); encoding back cannot fail.
    given = [
        part.strip().encode("latin-1", errors="replace")
        for part in header.split(",")
        if part.strip().startswith(f"{SIGNATURE_VERSION}=")
    ]
    if not given:
        raise InvalidSignature(f"{SIGNATURE_HEADER} carries no v1 signature")
    expected = [sign(body, secret=key).encode("ascii") for key in keys]
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]
    if not any(matches):
        raise InvalidSignature("signature does not match")


def parse_instant(value: str) -> datetime:
    """Parse PagerDuty's ISO 8601 instant ("2020-10-02T18:45:22.169Z"); BadEvent if not one."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise BadEvent(f"event.occurred_at is not ISO 8601: {value!r}"[:200]) from None
    if parsed.tzinfo is None:
        raise BadEvent("event.occurred_at has no UTC offset")
    return parsed


def parse(body: bytes) -> IncidentEvent | None:
    """Read a verified webhook body; None for an event type the sidecar does not act on.

    Raises BadEvent (400) for a body that is not a V3 webhook event.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("body is not JSON") from None
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise BadEvent("body has no 'event' object (not a V3 webhook)")
    event_id, event_type = event.get("id"), event.get("event_type")
    if not isinstance(event_id, str) or not event_id:
        raise BadEvent("event.id is missing")
    if not isinstance(event_type, str) or not event_type:
        raise BadEvent("event.event_type is missing")
    occurred_at = event.get("occurred_at")
    if not isinstance(occurred_at, str):
        raise BadEvent("event.occurred_at is missing")
    parse_instant(occurred_at)
    if event_type not in EVENT_TYPES:
        return None
    data = event.get("data")
    if not isinstance(data, dict):
        raise BadEvent("event.data is missing")
    agent = _name(event.get("agent"))
    if event_type == ANNOTATED:
        incident = data.get("incident")
        if not isinstance(incident, dict) or not isinstance(incident.get("id"), str):
            raise BadEvent("incident_note without its incident")
        content = data.get("content")
        return IncidentEvent(
            event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            agent=agent,
            incident_id=incident["id"],
            incident_url=_text(incident.get("html_url")),
            title=_text(incident.get("summary")),
            note=str(content)[:MAX_NOTE_CHARS] if content is not None else "",
        )
    if not isinstance(data.get("id"), str):
        raise BadEvent("event.data is not an incident (no id)")
    number = data.get("number")
    return IncidentEvent(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        agent=agent,
        incident_id=data["id"],
        incident_number=number if isinstance(number, int) else None,
        incident_url=_text(data.get("html_url")),
        incident_key=_text(data.get("incident_key")),
        title=_text(data.get("title")),
        assignees=tuple(
            name
            for name in (_name(a) for a in _list(data.get("assignees")))
            if name is not None
        ),
    )


def ticket_of(incident_key: str | None, *, account: str) -> int | None:
    """The ticket whose page opened this incident, from its dedup key; None if not ours.

    The sidecar triggers with ``dedup_key(account, ticket_id)``
    (sidecar.oncall.pagerduty) = ``zendesk-<account>-ticket-<id>``; the
    incident's ``incident_key`` is that dedup key. A key of another account, or
    of another integration, is not ours.
    """
    if not incident_key or "-ticket-" not in incident_key:
        return None
    _, _, tail = incident_key.rpartition("-ticket-")
    if not tail.isdigit() or len(tail) > 18:
        return None
    ticket_id = int(tail)
    return ticket_id if dedup_key(account, ticket_id) == incident_key else None


def _name(ref: object) -> str | None:
    """A reference's display name (``summary``), e.g. a user's."""
    if not isinstance(ref, dict):
        return None
    summary = ref.get("summary")
    return str(summary)[:200] if isinstance(summary, str) and summary else None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return str(value)[:500] if isinstance(value, str) and value else None
