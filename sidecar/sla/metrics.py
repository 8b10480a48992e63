"""Every metric of a ticket at one moment: values in, values out (no I/O, no clock).

The caller passes the ticket's creation, its comments as :class:`Reply` (who
wrote it, public or not, when), its status history as :class:`StatusChange`
and ``now``; :func:`measure_all` returns one :class:`MetricState` per metric
the policy sets for the severity. Business time is the schedule's own exact
arithmetic (``Schedule.add`` / ``between`` / ``segments``); a pause only cuts
the stretches in which that arithmetic runs. README, "SLA semantics", states
each metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sidecar.sla.due import EARLIEST, LATEST
from sidecar.sla.errors import SlaInputError
from sidecar.sla.policy import DEFAULT_POLICY, METRICS, Policy, Target
from sidecar.sla.schedule import Segment

__all__ = [
    "AUTHORS",
    "STATES",
    "Cycle",
    "MetricState",
    "Reply",
    "StatusChange",
    "author_of",
    "measure",
    "measure_all",
]

AUTHORS = ("end-user", "agent", "system")
STATES = ("pending", "at_risk", "breached", "met", "inactive")
STOPPED = frozenset({"solved", "closed"})  # every clock but the first response's
_AGENT_ROLES = frozenset({"agent", "admin"})


@dataclass(frozen=True)
class Reply:
    """A comment as the SLA sees it: ``author`` is one of :data:`AUTHORS`."""

    at: datetime
    author: str
    public: bool


@dataclass(frozen=True)
class StatusChange:
    """The ticket had ``status`` from ``at`` until the next change."""

    status: str
    at: datetime


@dataclass(frozen=True)
class Cycle:
    """One run of a metric's clock: a customer turn, an update interval, ...

    ``stop`` is what ended it (the reply, the update, the solve), None while it
    runs; ``due`` is None when the clock is paused short of its target.
    """

    start: datetime
    stop: datetime | None
    due: datetime | None
    state: str


@dataclass(frozen=True)
class MetricState:
    """One metric of one ticket at one moment.

    ``state`` is one of :data:`STATES` (``inactive``: nothing is due now);
    ``due`` is the current cycle's due instant, None when inactive, paused short
    of the target, or met by a stop before it could be known. ``pauses`` are the
    stretches of the current cycle in which its clock stood still by status,
    ``windows`` the covered stretches it counted (up to its stop or ``now``),
    ``cycles`` every cycle so far, oldest first.
    """

    name: str
    target: Target
    state: str
    start: datetime | None
    due: datetime | None
    at_risk_at: datetime | None
    paused: bool
    pauses: tuple[Segment, ...]
    windows: tuple[Segment, ...]
    cycles: tuple[Cycle, ...]


def author_of(
    *,
    author_id: int | None,
    role: str,
    requester_id: int | None,
    self_user_id: int | None,
) -> str:
    """Classify a comment's author for the SLA: end-user, agent or system.

    The system user (no author) and the sidecar's own API user answer no one and
    ask nothing; the requester is the customer even when an agent; an unknown
    role is counted as neither side (never a made-up reply or turn).
    """
    if author_id is None or author_id == self_user_id:
        return "system"
    if author_id == requester_id or role == "end-user":
        return "end-user"
    return "agent" if role in _AGENT_ROLES else "system"


def measure_all(
    *,
    created_at: datetime,
    severity: object,
    replies: Sequence[Reply],
    statuses: Sequence[StatusChange],
    now: datetime,
    policy: Policy | None = None,
    at_risk_fraction: float = 0.75,
) -> tuple[MetricState, ...]:
    """Return the state of every metric the policy sets for ``severity``.

    Empty when the severity is empty or has no target. Raises
    :class:`SeverityError` for an unknown severity, :class:`SlaInputError` for
    a naive or out-of-range instant.
    """
    targets = (policy or DEFAULT_POLICY).metric_targets(severity)
    return tuple(
        measure(
            name,
            target,
            created_at=created_at,
            replies=replies,
            statuses=statuses,
            now=now,
            at_risk_fraction=at_risk_fraction,
        )
        for name, target in targets.items()
    )


def measure(
    name: str,
    target: Target,
    *,
    created_at: datetime,
    replies: Sequence[Reply],
    statuses: Sequence[StatusChange],
    now: datetime,
    at_risk_fraction: float = 0.75,
) -> MetricState:
    """Return the state of one metric (``name`` from METRICS) with ``target``."""
    if name not in METRICS:
        raise SlaInputError(f"unknown metric {name!r}: expected one of {METRICS}")
    if not 0 <= at_risk_fraction <= 1:
        raise SlaInputError(
            f"at_risk_fraction must be in [0, 1], got {at_risk_fraction}"
        )
    created = _instant(created_at, "created_at")
    if not EARLIEST <= created < LATEST:
        raise SlaInputError(
            f"created_at {created.isoformat()} is out of range: a ticket's "
            f"creation must lie from {EARLIEST.date()} to before {LATEST.date()}"
        )
    now = _instant(now, "now")
    ordered = _replies(replies)
    history = _history(statuses, created)
    fraction = target.at_risk if target.at_risk is not None else at_risk_fraction
    clock = _Clock(target, fraction, _running(history, target, name), now)
    first = _first_response(ordered)
    solved_now = history[-1][0] in STOPPED
    if name == "first_response":
        cycles = [clock.cycle(created, first)]
        active = True
    elif name == "resolution":
        stop = _solved_since(history) if solved_now else None
        cycles = [clock.cycle(created, stop)]
        active = True
    elif name == "next_reply":
        cycles = [clock.cycle(a, b) for a, b in _turns(ordered, first)]
        active = bool(cycles) and cycles[-1].stop is None and not solved_now
    else:  # periodic_update
        cycles = [clock.cycle(a, b) for a, b in _updates(ordered, first)]
        active = bool(cycles) and not solved_now
    if not cycles:
        return MetricState(
            name, target, "inactive", None, None, None, False, (), (), ()
        )
    current = cycles[-1]
    end = min(current.stop, now) if current.stop else now
    paused = current.stop is None and not clock.running_at(now)
    return MetricState(
        name=name,
        target=target,
        state=current.state if active else "inactive",
        start=current.start,
        due=current.due if active else None,
        at_risk_at=clock.add(current.start, target.duration * fraction)
        if active
        else None,
        paused=paused and active,
        pauses=clock.pauses(current.start, end),
        windows=clock.windows(current.start, end),
        cycles=tuple(cycles),
    )


def _instant(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise SlaInputError(f"{what} must be a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SlaInputError(
            f"{what} must be timezone-aware, got naive {moment.isoformat()}"
        )
    return moment.astimezone(UTC)


def _replies(replies: Sequence[Reply]) -> list[Reply]:
    ordered = []
    for reply in replies:
        if reply.author not in AUTHORS:
            raise SlaInputError(
                f"reply author {reply.author!r}: expected one of {AUTHORS}"
            )
        at = _instant(reply.at, "a reply's instant")
        ordered.append(Reply(at, reply.author, bool(reply.public)))
    # Stable: replies at the same instant keep the order they were given in.
    return sorted(ordered, key=lambda r: r.at)


def _history(
    statuses: Sequence[StatusChange], created: datetime
) -> list[tuple[str, datetime]]:
    """Return [(status, from)] from creation on; "new" until the first change."""
    changes = sorted(
        ((c.status, _instant(c.at, "a status change's instant")) for c in statuses),
        key=lambda c: c[1],
    )
    history = [("new", created)]
    for status, at in changes:
        if not isinstance(status, str) or not status:
            raise SlaInputError(f"status must be a name like 'open', got {status!r}")
        at = max(at, created)  # a change recorded before creation set the start
        if at == history[-1][1]:
            history[-1] = (status, at)
        elif status != history[-1][0]:
            history.append((status, at))
    return history


def _running(
    history: list[tuple[str, datetime]], target: Target, name: str
) -> list[tuple[datetime, datetime | None]]:
    """Return the stretches [from, to) in which the metric's clock may run."""
    if name == "first_response":
        return [(history[0][1], None)]  # as it always was: no status stops it
    stopped = STOPPED | target.pause
    spans: list[tuple[datetime, datetime | None]] = []
    for index, (status, start) in enumerate(history):
        end = history[index + 1][1] if index + 1 < len(history) else None
        if status in stopped:
            continue
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _solved_since(history: list[tuple[str, datetime]]) -> datetime:
    """Return when the current run of solved/closed statuses began."""
    since = history[-1][1]
    for status, at in reversed(history):
        if status not in STOPPED:
            break
        since = at
    return since


