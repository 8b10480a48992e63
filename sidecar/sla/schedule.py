"""Business-time arithmetic on weekly windows in an IANA time zone.

Conventions (README, "SLA semantics"):

- A window is ``[open, close)`` between two local wall-clock times; an end at or
  before its start runs past midnight into the next day.
- A wall time in a spring-forward gap moves forward by the gap (02:30 becomes
  03:30 in New York); an ambiguous wall time takes its first occurrence.
  Covered time is real elapsed time, so a window is as long as the clocks say.
- A holiday (a local date) removes the windows that *open* on that date.
- ``add`` returns the earliest instant at which the duration's worth of covered
  time has elapsed, so a duration that runs out exactly at a close is due at
  that close. ``add(s, 0)`` is ``s``.

Instants are handled internally as integer microseconds since the Unix epoch, so
nothing is rounded. The windows of each local week are resolved to UTC once and
cached; a call then bisects over that week's arrays.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sidecar.sla.errors import SlaInputError

if TYPE_CHECKING:  # the arithmetic stays stdlib; calendars only name dates
    from sidecar.sla.holidays import HolidaySource

__all__ = [
    "DAY_NAMES",
    "TWENTY_FOUR_SEVEN",
    "Schedule",
    "Segment",
    "Window",
    "format_duration",
    "format_utc",
    "parse_window",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_US = timedelta(microseconds=1)
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S
_WEEK_US = _WEEK_S * 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_MONDAY0_ORD = date(1970, 1, 5).toordinal()  # the first Monday after the epoch
_MONDAY0_US = (_MONDAY0_ORD - _EPOCH_ORD) * _DAY_S * 1_000_000
_CACHE_LIMIT = 4096  # weeks; about 80 years of distinct weeks per schedule

_WINDOW = re.compile(
    r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$"
)


@dataclass(frozen=True, order=True)
class Window:
    """A daily window, in seconds after local midnight: ``start < end <= start+24h``."""

    start: int
    end: int

    @property
    def length(self) -> timedelta:
        """Return the wall-clock length of the window."""
        return timedelta(seconds=self.end - self.start)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end % _DAY_S or self.end)}"


@dataclass(frozen=True)
class Segment:
    """A stretch of covered time ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """Return the covered time of the segment."""
        return self.end - self.start


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def parse_window(text: str) -> Window:
    """Parse ``"HH:MM-HH:MM"`` (seconds optional); an end <= the start is next day.

    ``"24:00"`` is accepted as an end. Raises ``ValueError`` with the problem.
    """
    match = _WINDOW.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"window {text!r} is not 'HH:MM-HH:MM'")
    h1, m1, s1, h2, m2, s2 = (int(g) if g else 0 for g in match.groups())
    if h1 > 23 or m1 > 59 or s1 > 59:
        raise ValueError(f"window {text!r} has an invalid start time")
    if h2 > 24 or m2 > 59 or s2 > 59 or (h2 == 24 and (m2 or s2)):
        raise ValueError(f"window {text!r} has an invalid end time")
    start = h1 * 3600 + m1 * 60 + s1
    end = h2 * 3600 + m2 * 60 + s2
    if end <= start:
        end += _DAY_S
    return Window(start, end)


def _to_window(value: object) -> Window:
    if isinstance(value, Window):
        return value
    if isinstance(value, str):
        return parse_window(value)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, time) for v in value)
    ):
        t1, t2 = value
        if (
            t1.tzinfo is not None
            or t2.tzinfo is not None
            or t1.microsecond
            or t2.microsecond
        ):
            raise ValueError(f"window {value!r} must use naive whole-second times")
        start = t1.hour * 3600 + t1.minute * 60 + t1.second
        end = t2.hour * 3600 + t2.minute * 60 + t2.second
        return Window(start, end + _DAY_S if end <= start else end)
    raise ValueError(
        f"window {value!r} is neither 'HH:MM-HH:MM' nor a (time, time) pair"
    )


def _day_index(key: object) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 6:
        return key
    if isinstance(key, str) and key.lower() in DAY_NAMES:
        return DAY_NAMES.index(key.lower())
    raise ValueError(f"day {key!r} is not one of {', '.join(DAY_NAMES)} or 0-6")


