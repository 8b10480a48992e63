"""A brute-force, minute-stepping twin of sidecar.sla.metrics, for cross-checks only.

Written from the README's statement of each metric, not from the engine: the
clock advances one minute at a time and counts a minute when the schedule
covers it (``ReferenceClock``) and the status at that minute lets it run. All
instants, windows and targets the tests generate are whole minutes, so the
stepping is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.unit.sla.reference import ReferenceClock

MINUTE = timedelta(minutes=1)
ENDS = {"solved", "closed"}


@dataclass(frozen=True)
class Event:
    """A reply (author, public) or, when ``status`` is set, a status change."""

    at: datetime
    author: str = ""
    public: bool = False
    status: str = ""


@dataclass(frozen=True)
class Run:
    """One oracle cycle: start, stop (or None), due (or None), state."""

    start: datetime
    stop: datetime | None
    due: datetime | None
    state: str


class Oracle:
    """Every metric of one ticket, by stepping minutes."""

    def __init__(
        self,
        clock: ReferenceClock | None,  # None: 24/7
        *,
        created: datetime,
        replies: list[Event],
        statuses: list[Event],
        now: datetime,
    ) -> None:
        self.clock = clock
        self.created = created
        self.replies = sorted(replies, key=lambda e: e.at)
        self.statuses = sorted(statuses, key=lambda e: e.at)
        self.now = now
        self.last_change = max([created, *(s.at for s in statuses)])

    def status_at(self, moment: datetime) -> str:
        current = "new"
        for change in self.statuses:
            if change.at <= moment or change.at <= self.created:
                current = change.status
        return current

    def covered(self, moment: datetime) -> bool:
        return self.clock is None or self.clock.covered(moment)

    def due(
        self, start: datetime, minutes: int, pause: set[str], *, statuses: bool
    ) -> datetime | None:
        """Step until ``minutes`` counted minutes passed; None if paused for good."""
        moment, counted = start, 0
        while counted < minutes:
            runs = not statuses or self.status_at(moment) not in pause | ENDS
            if not runs and moment >= self.last_change:
                return None  # the status will not change again
            if runs and self.covered(moment):
                counted += 1
            moment += MINUTE
        return moment

    def first_response(self) -> datetime | None:
        later = self.replies[1:]
        agent = [r.at for r in later if r.public and r.author == "agent"]
        return agent[0] if agent else None

    def run(
        self,
        start: datetime,
        stop: datetime | None,
        minutes: int,
        risk_minutes: int,
        pause: set[str],
        *,
        statuses: bool = True,
    ) -> Run:
        due = self.due(start, minutes, pause, statuses=statuses)
        if stop is not None:
            ok = due is None or stop <= due
            return Run(start, stop, due, "met" if ok else "breached")
        if due is not None and self.now >= due:
            return Run(start, None, due, "breached")
        risk = self.due(start, risk_minutes, pause, statuses=statuses)
        state = "at_risk" if risk is not None and self.now >= risk else "pending"
        return Run(start, None, due, state)

    def cycles(
        self, name: str, minutes: int, risk_minutes: int, pause: set[str]
    ) -> list[Run]:
        first = self.first_response()
        if name == "first_response":
            return [
                self.run(
                    self.created, first, minutes, risk_minutes, set(), statuses=False
                )
            ]
        if name == "resolution":
            stop = None
            if self.status_at(self.last_change) in ENDS:
                # The start of the last unbroken stretch of solved/closed.
                stop = self.last_change
                for change in reversed(self.statuses):
                    if change.status not in ENDS:
                        break
                    stop = max(change.at, self.created)
            return [self.run(self.created, stop, minutes, risk_minutes, pause)]
        if first is None:
            return []
        public = [r for r in self.replies[1:] if r.public]
        index = next(
            i for i, r in enumerate(public) if r.author == "agent" and r.at == first
        )
        after = public[index + 1 :]
        if name == "periodic_update":
            marks = [first, *(r.at for r in after if r.author == "agent")]
            stops: list[datetime | None] = [*marks[1:], None]
            return [
                self.run(a, b, minutes, risk_minutes, pause)
                for a, b in zip(marks, stops, strict=True)
            ]
        # next_reply: each agent reply closes the turn of the oldest customer
        # comment since the previous agent reply (or the first response).
        runs, waiting = [], []
        for reply in after:
            if reply.author == "end-user":
                waiting.append(reply.at)
            elif reply.author == "agent":
                if waiting:
                    runs.append(
                        self.run(waiting[0], reply.at, minutes, risk_minutes, pause)
                    )
                waiting = []
        if waiting:
            runs.append(self.run(waiting[0], None, minutes, risk_minutes, pause))
        return runs

    def state(
        self, name: str, minutes: int, risk_minutes: int, pause: set[str]
    ) -> tuple[str, datetime | None, list[Run]]:
        """Return (state, due, cycles) as the README states them."""
        runs = self.cycles(name, minutes, risk_minutes, pause)
        ended = self.status_at(self.last_change) in ENDS
        if not runs:
            return "inactive", None, runs
        if name == "next_reply" and (runs[-1].stop is not None or ended):
            return "inactive", None, runs
        if name == "periodic_update" and ended:
            return "inactive", None, runs
        return runs[-1].state, runs[-1].due, runs
