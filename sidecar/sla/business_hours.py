"""The account's own Zendesk schedules, as values: weekly minutes to windows, holidays to dates.

Zendesk's Business Hours API (developer.zendesk.com, "Schedules") describes a
schedule as a time zone, ``intervals`` and holidays:

- ``start_time``/``end_time`` are minutes since Sunday 00:00 in the schedule's
  zone; an interval "can't span calendar days", so it ends at midnight at the
  latest; ``0`` and ``10080`` both mean the midnight between Saturday and
  Sunday (so an end of ``10080`` is Saturday 24:00).
- a holiday has ``start_date`` and ``end_date`` (ISO 8601 dates) and "can be
  a single day or multiple days in length": both ends are holidays.

:meth:`BusinessHours.to_schedule` turns that into the one :class:`Schedule`
the engine already computes with (a holiday removes the windows that open on
its date; Zendesk's windows never cross midnight, so that is the whole day),
so there is no second business-time implementation. Nothing here does I/O:
the adapter (sidecar.zendesk.schedules) reads the API, the application
(sidecar.tasks.schedules) caches and refreshes, the loader resolves names
through the lookup it is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sidecar.sla.errors import SlaInputError
from sidecar.sla.schedule import DAY_NAMES, Schedule, Window

__all__ = [
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "BusinessHours",
    "Holiday",
    "ScheduleBook",
    "UnknownZendeskSchedule",
    "interval_windows",
]

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# Zendesk's week starts on Sunday ("minutes since Sunday at midnight").
_SUNDAY_FIRST = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Zendesk creates holidays at most two years back and ahead ("Create
# Holiday"); a longer one is not something the API gives, so it is refused
# rather than expanded into thousands of dates.
MAX_HOLIDAY_DAYS = 5 * 366
# What a Zendesk schedule is called in the policy (and in `explain`).
SCHEDULE_PREFIX = "zendesk:"


class UnknownZendeskSchedule(SlaInputError, LookupError):
    """A policy names a Zendesk schedule the account does not have (or several)."""


def interval_windows(intervals: Iterable[tuple[int, int]]) -> dict[str, list[Window]]:
    """Convert Zendesk intervals (minutes since Sunday 00:00) into daily windows by day name.

    Raises :class:`SlaInputError` for an interval Zendesk would not hold: not
    whole minutes, outside the week, empty, or across a calendar day.
    """
    days: dict[str, list[Window]] = {name: [] for name in DAY_NAMES}
    for pair in intervals:
        start, end = pair
        if isinstance(start, bool) or isinstance(end, bool):
            raise SlaInputError(f"interval {pair!r} is not minutes")
        if not isinstance(start, int) or not isinstance(end, int):
            raise SlaInputError(f"interval {pair!r} is not whole minutes")
        if not 0 <= start < end <= MINUTES_PER_WEEK:
            raise SlaInputError(
                f"interval {pair!r} is not within the week (0 <= start < end <= "
                f"{MINUTES_PER_WEEK} minutes since Sunday 00:00)"
            )
        day = start // MINUTES_PER_DAY
        if (end - 1) // MINUTES_PER_DAY != day:
            raise SlaInputError(f"interval {pair!r} spans a calendar day")
        offset = day * MINUTES_PER_DAY
        days[_SUNDAY_FIRST[day]].append(
            Window((start - offset) * 60, (end - offset) * 60)
        )
    return days


@dataclass(frozen=True)
class Holiday:
    """A holiday of a Zendesk schedule; ``start`` and ``end`` are both holidays."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise SlaInputError(
                f"holiday {self.name!r} ends ({self.end}) before it starts ({self.start})"
            )
        if (self.end - self.start).days >= MAX_HOLIDAY_DAYS:
            raise SlaInputError(
                f"holiday {self.name!r} is longer than {MAX_HOLIDAY_DAYS} days"
            )

    def days(self) -> Iterator[date]:
        """Every date of the holiday, both ends included."""
        for offset in range((self.end - self.start).days + 1):
            yield self.start + timedelta(days=offset)

    def __str__(self) -> str:
        span = (
            str(self.start) if self.start == self.end else f"{self.start}..{self.end}"
        )
        return f"{span} {self.name}"


