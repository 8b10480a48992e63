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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TextIO, TypeVar

from sidecar.domain.models import Comment, MetricsExportPage, Ticket, TicketMetricSet
from sidecar.domain.plan import STATUS_TAGS
from sidecar.errors import RateLimited, Transient, UpstreamError
from sidecar.report.attainment import TicketFacts
from sidecar.sla import (
    MetricState,
    Policy,
    Reply,
    SeverityError,
    StatusChange,
    Target,
    author_of,
    measure,
    parse_severity,
)
from sidecar.sla.metrics import STOPPED
from sidecar.zendesk.budget import BULK, lane

__all__ = [
    "ExportReader",
    "HistoryReader",
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

_T = TypeVar("_T")
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


class HistoryClient(Protocol):
    """The calls the history reader makes (sidecar.zendesk.client.ZendeskClient)."""

    def list_comments(self, ticket_id: int) -> list[Comment]: ...
    def list_status_changes(self, ticket_id: int) -> list[StatusChange]: ...
    def current_user_id(self) -> int: ...


@dataclass
class HistoryStats:
    """What reading ticket histories cost (the report's footer, docs/benchmarks.md)."""

    tickets: int = 0
    comment_reads: int = 0
    audit_reads: int = 0
    unreadable: int = 0


class HistoryReader:
    """Measure the metrics beyond the first response from a ticket's own history.

    Read only for a ticket whose policy sets such a metric (never under the
    built-in first-response policy): its comments (List Comments, 100 a page),
    and its status history (List Audits, 100 a page) only when a status can
    change a clock: a target pauses in a status, or the ticket has been
    solved (a solve stops every clock; a reopen starts them again). A ticket
    whose history cannot be read is ``unknown`` for those metrics, never
    given made-up cycles.
    """

    def __init__(
        self,
        client: HistoryClient | None = None,
        *,
        connect: Callable[[], HistoryClient] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # ``connect`` runs on the first ticket that needs a read: a report
        # under the first response alone never opens it (nor says anything).
        self._client = client
        self._connect = connect
        self.sleep = sleep
        self.stats = HistoryStats()
        self._me: int | None = None

    @property
    def client(self) -> HistoryClient:
        if self._client is None:
            if self._connect is None:
                raise TypeError("HistoryReader needs a client or connect")
            self._client = self._connect()
        return self._client

    def states(
        self,
        ticket: Ticket,
        metric_set: TicketMetricSet | None,
        *,
        severity: int,
        policy: Policy,
        now: datetime,
    ) -> tuple[MetricState, ...] | None:
        """The state of every metric beyond the first response, or None (unreadable)."""
        targets = {
            n: t
            for n, t in policy.metric_targets(severity).items()
            if n != "first_response"
        }
        if not targets:
            return ()
        self.stats.tickets += 1
        try:
            if self._me is None:
                self._me = self._read(self.client.current_user_id)
            comments = self._read(lambda: self.client.list_comments(ticket.id))
            self.stats.comment_reads += 1
            statuses: list[StatusChange] = []
            if needs_status_history(targets.values(), ticket, metric_set):
                statuses = self._read(
                    lambda: self.client.list_status_changes(ticket.id)
                )
                self.stats.audit_reads += 1
        except UpstreamError:
            self.stats.unreadable += 1
            return None
        replies = [
            Reply(
                c.created_at,
                author_of(
                    author_id=c.author_id,
                    role=c.author_role,
                    requester_id=ticket.requester_id,
                    self_user_id=self._me,
                ),
                c.public,
            )
            for c in comments
        ]
        return tuple(
            measure(
                name,
                target,
                created_at=ticket.created_at,
                replies=replies,
                statuses=statuses,
                now=now,
            )
            for name, target in targets.items()
        )

    def _read(self, call: Callable[[], _T]) -> _T:
        waits = 0
        while True:
            try:
                # Bulk priority: through the deployment's API budget when the
                # service's queue is at hand, behind the worker's own calls.
                with lane(BULK):
                    return call()
            except Transient as exc:  # a 429 is one, with its Retry-After
                waits += 1
                if waits > MAX_TRANSIENT_RETRIES:
                    raise
                self.sleep(exc.retry_after or min(2.0**waits, 60.0))


def needs_status_history(
    targets: Iterable[Target], ticket: Ticket, metric_set: TicketMetricSet | None
) -> bool:
    """Whether a status could have moved a clock: a pause, or a solve (now or before)."""
    if any(t.pause for t in targets):
        return True
    if ticket.status in STOPPED:
        return True
    # Solved before and reopened: Zendesk keeps solved_at; no metric set, no telling.
    return metric_set is None or metric_set.solved_at is not None