def _first_response(replies: list[Reply]) -> datetime | None:
    # The first comment is the ticket's description, whoever wrote it.
    for reply in replies[1:]:
        if reply.public and reply.author == "agent":
            return reply.at
    return None


def _turns(
    replies: list[Reply], first: datetime | None
) -> list[tuple[datetime, datetime | None]]:
    """Customer turns after the first response: oldest unanswered -> next reply."""
    if first is None:
        return []
    turns: list[tuple[datetime, datetime | None]] = []
    open_since: datetime | None = None
    answered = False  # the first response itself is not an answer to a turn
    for reply in replies[1:]:
        if not reply.public:
            continue
        if not answered:
            answered = reply.author == "agent" and reply.at == first
            continue
        if reply.author == "end-user" and open_since is None:
            open_since = reply.at
        elif reply.author == "agent" and open_since is not None:
            turns.append((open_since, reply.at))
            open_since = None
    if open_since is not None:
        turns.append((open_since, None))
    return turns


def _updates(
    replies: list[Reply], first: datetime | None
) -> list[tuple[datetime, datetime | None]]:
    """Intervals between public agent comments, from the first response on."""
    if first is None:
        return []
    marks = [
        r.at for r in replies[1:] if r.public and r.author == "agent" and r.at >= first
    ]
    return [*pairwise(marks), (marks[-1], None)]


