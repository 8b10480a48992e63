"""A brute-force, second-stepping business clock used only to cross-check the engine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_SECOND = timedelta(seconds=1)


class ReferenceClock:
    """Decide coverage second by second from the schedule's plain description."""

    def __init__(
        self,
        *,
        timezone: str,
        windows: dict[int, list[tuple[int, int]]],
        holidays: frozenset[date] = frozenset(),
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.windows = windows  # weekday -> [(start_s, end_s)], end_s may exceed 24 h
        self.holidays = holidays
        self._by_date: dict[date, list[tuple[datetime, datetime]]] = {}

    def _instant(self, day: date, seconds: int) -> datetime:
        # Wall time -> UTC, fold=0: gap times move forward, ambiguous take the first.
        naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
        return naive.replace(tzinfo=self.zone).astimezone(UTC)

    def _opened_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if day not in self._by_date:
            spans = []
            if day not in self.holidays:
                for start, end in self.windows.get(day.weekday(), []):
                    spans.append((self._instant(day, start), self._instant(day, end)))
            self._by_date[day] = spans
        return self._by_date[day]

    def covered(self, moment: datetime) -> bool:
        """Return whether the second starting at ``moment`` is covered."""
        local_day = moment.astimezone(self.zone).date()
        for back in range(3):
            for open_, close in self._opened_on(local_day - timedelta(days=back)):
                if open_ <= moment < close:
                    return True
        return False

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Step one second at a time until ``duration`` of covered seconds passed."""
        moment = start.astimezone(UTC)
        needed = int(duration.total_seconds())
        while needed:
            if self.covered(moment):
                needed -= 1
            moment += _SECOND
        return moment

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Count covered seconds in ``[a, b)``."""
        moment, end, count = a.astimezone(UTC), b.astimezone(UTC), 0
        while moment < end:
            count += self.covered(moment)
            moment += _SECOND
        return timedelta(seconds=count)
