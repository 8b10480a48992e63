"""The sweep: catch what no webhook told us, from Zendesk's incremental ticket export.

Zendesk drops webhook deliveries while its circuit breaker is open, and an OS
crash can lose the last SQLite commits; the sweep closes both gaps. Once a
minute it reads the tickets changed since its cursor (kept in the shared queue
store, so it survives restarts and is shared by every worker) and enqueues a
reconcile for each one that carries or could carry an SLA. Reconciles are
idempotent, so a ticket the webhooks already handled costs two reads and no write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sidecar.domain.models import ExportPage
from sidecar.domain.plan import Fields, may_carry_sla
from sidecar.tasks.memo import TicketMemory

log = logging.getLogger("sidecar.sweep")

CURSOR_FLAG = "sweep_cursor"
FIRST_LOOKBACK = timedelta(hours=1)
# Zendesk allows 10 export requests a minute; the sweep runs once a minute.
MAX_PAGES_PER_RUN = 5


class Exporter(Protocol):
    """The Zendesk incremental export (sidecar.zendesk.client.ZendeskClient)."""

    def export_changed_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> ExportPage: ...


class SweepQueue(Protocol):
    """The parts of the job queue the sweep uses."""

    def get_flag(self, name: str) -> str | None: ...
    def set_flag(self, name: str, value: str | None) -> None: ...
    def enqueue_reconcile(self, ticket_id: int) -> None: ...


def sweep(
    *,
    zendesk: Exporter,
    queue: SweepQueue,
    fields: Fields,
    clock: Callable[[], datetime],
    memory: TicketMemory | None = None,
) -> int:
    """Enqueue a reconcile for every changed ticket that may carry an SLA; return how many.

    A row whose ``updated_at`` is exactly the version our own last write
    produced (``memory``) changed by nothing but us: it is skipped.
    """
    cursor = queue.get_flag(CURSOR_FLAG)
    start_time = None if cursor else int((clock() - FIRST_LOOKBACK).timestamp())
    enqueued: set[int] = set()
    for _ in range(MAX_PAGES_PER_RUN):
        page = zendesk.export_changed_tickets(cursor=cursor, start_time=start_time)
        for ticket in page.tickets:
            if ticket.id in enqueued or not may_carry_sla(ticket, fields):
                continue
            seen = memory.recall(ticket.id) if memory is not None else None
            if seen is not None and seen.own and seen.version == ticket.updated_stamp:
                continue  # nothing happened since our own write
            queue.enqueue_reconcile(ticket.id)
            enqueued.add(ticket.id)
        # Move the cursor only after the page's jobs are stored: a crash in
        # between re-reads the page (harmless) instead of skipping it.
        if page.after_cursor:
            cursor = page.after_cursor
            queue.set_flag(CURSOR_FLAG, cursor)
        if page.end_of_stream:
            break
    if enqueued:
        log.info("sweep enqueued reconciles", extra={"tickets": len(enqueued)})
    return len(enqueued)
