"""SLA attainment arithmetic: one ticket's first-response outcome, and the tallies.

Pure: no I/O, no clock reads. The caller passes each ticket's facts (as read from
the incremental export) and ``now``; business time comes from the SLA engine
(:func:`sidecar.sla.first_response_due`, :func:`sidecar.sla.evaluate` and the
policy's schedules), never re-implemented here.

Rules (docs/decisions.md, "Attainment report"):

- the ticket's record wins: a settled tag (``sla_met``/``sla_breached``), the
  recorded due time and the recorded first-response time and lateness are what
  the sidecar decided when it saw the reply, so a later severity change does not
  reopen them;
- without a recorded first response, Zendesk's ``metric_sets``
  ``reply_time_in_minutes.calendar`` gives it (creation + those minutes), and the
  policy turns it into covered time;
- with neither, the ticket is ``unknown`` unless the metric set says there was no
  reply yet (then ``breached`` past the due time, else ``open``): shown, not guessed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sidecar.sla import Policy, evaluate

__all__ = [
    "STATUSES",
    "Attainment",
    "AttainmentRow",
    "BreachRow",
    "Outcome",
    "ReportBuilder",
    "ResponseTimes",
    "TicketFacts",
    "assess",
    "minutes_late",
    "nearest_rank",
]

STATUSES = ("met", "breached", "open", "unknown")
SOLVED_STATUSES = frozenset({"solved", "closed"})
NO_ORGANIZATION = "none"
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What one ticket says about its first response (all datetimes aware).

    ``recorded_*`` come from the ticket's own fields and tags (written by the
    sidecar); ``metric_*`` from the export's ``metric_sets`` sideload, where
    ``has_metric_set`` tells a missing metric set from one without a reply.
    """

    ticket_id: int
    created_at: datetime
    severity: int
    organization_id: int | None = None
    ticket_status: str = "open"
    recorded_verdict: str | None = None  # "met" or "breached" (the settled tag)
    recorded_due_at: datetime | None = None
    recorded_first_response_at: datetime | None = None
    recorded_late_minutes: int | None = None
    has_metric_set: bool = False
    metric_replies: int | None = None
    metric_reply_calendar_minutes: int | None = None
    metric_solved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One ticket's first-response outcome, as the report counts it.

    ``source`` says where the first response came from: ``ticket`` (our
    field), ``metric_sets`` (Zendesk's reply time), ``none`` (known: no reply
    yet) or ``unknown``. ``late`` is covered time past the due time (breaches;
    for an unanswered one, until it was solved or until ``now``).
    """

    ticket_id: int
    severity: int
    organization_id: int | None
    month: str  # YYYY-MM of creation, UTC
    status: str
    source: str
    created_at: datetime
    due_at: datetime
    target: timedelta
    first_response_at: datetime | None
    covered: timedelta | None  # creation -> first response, covered time
    calendar: timedelta | None  # creation -> first response, wall-clock time
    late: timedelta | None


def minutes_late(late: timedelta) -> int:
    """Whole covered minutes late, rounded up: 30 s late is 1 minute, never 0."""
    return -(-late // _MINUTE) if late > timedelta(0) else 0


def assess(facts: TicketFacts, policy: Policy, *, now: datetime) -> Outcome:
    """Return the ticket's outcome under ``policy`` at ``now``.

    Raises :class:`sidecar.sla.NoTargetError` when the policy has no target for
    the ticket's severity (the caller leaves such tickets out).
    """
    target = policy.target(facts.severity)
    schedule = target.schedule
    created = facts.created_at.astimezone(UTC)

    first_response, source = _first_response(facts, created)
    state = evaluate(
        created_at=created,
        severity=facts.severity,
        first_response_at=first_response,
        now=now,
        policy=policy,
    )
    assert state is not None  # policy.target() raised otherwise
    due = facts.recorded_due_at or state.due_at

    if first_response is not None:
        status = "met" if first_response <= due else "breached"
    elif source == "none":
        status = "breached" if now >= due else "open"
    else:
        status = "unknown"
    if facts.recorded_verdict in ("met", "breached"):
        status = facts.recorded_verdict  # settled: later changes do not reopen it

    covered = calendar = late = None
    if first_response is not None:
        covered = max(schedule.between(created, first_response), timedelta(0))
        calendar = first_response - created
    if status == "breached":
        if facts.recorded_late_minutes is not None:
            late = timedelta(minutes=facts.recorded_late_minutes)
        else:
            end = first_response if first_response is not None else None
            if end is None and source == "none":
                solved = facts.ticket_status in SOLVED_STATUSES
                end = (
                    facts.metric_solved_at if solved and facts.metric_solved_at else now
                )
            if end is not None:
                late = max(schedule.between(due, end), timedelta(0))
    return Outcome(
        ticket_id=facts.ticket_id,
        severity=facts.severity,
        organization_id=facts.organization_id,
        month=created.strftime("%Y-%m"),
        status=status,
        source=source,
        created_at=created,
        due_at=due,
        target=target.duration,
        first_response_at=first_response,
        covered=covered,
        calendar=calendar,
        late=late,
    )


def _first_response(
    facts: TicketFacts, created: datetime
) -> tuple[datetime | None, str]:
    if facts.recorded_first_response_at is not None:
        return facts.recorded_first_response_at.astimezone(UTC), "ticket"
    minutes = facts.metric_reply_calendar_minutes
    if minutes is not None:
        return created + timedelta(minutes=minutes), "metric_sets"
    if facts.has_metric_set and not (facts.metric_replies or 0) > 0:
        return None, "none"  # Zendesk counts no public agent reply yet
    return None, "unknown"


def nearest_rank(counts: Mapping[int, int], percent: int) -> int | None:
    """The nearest-rank percentile of a multiset given as value -> count.

    The smallest value with at least ``percent`` % of the values at or below it
    (a real ticket's value, no interpolation); None when empty.
    """
    n = sum(counts.values())
    if n == 0:
        return None
    rank = max(1, -(-percent * n // 100))  # ceil, in integers
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank <= n")


@dataclass(frozen=True)
class AttainmentRow:
    """Counts of each status for one group (a severity, organization or month)."""

    key: str
    met: int = 0
    breached: int = 0
    open: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.met + self.breached + self.open + self.unknown

    def count(self, status: str) -> int:
        return int(getattr(self, status))

    def percent(self, status: str) -> float | None:
        """Share of all the group's tickets, in %; None for an empty group."""
        return 100.0 * self.count(status) / self.total if self.total else None

    @property
    def attainment(self) -> float | None:
        """Met out of decided (met + breached), in %; None when none is decided."""
        decided = self.met + self.breached
        return 100.0 * self.met / decided if decided else None


@dataclass(frozen=True)
class ResponseTimes:
    """Time to first response of one severity's answered tickets, in seconds."""

    severity: int
    target: timedelta | None
    responded: int
    median_covered: int | None
    p90_covered: int | None
    median_calendar: int | None
    p90_calendar: int | None
    covered_counts: tuple[tuple[int, int], ...]  # (seconds, tickets), for charts


@dataclass(frozen=True, slots=True)
class BreachRow:
    """One breached ticket, for the breach list."""

    ticket_id: int
    organization_id: int | None
    severity: int
    created_at: datetime
    due_at: datetime
    first_response_at: datetime | None
    late: timedelta | None
    source: str


@dataclass(frozen=True)
class Attainment:
    """The report's numbers."""

    overall: AttainmentRow
    by_severity: tuple[AttainmentRow, ...]
    by_organization: tuple[AttainmentRow, ...]
    by_month: tuple[AttainmentRow, ...]
    response_times: tuple[ResponseTimes, ...]
    breaches: tuple[BreachRow, ...]


# What one ticket added to the tallies, kept so that a ticket the export
# returns twice (updated while we read) counts once, as its latest version.
# (severity, organization, month, status, covered s, calendar s)
_Contribution = tuple[int, str, str, str, int, int]


class ReportBuilder:
    """Tally outcomes one at a time, in memory proportional to the groups.

    Per ticket it keeps only a small tuple (to replace a ticket seen twice);
    response times are counted by whole second per severity, and breaches as
    rows. Call :meth:`result` at the end.
    """

    def __init__(self, *, targets: Mapping[int, timedelta] | None = None) -> None:
        self._targets = dict(targets or {})
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._covered: dict[int, Counter[int]] = {}
        self._calendar: dict[int, Counter[int]] = {}
        self._seen: dict[int, _Contribution] = {}
        self._breaches: dict[int, BreachRow] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, outcome: Outcome) -> None:
        """Count one ticket (replacing what an earlier version of it counted)."""
        self.discard(outcome.ticket_id)
        org = (
            str(outcome.organization_id)
            if outcome.organization_id is not None
            else NO_ORGANIZATION
        )
        # Interned: 100,000 tickets share a few hundred group keys.
        contribution: _Contribution = (
            outcome.severity,
            sys.intern(org),
            sys.intern(outcome.month),
            outcome.status,
            _seconds(outcome.covered),
            _seconds(outcome.calendar),
        )
        self._seen[outcome.ticket_id] = contribution
        self._apply(contribution, +1)
        self._targets.setdefault(outcome.severity, outcome.target)
        if outcome.status == "breached":
            self._breaches[outcome.ticket_id] = BreachRow(
                ticket_id=outcome.ticket_id,
                organization_id=outcome.organization_id,
                severity=outcome.severity,
                created_at=outcome.created_at,
                due_at=outcome.due_at,
                first_response_at=outcome.first_response_at,
                late=outcome.late,
                source=outcome.source,
            )

    def discard(self, ticket_id: int) -> None:
        """Forget a ticket counted earlier (its latest version is out of scope)."""
        previous = self._seen.pop(ticket_id, None)
        if previous is not None:
            self._apply(previous, -1)
            self._breaches.pop(ticket_id, None)

    def _apply(self, c: _Contribution, sign: int) -> None:
        severity, org, month, status, covered, calendar = c
        for dimension, key in (
            ("all", "all"),
            ("severity", str(severity)),
            ("organization", org),
            ("month", month),
        ):
            self._counts[(dimension, key, status)] += sign
        if covered >= 0:
            for store, value in ((self._covered, covered), (self._calendar, calendar)):
                counter = store.setdefault(severity, Counter())
                counter[value] += sign
                if counter[value] <= 0:
                    del counter[value]

    def result(self) -> Attainment:
        """The tallies as rows: severities 1..5 in order, organizations by id, months."""
        groups: dict[str, dict[str, dict[str, int]]] = {}
        for (dimension, key, status), n in self._counts.items():
            if n:
                groups.setdefault(dimension, {}).setdefault(key, {})[status] = n

        def rows(
            dimension: str, order: Callable[[str], Any]
        ) -> tuple[AttainmentRow, ...]:
            found = groups.get(dimension, {})
            return tuple(
                AttainmentRow(key, **found[key]) for key in sorted(found, key=order)
            )

        overall = rows("all", str)
        severities = sorted({int(k) for k in groups.get("severity", {})})
        times = tuple(self._times(severity) for severity in severities)
        return Attainment(
            overall=overall[0] if overall else AttainmentRow("all"),
            by_severity=rows("severity", int),
            by_organization=rows(
                "organization",
                lambda k: (k == NO_ORGANIZATION, int(k) if k.isdigit() else 0),
            ),
            by_month=rows("month", str),
            response_times=times,
            breaches=tuple(
                sorted(
                    self._breaches.values(),
                    key=lambda b: (-(b.late or timedelta(0)), b.ticket_id),
                )
            ),
        )

    def _times(self, severity: int) -> ResponseTimes:
        covered = self._covered.get(severity, Counter())
        calendar = self._calendar.get(severity, Counter())
        return ResponseTimes(
            severity=severity,
            target=self._targets.get(severity),
            responded=sum(covered.values()),
            median_covered=nearest_rank(covered, 50),
            p90_covered=nearest_rank(covered, 90),
            median_calendar=nearest_rank(calendar, 50),
            p90_calendar=nearest_rank(calendar, 90),
            covered_counts=tuple(sorted(covered.items())),
        )


def _seconds(value: timedelta | None) -> int:
    """Whole seconds (floored), or -1 for "no first response known"."""
    return -1 if value is None else int(value // timedelta(seconds=1))


def tally(outcomes: Iterable[Outcome]) -> Attainment:
    """Tally a finite collection of outcomes (tests and small reports)."""
    builder = ReportBuilder()
    for outcome in outcomes:
        builder.add(outcome)
    return builder.result()
