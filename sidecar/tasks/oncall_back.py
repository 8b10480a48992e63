"""``pagerduty_event``: PagerDuty's news about a page, on its ticket and in its Slack thread.

Per ticket, in the queue store (every process sees it, it lapses 30 days
after the last event): the incident's state as PagerDuty last told us
(sidecar.domain.oncall.OncallState) with the note lines not yet written. A
job folds its event into that state under a short per-ticket lock, then
brings the ticket up to it in one safe update: every pending line as one
private note, ``oncall_acked`` added or removed (the complete tag list). A
job that waits for the Zendesk budget leaves its lines pending; whichever job
writes next writes them all, so what arrives together goes out as one update.
After the write, a ticket with a Slack thread has its thread catch up
(slack_bridge.follow says "an on-call engineer is on it" once).

Also here: which ticket an incident id belongs to (an annotation names only
the incident), read by the receiver.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from sidecar.domain.models import CommentText, Ticket, TicketUpdate
from sidecar.domain.oncall import (
    IncidentEvent,
    OncallState,
    fold,
    mark_line,
    ticket_update,
)
from sidecar.errors import Conflict, Transient
from sidecar.zendesk.budget import URGENT, lane

if TYPE_CHECKING:
    from sidecar.config import Config
    from sidecar.tasks.handler import ReconcilerFactory
    from sidecar.tasks.queue import JobQueue
    from sidecar.tasks.slack_notify import ThreadNotifier

log = logging.getLogger("sidecar.oncall")

STATE_TTL_SECONDS = 30 * 24 * 3600.0
INCIDENT_TTL_SECONDS = 30 * 24 * 3600.0
# The per-ticket lock covers one read and one write; it lapses by itself if a
# worker dies holding it.
LOCK_SECONDS = 60.0
LOCK_WAIT_SECONDS = 5.0
MAX_CONFLICT_ROUNDS = 3
# A run that finds a note marked as being written (its run died, or its PUT
# timed out) looks for the mark among this many of the ticket's newest
# comments: one page, one read. More comments than this since the crash, and
# the note may be written twice (at least once, as before).
RECOVERY_COMMENTS = 10


class Store(Protocol):
    """The queue store's memo and claims (sidecar.tasks.queue.JobQueue)."""

    def get_memo(self, key: str) -> str | None: ...
    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None: ...
    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...
    def release(self, key: str) -> None: ...


class Zendesk(Protocol):
    """The Zendesk calls a pagerduty_event job makes."""

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket: ...
    def update_ticket(self, update: TicketUpdate) -> str | None: ...
    def latest_comment_texts(
        self, ticket_id: int, *, count: int
    ) -> list[CommentText]: ...


class OncallStates:
    """Tickets' on-call states and incident ids, in the queue store, per Zendesk account."""

    def __init__(
        self, store: Store, *, account: str, lock_wait: float = LOCK_WAIT_SECONDS
    ) -> None:
        self._store = store
        self._account = account
        self._lock_wait = lock_wait

    def get(self, ticket_id: int) -> OncallState | None:
        """The ticket's on-call state, or None when PagerDuty told us nothing (lately)."""
        raw = self._store.get_memo(self._key(ticket_id))
        return OncallState.from_json(raw) if raw else None

    def put(self, ticket_id: int, state: OncallState) -> None:
        """Store the ticket's state for STATE_TTL_SECONDS."""
        self._store.set_memo(
            self._key(ticket_id), state.to_json(), ttl_seconds=STATE_TTL_SECONDS
        )

    def remember_incident(self, incident_id: str, ticket_id: int) -> None:
        """Remember which ticket an incident belongs to (learned from its dedup key)."""
        self._store.set_memo(
            self._incident_key(incident_id),
            str(int(ticket_id)),
            ttl_seconds=INCIDENT_TTL_SECONDS,
        )

    def ticket_of_incident(self, incident_id: str) -> int | None:
        """The ticket of an incident seen before, or None."""
        raw = self._store.get_memo(self._incident_key(incident_id))
        return int(raw) if raw and raw.isdigit() else None

    @contextlib.contextmanager
    def lock(self, ticket_id: int) -> Iterator[None]:
        """Hold the ticket's on-call lock (waits a few seconds, then a retry)."""
        key = f"oncall_lock:{self._account}:{int(ticket_id)}"
        deadline = time.monotonic() + self._lock_wait
        while not self._store.claim(key, ttl_seconds=LOCK_SECONDS):
            if time.monotonic() > deadline:
                raise Transient(
                    f"ticket {ticket_id}: another PagerDuty event is being written",
                    service="queue",
                    retry_after=1.0,
                )
            time.sleep(0.05)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # it lapses by itself
                self._store.release(key)

    def _key(self, ticket_id: int) -> str:
        return f"oncall:{self._account}:{int(ticket_id)}"

    def _incident_key(self, incident_id: str) -> str:
        return f"pd_incident:{self._account}:{incident_id}"


