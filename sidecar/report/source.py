"""Read the tickets of a period through the incremental export, within its rate limit.

The export is ordered by update time, so every ticket created since the start of
the period is in the stream from ``start_time = since`` on, at its latest
version; it is read to the end of the stream, a page at a time, and nothing is
kept but what :class:`sidecar.report.attainment.ReportBuilder` tallies. The
export allows 10 requests a minute (shared with the worker's sweep), so pages
are paced, and a 429 waits for its ``Retry-After``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO

from sidecar.domain.models import MetricsExportPage, Ticket, TicketMetricSet
from sidecar.domain.plan import STATUS_TAGS
from sidecar.errors import RateLimited, Transient
from sidecar.report.attainment import TicketFacts
from sidecar.sla import SeverityError, parse_severity

__all__ = [
    "ExportReader",
    "Progress",
    "ReportFields",
    "facts_from",
]

# 8 of the export's 10 requests a minute: the sweep's once-a-minute read still fits.
DEFAULT_MIN_INTERVAL = 7.5
# Without Retry-After, wait a full rate-limit window.
DEFAULT_RATE_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_WAITS = 30
MAX_TRANSIENT_RETRIES = 5
# A cursor export of a million tickets is 1,000 pages; more means a loop.
MAX_PAGES = 20_000

_OURS = frozenset(STATUS_TAGS.values())
_SETTLED = {"sla_met": "met", "sla_breached": "breached"}


class ExportClient(Protocol):
    """The call the reader makes (sidecar.zendesk.client.ZendeskClient)."""

    def export_tickets_with_metrics(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> MetricsExportPage: ...


@dataclass(frozen=True)
class ReportFields:
    """The ticket field ids the report reads (the severity field is required)."""

    severity: int
    due_at: int | None = None
    first_response_at: int | None = None
    breach_minutes: int | None = None


def facts_from(
    ticket: Ticket, metric_set: TicketMetricSet | None, fields: ReportFields
) -> TicketFacts | None:
    """Return what the ticket says about its first response, or None when out of scope.

    In scope: a ticket the sidecar put under an SLA (one of its status tags or
    a due time) that still has a severity. Entitlement is not re-decided: the
    sidecar's marks are the record of which tickets carried a contract SLA.
    """
    values = ticket.custom_fields
    if not (ticket.tags & _OURS or (fields.due_at and values.get(fields.due_at))):
        return None
    try:
        severity = parse_severity(values.get(fields.severity))
    except SeverityError:
        return None
    if severity is None:
        return None
    settled = [_SETTLED[t] for t in ticket.tags if t in _SETTLED]
    return TicketFacts(
        ticket_id=ticket.id,
        created_at=ticket.created_at,
        severity=severity,
        organization_id=ticket.organization_id,
        ticket_status=ticket.status,
        recorded_verdict=settled[0] if len(settled) == 1 else None,
        recorded_due_at=_moment(values.get(fields.due_at) if fields.due_at else None),
        recorded_first_response_at=_moment(
            values.get(fields.first_response_at) if fields.first_response_at else None
        ),
        recorded_late_minutes=_whole(
            values.get(fields.breach_minutes) if fields.breach_minutes else None
        ),
        has_metric_set=metric_set is not None,
        metric_replies=metric_set.replies if metric_set else None,
        metric_reply_calendar_minutes=(
            metric_set.reply_minutes_calendar if metric_set else None
        ),
        metric_solved_at=metric_set.solved_at if metric_set else None,
    )


def _moment(value: object) -> datetime | None:
    """A recorded ISO 8601 time; anything unreadable counts as not recorded."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _whole(value: object) -> int | None:
    """A recorded whole number (Zendesk may send numeric fields as text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number >= 0 and number == int(number) else None


class Progress:
    """One self-rewriting status line on a terminal; silent elsewhere."""

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._width = 0

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def done(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


@dataclass
class ReadStats:
    """What reading the export cost, for the report's footer."""

    pages: int = 0
    tickets: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0


class ExportReader:
    """Yield the export's tickets with their metric sets, page by page.

    ``sleep`` and ``monotonic`` are injected so tests neither wait nor race.
    """

    def __init__(
        self,
        client: ExportClient,
        *,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.progress = progress or Progress(enabled=False)
        self.sleep = sleep
        self.monotonic = monotonic
        self.stats = ReadStats()
        self._last_request: float | None = None
        # Set by the consumer ("1,234 under an SLA"), shown after the counts.
        self.note = ""

    def tickets(
        self, start: datetime
    ) -> Iterator[tuple[Ticket, TicketMetricSet | None]]:
        """Every ticket updated since ``start`` (its latest version last)."""
        cursor: str | None = None
        start_time = int(start.timestamp())
        while True:
            page = self._fetch(cursor=cursor, start_time=start_time)
            self.stats.pages += 1
            self.stats.tickets += len(page.tickets)
            for ticket in page.tickets:
                yield ticket, page.metric_sets.get(ticket.id)
            self._show()
            if page.end_of_stream or not page.after_cursor:
                return
            if page.after_cursor == cursor and not page.tickets:
                return  # nothing new behind this cursor
            if self.stats.pages >= MAX_PAGES:
                raise Transient(
                    "zendesk incremental export: pagination did not end",
                    service="zendesk",
                )
            cursor = page.after_cursor

    def _fetch(self, *, cursor: str | None, start_time: int) -> MetricsExportPage:
        waits = retries = 0
        while True:
            self._pace()
            try:
                if cursor:
                    return self.client.export_tickets_with_metrics(cursor=cursor)
                return self.client.export_tickets_with_metrics(start_time=start_time)
            except RateLimited as exc:
                waits += 1
                self.stats.rate_limited += 1
                if waits > MAX_RATE_LIMIT_WAITS:
                    raise
                self._wait(exc.retry_after or DEFAULT_RATE_LIMIT_WAIT, "rate limited")
            except Transient as exc:
                retries += 1
                if retries > MAX_TRANSIENT_RETRIES:
                    raise
                delay = exc.retry_after or min(2.0**retries, 60.0)
                self._wait(delay, f"retrying ({exc})")

    def _pace(self) -> None:
        now = self.monotonic()
        if self._last_request is not None:
            gap = self.min_interval - (now - self._last_request)
            if gap > 0:
                self.sleep(gap)
                self.stats.waited_seconds += gap
        self._last_request = self.monotonic()

    def _wait(self, seconds: float, why: str) -> None:
        self.progress.show(f"{self._line()}; waiting {seconds:.0f} s: {why}")
        self.sleep(seconds)
        self.stats.waited_seconds += seconds
        self._last_request = self.monotonic()

    def _line(self) -> str:
        line = f"read {self.stats.tickets:,} tickets in {self.stats.pages:,} pages"
        return f"{line}, {self.note}" if self.note else line

    def _show(self) -> None:
        self.progress.show(self._line())


def period_bounds(
    since: datetime, until: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of the period: ``until`` is an inclusive day."""
    start = since.astimezone(UTC)
    end = (until.astimezone(UTC) + timedelta(days=1)) if until else now
    return start, min(end, now)