def format_utc(moment: datetime) -> str:
    """Format as ISO 8601 UTC with ``Z``; microseconds only when non-zero."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(duration: timedelta) -> str:
    """Format a duration compactly: ``1h30m``, ``24h``, ``45s``, ``0.25s``."""
    us = duration // _US
    sign = "-" if us < 0 else ""
    us = abs(us)
    seconds, micro = divmod(us, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes:
        parts.append(f"{minutes}m")
    if secs or micro or not parts:
        parts.append(f"{secs}.{micro:06d}".rstrip("0").rstrip(".") + "s")
    return sign + "".join(parts)


def _require_aware(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise SlaInputError(f"{what} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SlaInputError(
            f"{what} must be timezone-aware, got naive {moment.isoformat()}"
        )
    return moment


def _to_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * _DAY_S + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class _Week:
    """The UTC intervals of windows opening in one local week, with running totals."""

    __slots__ = ("closes", "cum_end", "opens", "total")

    def __init__(self, opens: list[int], closes: list[int]) -> None:
        self.opens = opens
        self.closes = closes
        cum_end: list[int] = []
        running = 0
        for open_, close in zip(opens, closes, strict=True):
            running += close - open_
            cum_end.append(running)
        self.cum_end = cum_end
        self.total = running

    def covered_before(self, t: int) -> int:
        """Return the covered time of this week's intervals that lies before ``t``."""
        closes = self.closes
        i = bisect_right(closes, t)
        if i == len(closes):
            return self.total
        open_ = self.opens[i]
        before = self.cum_end[i] - (closes[i] - open_)
        return before + (t - open_) if t > open_ else before


