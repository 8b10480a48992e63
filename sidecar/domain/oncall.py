"""What PagerDuty told us about a ticket's incident, and what the ticket should carry (pure).

An incident event (acknowledged, reassigned, escalated, a note, resolved,
unacknowledged) is folded into the ticket's on-call state: its status, who
acknowledged and when, the assignees, and the lines of private note that are
not on the ticket yet. Whatever arrives before the next write goes out in that
one write (at the API floor a waiting job finds the others' lines too). The
ticket carries ``oncall_acked`` while the latest status is acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sidecar.domain.models import Ticket, TicketUpdate
from sidecar.domain.plan import ACKED_TAG, CLOSED_STATUSES

ACKNOWLEDGED = "incident.acknowledged"
UNACKNOWLEDGED = "incident.unacknowledged"
REASSIGNED = "incident.reassigned"
ESCALATED = "incident.escalated"
ANNOTATED = "incident.annotated"
RESOLVED = "incident.resolved"
TRIGGERED = "incident.triggered"
# The status each event leaves the incident in (a note changes none).
STATUS_AFTER = {
    TRIGGERED: "triggered",
    ACKNOWLEDGED: "acknowledged",
    UNACKNOWLEDGED: "triggered",
    RESOLVED: "resolved",
}
# Event ids remembered per ticket: a redelivery that got past the receiver's
# claim (a job run twice after a crash) adds nothing.
APPLIED_KEPT = 100


@dataclass(frozen=True)
class IncidentEvent:
    """One PagerDuty incident event, reduced to what the ticket hears.

    ``incident_key`` is None for an annotation (its data is the note);
    ``assignees`` are the names of the incident's assignees after the event;
    ``note`` the annotation's text.
    """

    event_id: str
    event_type: str
    occurred_at: str  # ISO 8601 as PagerDuty sent it
    agent: str | None  # who did it (a user's name); None: PagerDuty itself
    incident_id: str
    incident_number: int | None = None
    incident_url: str | None = None
    incident_key: str | None = None
    title: str | None = None
    assignees: tuple[str, ...] = ()
    note: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON-able data for the queue."""
        data = asdict(self)
        data["assignees"] = list(self.assignees)
        return data

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> IncidentEvent:
        """Rebuild an event from :meth:`to_payload`'s data."""
        data = dict(payload)
        data["assignees"] = tuple(data.get("assignees") or ())
        return cls(**data)

    @property
    def occurred(self) -> datetime:
        """``occurred_at`` as an aware datetime (UTC when it carried no offset)."""
        parsed = datetime.fromisoformat(self.occurred_at.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OncallState:
    """A ticket's incident as PagerDuty last told us, and the note lines still to write."""

    incident_id: str
    incident_number: int | None = None
    incident_url: str | None = None
    status: str = "triggered"  # triggered, acknowledged or resolved
    status_at: str | None = None  # occurred_at of the event that set ``status``
    acked_by: str | None = None
    acked_at: str | None = None
    assignees: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()  # private-note lines not on the ticket yet
    pending_types: tuple[str, ...] = ()  # the event type of each pending line
    applied: tuple[str, ...] = field(default=(), repr=False)
    last_event_at: str | None = None
    # The mark of a note being written (its first ``writing_count`` pending
    # lines): stored before the write and carried in the note's text, so a
    # re-run after a crash finds whether the note reached the ticket.
    writing: str | None = None
    writing_count: int = 0

    @property
    def acknowledged(self) -> bool:
        """True while the latest status PagerDuty sent is acknowledged."""
        return self.status == "acknowledged"

    def to_json(self) -> str:
        """The state as stored (JSON)."""
        data = asdict(self)
        for name in ("assignees", "pending", "pending_types", "applied"):
            data[name] = list(data[name])
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OncallState:
        """Read a state stored by :meth:`to_json`."""
        data = json.loads(text)
        for name in ("assignees", "pending", "pending_types", "applied"):
            data[name] = tuple(data.get(name) or ())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def written(self) -> OncallState:
        """The state once its pending lines are on the ticket."""
        return replace(
            self, pending=(), pending_types=(), writing=None, writing_count=0
        )

    def marked(self, mark: str) -> OncallState:
        """The state about to write every pending line in a note carrying ``mark``."""
        return replace(self, writing=mark, writing_count=len(self.pending))

    def landed(self) -> OncallState:
        """The state once the marked note was found on the ticket: its lines are written."""
        count = self.writing_count
        return replace(
            self,
            pending=self.pending[count:],
            pending_types=self.pending_types[count:],
            writing=None,
            writing_count=0,
        )

    def unmarked(self) -> OncallState:
        """The state once the marked note was not found: its lines are still to write."""
        return replace(self, writing=None, writing_count=0)


def mark_line(mark: str) -> str:
    """The note's last line, which names the write (found again after a crash)."""
    return f"[sidecar {mark}]"


def when(event: IncidentEvent) -> str:
    """The event's instant as agents read it: ``2026-12-07 14:03 UTC``."""
    return f"{event.occurred.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def shown(instant: str | None) -> str:
    """A stored ISO 8601 instant as agents read it (``2026-12-07 14:03 UTC``)."""
    if not instant:
        return "—"
    return f"{_instant(instant).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def note_line(event: IncidentEvent, *, number: int | None = None) -> str | None:
    """The private-note text one event adds to its ticket (None: it adds none).

    ``number``: the incident's number when the event does not carry it (a
    note names the incident by reference only).
    """
    number = event.incident_number if event.incident_number is not None else number
    incident = (
        f"PagerDuty incident #{number}"
        if number is not None
        else "the PagerDuty incident"
    )
    who = event.agent or "PagerDuty"
    at = when(event)
    assignees = ", ".join(event.assignees) or "nobody"
    if event.event_type == ACKNOWLEDGED:
        return f"On-call acknowledged: {who} at {at} ({incident})."
    if event.event_type == UNACKNOWLEDGED:
        return (
            f"{_capital(incident)} is no longer acknowledged (at {at}); PagerDuty notifies "
            "on-call again."
        )
    if event.event_type == REASSIGNED:
        return f"{_capital(incident)} reassigned to {assignees} by {who} at {at}."
    if event.event_type == ESCALATED:
        return f"{_capital(incident)} escalated to {assignees} at {at}."
    if event.event_type == ANNOTATED:
        text = (event.note or "").strip() or "(empty note)"
        return f"Note on {incident} by {who} at {at}:\n{text}"
    if event.event_type == RESOLVED:
        return (
            f"{_capital(incident)} resolved in PagerDuty by {who} at {at}. The ticket stays "
            "open: solving it is the agents' call."
        )
    return None


def fold(state: OncallState | None, event: IncidentEvent) -> OncallState:
    """The ticket's on-call state after ``event`` (the same state for one already applied).

    The status follows the latest event by ``occurred_at`` (a late redelivery
    of an older acknowledge cannot undo a resolve); every event's note line is
    kept, in arrival order.
    """
    if state is None:
        state = OncallState(incident_id=event.incident_id)
    if event.event_id in state.applied:
        return state
    changes: dict[str, Any] = {
        "applied": (*state.applied, event.event_id)[-APPLIED_KEPT:],
        "incident_id": event.incident_id,
        "incident_number": event.incident_number or state.incident_number,
        "incident_url": event.incident_url or state.incident_url,
    }
    if state.last_event_at is None or event.occurred > _instant(state.last_event_at):
        changes["last_event_at"] = event.occurred_at
    status = STATUS_AFTER.get(event.event_type)
    newer = state.status_at is None or event.occurred >= _instant(state.status_at)
    if status is not None and newer:
        changes["status"] = status
        changes["status_at"] = event.occurred_at
        if status == "acknowledged":
            changes["acked_by"] = event.agent
            changes["acked_at"] = event.occurred_at
    if event.event_type != ANNOTATED and event.assignees and newer:
        changes["assignees"] = event.assignees
    line = note_line(event, number=state.incident_number)
    if line is not None:
        changes["pending"] = (*state.pending, line)
        changes["pending_types"] = (*state.pending_types, event.event_type)
    return replace(state, **changes)


def ticket_update(ticket: Ticket, state: OncallState) -> TicketUpdate:
    """The one write that brings ``ticket`` up to ``state``: its note lines and the tag.

    A note of a marked state (:meth:`OncallState.marked`) ends with its mark.
    Sends the complete tag list (a single-ticket update replaces the tags):
    the ticket's own, plus or minus ``oncall_acked``. On a solved ticket a
    resolve is no news: the sidecar resolves the incident itself when the
    ticket is solved, and records that with its own tag and note.
    """
    solved = ticket.status in CLOSED_STATUSES
    lines = [
        line
        for line, kind in zip(
            state.pending,
            state.pending_types or (("",) * len(state.pending)),
            strict=True,
        )
        if not (solved and kind == RESOLVED)
    ]
    note = "\n\n".join(lines) if lines else None
    if note is not None and state.writing is not None:
        note = f"{note}\n\n{mark_line(state.writing)}"
    if state.acknowledged:
        return TicketUpdate.retag(ticket, add={ACKED_TAG}, private_note=note)
    return TicketUpdate.retag(ticket, remove={ACKED_TAG}, private_note=note)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