@dataclass(frozen=True)
class BusinessHours:
    """One schedule of the account, as the Business Hours API gave it.

    ``timezone`` is the IANA zone (the adapter maps Zendesk's Rails names);
    ``zendesk_time_zone`` is the name Zendesk shows, kept for messages.
    """

    id: int
    name: str
    timezone: str
    intervals: tuple[tuple[int, int], ...]
    holidays: tuple[Holiday, ...] = ()
    zendesk_time_zone: str = ""
    updated_at: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "intervals",
            tuple(sorted((int(s), int(e)) for s, e in self.intervals)),
        )
        object.__setattr__(
            self, "holidays", tuple(sorted(self.holidays, key=lambda h: h.start))
        )

    @property
    def schedule_name(self) -> str:
        """The name of the engine's schedule: ``zendesk:<name>``."""
        return SCHEDULE_PREFIX + self.name

    def holiday_dates(self) -> set[date]:
        """Every date some holiday covers."""
        return {day for holiday in self.holidays for day in holiday.days()}

    def to_schedule(self) -> Schedule:
        """Build the engine's schedule; SlaInputError naming this schedule when unusable."""
        try:
            windows: dict[object, list[Window]] = {
                day: found for day, found in interval_windows(self.intervals).items()
            }
            return Schedule(
                self.schedule_name,
                timezone=self.timezone,
                windows=windows,
                holidays=self.holiday_dates(),
            )
        except ValueError as exc:
            raise SlaInputError(
                f"Zendesk schedule {self.name!r} (id {self.id}) cannot be used: {exc}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the cache in the queue store)."""
        return {
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "zendesk_time_zone": self.zendesk_time_zone,
            "updated_at": self.updated_at,
            "intervals": [list(pair) for pair in self.intervals],
            "holidays": [
                {"name": h.name, "start": str(h.start), "end": str(h.end)}
                for h in self.holidays
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessHours:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            id=int(data["id"]),
            name=str(data["name"]),
            timezone=str(data["timezone"]),
            zendesk_time_zone=str(data.get("zendesk_time_zone", "")),
            updated_at=str(data.get("updated_at", "")),
            intervals=tuple((int(s), int(e)) for s, e in data["intervals"]),
            holidays=tuple(
                Holiday(
                    str(h["name"]),
                    date.fromisoformat(h["start"]),
                    date.fromisoformat(h["end"]),
                )
                for h in data["holidays"]
            ),
        )

    def differences(self, old: BusinessHours) -> list[str]:
        """What changed from ``old`` (the same schedule before), in words."""
        found = []
        if old.name != self.name:
            found.append(f"renamed from {old.name!r}")
        if old.timezone != self.timezone:
            found.append(f"time zone {old.timezone} -> {self.timezone}")
        if old.intervals != self.intervals:
            found.append(
                f"hours {_describe(old.intervals)} -> {_describe(self.intervals)}"
            )
        added = set(self.holidays) - set(old.holidays)
        removed = set(old.holidays) - set(self.holidays)
        for holiday in sorted(added, key=lambda h: h.start):
            found.append(f"holiday added: {holiday}")
        for holiday in sorted(removed, key=lambda h: h.start):
            found.append(f"holiday removed: {holiday}")
        return found


def _describe(intervals: tuple[tuple[int, int], ...]) -> str:
    """``mon-fri 09:00-17:00; sat 10:00-14:00``: consecutive equal days grouped."""
    days = interval_windows(intervals)
    groups: list[tuple[str, str, str]] = []  # first day, last day, windows
    for day in DAY_NAMES:
        text = ", ".join(str(w) for w in sorted(days[day]))
        if groups and groups[-1][2] == text:
            groups[-1] = (groups[-1][0], day, text)
        else:
            groups.append((day, day, text))
    parts = [
        (first if first == last else f"{first}-{last}") + f" {text}"
        for first, last, text in groups
        if text
    ]
    return "; ".join(parts) or "none"


@dataclass(frozen=True)
class ScheduleBook:
    """Every schedule of the account at one moment: what the loader resolves names in.

    ``fetched_at`` is when Zendesk answered; ``cached`` says this copy was read
    from the cache (Zendesk was not asked, or did not answer).
    """

    schedules: tuple[BusinessHours, ...]
    fetched_at: datetime
    cached: bool = False
    _built: dict[int, Schedule] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.fetched_at.tzinfo is None:
            raise SlaInputError("fetched_at must be timezone-aware")

    def names(self) -> str:
        """The account's schedules, for messages: ``'Support hours' (id 1), ...``."""
        return (
            ", ".join(f"{s.name!r} (id {s.id})" for s in self.schedules)
            or "no schedules"
        )

    def find(self, ref: str | int) -> BusinessHours:
        """The schedule named ``ref`` (or with that id); UnknownZendeskSchedule otherwise."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            found = [s for s in self.schedules if s.id == ref]
        else:
            found = [s for s in self.schedules if s.name == ref]
        if len(found) == 1:
            return found[0]
        if found:
            raise UnknownZendeskSchedule(
                f"several Zendesk schedules are named {ref!r} "
                f"({', '.join(f'id {s.id}' for s in found)}): name one by its id, "
                "like { zendesk = " + str(found[0].id) + " }"
            )
        hint = ""
        if isinstance(ref, str):
            close = [s for s in self.schedules if s.name.casefold() == ref.casefold()]
            if close:
                hint = f" (did you mean {close[0].name!r}?)"
        raise UnknownZendeskSchedule(
            f"no Zendesk schedule {ref!r}{hint}; the account has: {self.names()}"
        )

    def schedule(self, ref: str | int) -> Schedule:
        """The engine's schedule for ``ref``, built once per book."""
        hours = self.find(ref)
        built = self._built.get(hours.id)
        if built is None:
            built = self._built[hours.id] = hours.to_schedule()
        return built

    def origin(self, schedule: Schedule) -> BusinessHours | None:
        """The Zendesk schedule an engine schedule was built from (None: not from here)."""
        for hours in self.schedules:
            if self._built.get(hours.id) is schedule:
                return hours
        return None

    def same_schedules(self, other: ScheduleBook | None) -> bool:
        """True when ``other`` holds the same schedules (whenever it was fetched)."""
        return other is not None and set(self.schedules) == set(other.schedules)

    def changes(self, old: ScheduleBook | None) -> list[str]:
        """What changed since ``old``, one line per change, naming each schedule."""
        before = {s.id: s for s in (old.schedules if old else ())}
        after = {s.id: s for s in self.schedules}
        found = []
        for sid, hours in after.items():
            previous = before.get(sid)
            label = f"{hours.name!r} (id {sid})"
            if previous is None:
                found.append(f"{label}: added")
            else:
                found.extend(f"{label}: {d}" for d in hours.differences(previous))
        for sid, hours in before.items():
            if sid not in after:
                found.append(f"{hours.name!r} (id {sid}): removed")
        return found

    def to_json(self) -> str:
        """The cache's form."""
        return json.dumps(
            {
                "fetched_at": self.fetched_at.astimezone(UTC).isoformat(),
                "schedules": [s.to_dict() for s in self.schedules],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ScheduleBook:
        """Read a cached copy (``cached`` is set); ValueError when unreadable."""
        try:
            data = json.loads(text)
            return cls(
                schedules=tuple(BusinessHours.from_dict(s) for s in data["schedules"]),
                fetched_at=datetime.fromisoformat(data["fetched_at"]),
                cached=True,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a cached schedule list: {exc!r}") from None