class Schedule:
    """Weekly windows in an IANA zone, minus holidays; the clock of an SLA target.

    ``windows`` maps a day (``"mon"``..``"sun"`` or 0..6) to windows given as
    ``"HH:MM-HH:MM"`` strings, :class:`Window` or ``(time, time)`` pairs. Windows
    must not overlap one another in wall-clock time (including a window that runs
    past midnight into the next day's). ``holidays`` are local dates.
    """

    def __init__(
        self,
        name: str,
        *,
        timezone: str | ZoneInfo = "UTC",
        windows: Mapping[object, Iterable[object]] | None = None,
        holidays: Iterable[date] = (),
        continuous: bool = False,
        calendars: Sequence[HolidaySource] = (),
    ) -> None:
        if isinstance(timezone, ZoneInfo):
            zone = timezone
        else:
            try:
                zone = ZoneInfo(str(timezone))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {timezone!r}") from exc
        days: list[list[Window]] = [[] for _ in DAY_NAMES]
        for key, values in (windows or {}).items():
            if isinstance(values, str | bytes):
                raise ValueError(f"windows of {key!r} must be a list, got {values!r}")
            days[_day_index(key)].extend(_to_window(v) for v in values)
        holiday_set = frozenset(holidays)
        for holiday in holiday_set:
            if not isinstance(holiday, date) or isinstance(holiday, datetime):
                raise ValueError(f"holiday {holiday!r} is not a date")
        if continuous and any(days):
            raise ValueError("a continuous schedule has no windows")
        if not continuous and not any(days):
            raise ValueError("a schedule needs at least one window")
        self.name = name
        self.timezone = zone
        self.continuous = continuous
        self.windows: tuple[tuple[Window, ...], ...] = tuple(
            tuple(sorted(d)) for d in days
        )
        self.holidays = holiday_set
        self._check_overlaps()
        # (weekday, window) pairs in week order, flattened for the week builder.
        self._flat = tuple(
            (day, w.start, w.end) for day, ws in enumerate(self.windows) for w in ws
        )
        self._holiday_ords = frozenset(d.toordinal() for d in holiday_set)
        # Named calendars (public holidays, RFC 5545 rules) expand a year at a
        # time into dates that count exactly like the listed ones.
        self.calendars = tuple(calendars)
        self._calendar_years: dict[int, frozenset[int]] = {}
        self._weeks: dict[int, _Week] = {}
        self._raw_max_close: dict[int, int] = {}

    # --- description -----------------------------------------------------------

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, {self.describe()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (
            self.name,
            self.timezone.key,
            self.continuous,
            self.windows,
            self.holidays,
            tuple(source.key for source in self.calendars),
        )

    def describe(self) -> str:
        """Describe the windows compactly: ``mon-fri 05:00-01:00 (UTC)``."""
        if self.continuous:
            return "24/7"
        groups: list[tuple[int, int, tuple[Window, ...]]] = []
        for day, ws in enumerate(self.windows):
            if groups and groups[-1][2] == ws and groups[-1][1] == day - 1:
                groups[-1] = (groups[-1][0], day, ws)
            else:
                groups.append((day, day, ws))
        parts = []
        for first, last, ws in groups:
            if not ws:
                continue
            days = DAY_NAMES[first] + (f"-{DAY_NAMES[last]}" if last > first else "")
            parts.append(f"{days} {', '.join(str(w) for w in ws)}")
        text = "; ".join(parts) + f" ({self.timezone.key})"
        if self.holidays:
            text += f", {len(self.holidays)} holiday{'s' * (len(self.holidays) > 1)}"
        for source in self.calendars:
            text += f", {source.key.split(':', 1)[0]} holidays"
        return text

    def day_lengths(self) -> dict[str, timedelta]:
        """Return the wall-clock covered length of each open day, by day name."""
        if self.continuous:
            return {name: timedelta(hours=24) for name in DAY_NAMES}
        return {
            DAY_NAMES[day]: sum((w.length for w in ws), timedelta())
            for day, ws in enumerate(self.windows)
            if ws
        }

    def _check_overlaps(self) -> None:
        spans = sorted(
            (day * _DAY_S + w.start, day * _DAY_S + w.end, day, w)
            for day, ws in enumerate(self.windows)
            for w in ws
        )
        for (_, end, day, w), (start, _, day2, w2) in pairwise(spans):
            if start < end:
                raise ValueError(
                    f"window {DAY_NAMES[day]} {w} overlaps {DAY_NAMES[day2]} {w2}"
                )
        if spans:
            first_start, _, day2, w2 = spans[0]
            _, last_end, day, w = max(spans, key=lambda s: s[1])
            if last_end - _WEEK_S > first_start:
                raise ValueError(
                    f"window {DAY_NAMES[day]} {w} overlaps {DAY_NAMES[day2]} {w2}"
                )

    # --- week structures ---------------------------------------------------------

    def _wall_to_us(self, ordinal: int, seconds: int) -> int:
        days, seconds = divmod(seconds, _DAY_S)
        ordinal += days
        hours, rest = divmod(seconds, 3600)
        naive = datetime.combine(
            date.fromordinal(ordinal), time(hours, rest // 60, rest % 60)
        )
        # fold=0: a gap time uses the offset before the transition, which moves it
        # forward by the gap; an ambiguous time takes its first occurrence.
        offset = self.timezone.utcoffset(naive)
        assert offset is not None
        return ((ordinal - _EPOCH_ORD) * _DAY_S + seconds) * 1_000_000 - offset // _US

    def _raw(self, week: int) -> tuple[list[int], list[int]]:
        monday = _MONDAY0_ORD + 7 * week
        opens: list[int] = []
        closes: list[int] = []
        holidays = self._holiday_ords
        for day, start, end in self._flat:
            ordinal = monday + day
            if ordinal in holidays or self._calendar_holiday(ordinal):
                continue
            opens.append(self._wall_to_us(ordinal, start))
            closes.append(self._wall_to_us(ordinal, end))
        return opens, closes

    def _calendar_holiday(self, ordinal: int) -> bool:
        if not self.calendars:
            return False
        year = date.fromordinal(ordinal).year
        ords = self._calendar_years.get(year)
        if ords is None:
            ords = frozenset(
                day.toordinal() for day in self.holidays_of(year, listed=False)
            )
            self._calendar_years[year] = ords
        return ordinal in ords

    def holidays_of(self, year: int, *, listed: bool = True) -> dict[date, str]:
        """Every holiday of ``year`` with its reason: listed dates and calendars."""
        found: dict[date, str] = {}
        if listed:
            found.update({d: "listed" for d in self.holidays if d.year == year})
        for source in self.calendars:
            for day, reason in source.dates(year).items():
                found[day] = f"{found[day]}; {reason}" if day in found else reason
        return dict(sorted(found.items()))

    def _week(self, week: int) -> _Week:
        cached = self._weeks.get(week)
        if cached is not None:
            return cached
        opens, closes = self._raw(week)
        _, prev_closes = self._raw(week - 1)
        # DST can make wall-clock windows touch or invert in real time; clip each
        # interval to start after everything before it so the timeline stays
        # sorted and disjoint (the clipped part was already covered).
        floor = max(prev_closes, default=-(1 << 62))
        kept_opens: list[int] = []
        kept_closes: list[int] = []
        for open_, close in sorted(zip(opens, closes, strict=True)):
            open_ = max(open_, floor)
            if close > open_:
                kept_opens.append(open_)
                kept_closes.append(close)
                floor = close
        built = _Week(kept_opens, kept_closes)
        if len(self._weeks) >= _CACHE_LIMIT:
            self._weeks.clear()
        self._weeks[week] = built
        return built

    # --- arithmetic -------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return when ``duration`` of covered time has elapsed from ``start``.

        ``start`` must be aware; the result is aware UTC. Outside coverage the clock
        starts at the next opening; a duration that runs out exactly at a close is
        due at that close. ``duration`` must not be negative.
        """
        if type(duration) is not timedelta:
            raise SlaInputError(f"duration must be a timedelta, got {duration!r}")
        _require_aware(start, "start")
        if duration < timedelta(0):
            raise SlaInputError(f"duration must not be negative, got {duration}")
        if self.continuous:
            # Convert first: aware arithmetic within one zone is wall-clock arithmetic.
            return start.astimezone(UTC) + duration
        d = (
            duration.days * _DAY_S + duration.seconds
        ) * 1_000_000 + duration.microseconds
        t = _to_us(start)
        if d == 0:
            return _from_us(t)
        return _from_us(self._add_us(t, d))

    def _add_us(self, t: int, d: int) -> int:
        week = (t - _MONDAY0_US) // _WEEK_US - 1
        weeks = self._weeks
        while True:
            wk = weeks.get(week) or self._week(week)
            closes = wk.closes
            if closes and closes[-1] > t:
                i = bisect_right(closes, t)
                open_ = wk.opens[i]
                cum_end = wk.cum_end
                target = cum_end[i] - (closes[i] - open_) + d
                if t > open_:
                    target += t - open_
                if target <= wk.total:
                    j = bisect_left(cum_end, target, i)
                    return closes[j] - (cum_end[j] - target)
                d = target - wk.total
                t = closes[-1]
            week += 1

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Return the covered time in ``[a, b)``; negative when ``b`` precedes ``a``."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if self.continuous:
            return b.astimezone(UTC) - a.astimezone(UTC)
        ta, tb = _to_us(a), _to_us(b)
        if tb < ta:
            return -timedelta(microseconds=self._between_us(tb, ta))
        return timedelta(microseconds=self._between_us(ta, tb))

    def _between_us(self, t: int, end: int) -> int:
        total = 0
        week = (t - _MONDAY0_US) // _WEEK_US - 1
        while t < end:
            wk = self._week(week)
            closes = wk.closes
            if closes and closes[-1] > t:
                done = wk.covered_before(t)
                if end <= closes[-1]:
                    return total + wk.covered_before(end) - done
                total += wk.total - done
                t = closes[-1]
            week += 1
        return total

    def segments(self, start: datetime, end: datetime) -> tuple[Segment, ...]:
        """Return the covered stretches within ``[start, end)``, in order, in UTC."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if self.continuous:
            first, last = start.astimezone(UTC), end.astimezone(UTC)
            return (Segment(first, last),) if first < last else ()
        t, stop = _to_us(start), _to_us(end)
        found: list[Segment] = []
        week = (t - _MONDAY0_US) // _WEEK_US - 1
        while t < stop:
            wk = self._week(week)
            closes = wk.closes
            if closes and closes[-1] > t:
                for i in range(bisect_right(closes, t), len(closes)):
                    lo, hi = max(wk.opens[i], t), min(closes[i], stop)
                    if lo >= stop:
                        break
                    found.append(Segment(_from_us(lo), _from_us(hi)))
                t = max(t, closes[-1])
            week += 1
        return tuple(found)

    def contains(self, moment: datetime) -> bool:
        """Return whether ``moment`` is in covered time (closing instants excluded)."""
        _require_aware(moment, "moment")
        if self.continuous:
            return True
        t = _to_us(moment)
        week = (t - _MONDAY0_US) // _WEEK_US - 1
        for offset in range(3):
            wk = self._week(week + offset)
            i = bisect_right(wk.closes, t)
            if i < len(wk.closes) and wk.opens[i] <= t:
                return True
        return False


TWENTY_FOUR_SEVEN = Schedule("24/7", continuous=True)