class OncallBack:
    """Apply incident events to their tickets (the worker's pagerduty_event handler)."""

    def __init__(
        self,
        *,
        zendesk: Callable[[], Zendesk],
        states: OncallStates,
        slack: ThreadNotifier | None = None,
    ) -> None:
        self._zendesk = zendesk
        self.states = states
        self._slack = slack

    def apply(self, ticket_id: int, event: IncidentEvent) -> None:
        """Fold the event into the ticket's state and write what is pending, in one update."""
        with self.states.lock(ticket_id):
            before = self.states.get(ticket_id)
            state = fold(before, event)
            if state != before:
                self.states.put(ticket_id, state)
            # News about a page (an entitled SEV 1/2): its read and write spend
            # the budget's reserve, as the page's own record does, so the
            # acknowledgement never waits behind ordinary reconciles.
            with lane(URGENT):
                wrote = self._write(ticket_id, state)
        log.info(
            "pagerduty event applied",
            extra={
                "ticket_id": ticket_id,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "incident_id": event.incident_id,
                "status": state.status,
                "wrote": wrote,
            },
        )
        if wrote and self._slack is not None:
            self._slack.notify_oncall(ticket_id)

    def _write(self, ticket_id: int, state: OncallState) -> bool:
        """Bring the ticket up to ``state``; True when something was written.

        A note is marked before it is written (the mark in the memo and in the
        note's text) and the mark is cleared with its lines after the write, so
        a run that finds a mark knows an earlier one may have written the note
        and looks for it on the ticket before writing it again.
        """
        zendesk = self._zendesk()
        if state.writing is not None:
            state = self._recover(zendesk, ticket_id, state)
        for _ in range(MAX_CONFLICT_ROUNDS):
            ticket = zendesk.get_ticket(ticket_id)
            if ticket.status == "closed":
                # Zendesk refuses updates to closed tickets: nothing to record.
                self.states.put(ticket_id, state.written())
                return False
            update = ticket_update(ticket, state)
            if update.is_empty():
                return False
            if update.private_note is not None:
                marked = state.marked(uuid.uuid4().hex[:12])
                self.states.put(ticket_id, marked)
                update = ticket_update(ticket, marked)
            try:
                zendesk.update_ticket(update)
            except Conflict:
                continue  # an agent changed the ticket meanwhile: read again
            self.states.put(ticket_id, state.written())
            return True
        raise Conflict(
            f"ticket {ticket_id} kept changing while PagerDuty's news was written",
            service="zendesk",
            status=409,
        )

    def _recover(
        self, zendesk: Zendesk, ticket_id: int, state: OncallState
    ) -> OncallState:
        """Settle a note an earlier run marked: on the ticket already, or still to write."""
        assert state.writing is not None
        mark = mark_line(state.writing)
        newest = zendesk.latest_comment_texts(ticket_id, count=RECOVERY_COMMENTS)
        landed = any(not c.public and mark in c.body for c in newest)
        settled = state.landed() if landed else state.unmarked()
        self.states.put(ticket_id, settled)
        log.info(
            "pagerduty note of an interrupted run settled",
            extra={"ticket_id": ticket_id, "on_ticket": landed},
        )
        return settled


def states_for(config: Config, queue: JobQueue) -> OncallStates:
    """The on-call states of this deployment's Zendesk account."""
    return OncallStates(queue, account=config.zendesk_subdomain or "zendesk")


def build(config: Config, *, queue: JobQueue, factory: ReconcilerFactory) -> OncallBack:
    """The worker's handler, sharing the reconcilers' Zendesk clients and Slack hook."""
    return OncallBack(
        zendesk=factory.client,
        states=states_for(config, queue),
        slack=factory.slack,
    )