class _Clock:
    """A target's schedule, cut to the stretches its statuses let it run."""

    def __init__(
        self,
        target: Target,
        fraction: float,
        running: list[tuple[datetime, datetime | None]],
        now: datetime,
    ) -> None:
        self.target = target
        self.fraction = fraction
        self.running = running
        self.now = now

    def running_at(self, moment: datetime) -> bool:
        """Whether the status lets the clock run at ``moment``."""
        return any(a <= moment and (b is None or moment < b) for a, b in self.running)

    def add(self, start: datetime, duration: timedelta) -> datetime | None:
        """Return when ``duration`` of running covered time from ``start`` is done.

        None when the clock is paused at the end of the history short of it.
        """
        schedule = self.target.schedule
        remaining = duration
        for a, b in self.running:
            a = max(a, start)
            if b is None:
                return schedule.add(a, remaining)
            if b <= a:
                continue
            got = schedule.between(a, b)
            if got >= remaining:
                return schedule.add(a, remaining)
            remaining -= got
        return None

    def cycle(self, start: datetime, stop: datetime | None) -> Cycle:
        """Return one cycle's due instant and state (stopped, or as of ``now``)."""
        due = self.add(start, self.target.duration)
        if stop is not None:
            met = due is None or stop <= due
            return Cycle(start, stop, due, "met" if met else "breached")
        if due is not None and self.now >= due:
            state = "breached"
        else:
            risk = self.add(start, self.target.duration * self.fraction)
            state = "at_risk" if risk is not None and self.now >= risk else "pending"
        return Cycle(start, None, due, state)

    def pauses(self, start: datetime, end: datetime) -> tuple[Segment, ...]:
        """Return the stretches of [start, end) in which the status stopped it."""
        gaps, cursor = [], start
        for a, b in self.running:
            if a > cursor:
                gaps.append(Segment(cursor, min(a, end)))
            cursor = max(cursor, b) if b is not None else end
            if cursor >= end:
                break
        if cursor < end:
            gaps.append(Segment(cursor, end))
        return tuple(g for g in gaps if g.start < g.end)

    def windows(self, start: datetime, end: datetime) -> tuple[Segment, ...]:
        """Return the covered stretches of [start, end) the clock counted."""
        found: list[Segment] = []
        for a, b in self.running:
            lo, hi = max(a, start), min(b or end, end)
            if lo < hi:
                found.extend(self.target.schedule.segments(lo, hi))
        return tuple(found)
