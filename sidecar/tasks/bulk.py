"""Reconcile many tickets from the CLI: replay a time range, backfill open tickets.

Both only enqueue reconciles (the worker does the rest, idempotently), at a
priority below live traffic, so webhooks queued meanwhile run first, and as
bulk jobs: their Zendesk calls spend from the budget's bulk part
(``SIDECAR_ZENDESK_BUDGET_BULK`` of the ordinary share), so live work keeps the
rest of the share however long the backfill.

* Replay (the morning after a webhook outage) reads the incremental ticket
  export from ``since``: the tickets changed in the range, as the sweep reads
  them, but from any point in time.
* Backfill walks List Tickets with cursor pagination (no result cap, unlike
  Search; no one-hour cursor expiry, unlike the Search export; not the export
  the sweep spends its 10 requests a minute on), filters the page, enqueues
  it, and only then stores the page's ``after_cursor`` in the queue store, so
  an interrupted run resumes after the last finished page.

Their Zendesk reads spend through the deployment's API budget (issue 10,
sidecar.zendesk.budget) in the bulk lane: the CLI builds the client with the
budget the service counts in its queue store (``CliContext.bulk_zendesk``), and
a refusal (BudgetWait) is waited out here like a 429, so live traffic keeps
its share and the reserve.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sidecar.domain.models import ExportPage, Ticket, TicketPage
from sidecar.domain.plan import Fields, may_carry_sla
from sidecar.errors import BudgetWait, RateLimited

# Huey runs higher priorities first (default 0): live webhooks and timers win.
REPLAY_PRIORITY = -5
BACKFILL_PRIORITY = -10
DEFAULT_STATUSES = ("new", "open", "pending", "hold")
STATUSES = (*DEFAULT_STATUSES, "solved", "closed")
_STATE_FLAG = "backfill:"
# A 429 is waited out (Retry-After, capped) at most this many times in a row.
MAX_RATE_LIMIT_WAITS = 20
MAX_WAIT_SECONDS = 120.0


class TicketLister(Protocol):
    """The Zendesk reads bulk work needs (sidecar.zendesk.client.ZendeskClient)."""

    def list_tickets(
        self, *, cursor: str | None = None, org_id: int | None = None
    ) -> TicketPage: ...

    def export_changed_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> ExportPage: ...


class BulkQueue(Protocol):
    """The parts of the job queue bulk work uses (sidecar.tasks.queue.JobQueue)."""

    def get_flag(self, name: str) -> str | None: ...
    def set_flag(self, name: str, value: str | None) -> None: ...
    def enqueue_reconcile(
        self, ticket_id: int, *, priority: int | None = None, bulk: bool = False
    ) -> None: ...


def patiently(
    call: Callable[[], object],
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> object:
    """Run one Zendesk read, waiting out 429s and budget refusals a bounded number of times.

    A 429 waits its Retry-After; a BudgetWait (our share of the deployment's
    budget is used for now) waits as long as the budget says.
    """
    for _ in range(MAX_RATE_LIMIT_WAITS):
        try:
            return call()
        except (RateLimited, BudgetWait) as exc:
            wait = min(exc.retry_after or 10.0, MAX_WAIT_SECONDS)
            if on_wait is not None:
                on_wait(wait)
            sleep(wait)
    return call()


# --- replay -------------------------------------------------------------------


def changed_between(
    zendesk: TicketLister,
    *,
    since: datetime,
    until: datetime | None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Ticket]:
    """Tickets whose last change lies in [since, until], from the incremental export.

    Zendesk never returns the last minute of changes; a ticket changed again
    after ``until`` is left out (that later change announced it anyway).
    """
    cursor: str | None = None

    def read(after: str | None) -> ExportPage:
        start = None if after else int(since.timestamp())
        return zendesk.export_changed_tickets(cursor=after, start_time=start)

    while True:
        page = patiently(functools.partial(read, cursor), sleep=sleep)
        assert isinstance(page, ExportPage)
        for ticket in page.tickets:
            updated = datetime.fromisoformat(ticket.updated_stamp)
            if until is None or updated <= until:
                yield ticket
        if page.end_of_stream or not page.after_cursor or page.after_cursor == cursor:
            return
        cursor = page.after_cursor


def replay(
    ticket_ids: Iterable[int], queue: BulkQueue, *, dry_run: bool = False
) -> list[int]:
    """Enqueue one reconcile per distinct ticket id (in order); return the ids."""
    done = list(dict.fromkeys(int(t) for t in ticket_ids))
    if not dry_run:
        for ticket_id in done:
            queue.enqueue_reconcile(ticket_id, priority=REPLAY_PRIORITY, bulk=True)
    return done


# --- backfill -----------------------------------------------------------------


@dataclass(frozen=True)
class BackfillFilter:
    """Which tickets a backfill reconciles."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    org_id: int | None = None
    since: date | None = None  # created on or after this UTC date

    def matches(self, ticket: Ticket, fields: Fields | None) -> bool:
        """True when the ticket is in scope (and, with fields, may carry an SLA)."""
        if ticket.status not in self.statuses:
            return False
        if self.since is not None and ticket.created_at.date() < self.since:
            return False
        return fields is None or may_carry_sla(ticket, fields)

    def key(self) -> str:
        """A stable name of this filter, for its resume state."""
        text = json.dumps(
            [sorted(self.statuses), self.org_id, str(self.since)], sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class BackfillProgress:
    """Where a backfill is: persisted after each finished page."""

    cursor: str | None = None
    pages: int = 0
    seen: int = 0
    enqueued: int = 0
    resumed: bool = False
    done: bool = False
    enqueued_ids: list[int] = field(default_factory=list)  # this process only


class Backfill:
    """Walk List Tickets page by page, enqueue the matching tickets, keep the cursor."""

    def __init__(
        self,
        zendesk: TicketLister,
        queue: BulkQueue | None,
        *,
        scope: BackfillFilter,
        fields: Fields | None,
        dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if queue is None and not dry_run:
            raise ValueError("only a dry run may do without the queue")
        self.zendesk = zendesk
        self.queue = queue  # None: a dry run away from the service, which needs none
        self.scope = scope
        self.fields = fields
        self.dry_run = dry_run
        self.sleep = sleep
        self.state_flag = _STATE_FLAG + scope.key()
        self.progress = BackfillProgress()

    def load(self, *, restart: bool = False) -> BackfillProgress:
        """Resume the saved progress of this filter's backfill (unless ``restart``)."""
        saved = (
            None
            if restart or self.queue is None or self.dry_run
            else self.queue.get_flag(self.state_flag)
        )
        if saved:
            data = json.loads(saved)
            self.progress = BackfillProgress(
                cursor=data["cursor"],
                pages=data["pages"],
                seen=data["seen"],
                enqueued=data["enqueued"],
                resumed=True,
            )
        return self.progress

    def step(self) -> bool:
        """Read, filter and enqueue one page, then save the cursor; False when done."""
        progress = self.progress
        if progress.done:
            return False
        page = patiently(
            lambda: self.zendesk.list_tickets(
                cursor=progress.cursor, org_id=self.scope.org_id
            ),
            sleep=self.sleep,
        )
        assert isinstance(page, TicketPage)
        for ticket in page.tickets:
            progress.seen += 1
            if self.scope.matches(ticket, self.fields):
                if self.queue is not None and not self.dry_run:
                    self.queue.enqueue_reconcile(
                        ticket.id, priority=BACKFILL_PRIORITY, bulk=True
                    )
                progress.enqueued += 1
                progress.enqueued_ids.append(ticket.id)
        progress.pages += 1
        progress.cursor = page.after_cursor
        progress.done = page.after_cursor is None
        # The page's jobs are stored: only now may a resume skip it.
        if self.queue is not None and not self.dry_run:
            self.queue.set_flag(
                self.state_flag, None if progress.done else self._state()
            )
        return not progress.done

    def _state(self) -> str:
        p = self.progress
        return json.dumps(
            {
                "cursor": p.cursor,
                "pages": p.pages,
                "seen": p.seen,
                "enqueued": p.enqueued,
            }
        )
