"""Schedules shared by the SLA tests, each with its brute-force twin."""

from __future__ import annotations

from datetime import date

from sidecar.sla import CORE_HOURS, Schedule
from tests.unit.sla.reference import ReferenceClock

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")

US_HOLIDAYS_2026 = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01",
        "2026-01-19",
        "2026-02-16",
        "2026-05-25",
        "2026-07-03",
        "2026-09-07",
        "2026-10-12",
        "2026-11-11",
        "2026-11-26",
        "2026-12-25",
    )
)

SPECS: dict[str, tuple[str, dict[str, list[str]], frozenset[date]]] = {
    "core": ("UTC", {day: ["05:00-01:00"] for day in WEEKDAYS}, frozenset()),
    "ny": (
        "America/New_York",
        {day: ["09:00-17:00"] for day in WEEKDAYS},
        US_HOLIDAYS_2026,
    ),
    # Windows that touch the New York DST transitions at 02:00 on Sundays.
    "ny-night": (
        "America/New_York",
        {
            "sat": [
                "22:00-02:40"
            ],  # ends in the spring gap: 03:40 EDT, past sun's open
            "sun": ["03:00-04:00", "23:30-00:15"],  # the last one crosses the week
            "wed": ["01:00-02:00"],
        },
        frozenset(),
    ),
    # London, split days, a window across midnight, one holiday that opens on a Friday.
    "london": (
        "Europe/London",
        {
            "mon": ["00:30-01:30", "09:00-12:00", "13:00-17:30"],
            "fri": ["20:00-06:00"],
            "sun": ["01:00-02:00"],
        },
        frozenset({date(2026, 12, 25), date(2026, 3, 27)}),
    ),
}


def schedule(name: str) -> Schedule:
    """Build the engine's schedule for a spec."""
    if name == "core":
        return CORE_HOURS
    zone, windows, holidays = SPECS[name]
    return Schedule(name, timezone=zone, windows=windows, holidays=holidays)


def _seconds(text: str) -> tuple[int, int]:
    # Parsed independently of the engine's parse_window on purpose.
    start, end = (int(t[:2]) * 3600 + int(t[3:5]) * 60 for t in text.split("-"))
    return start, end if end > start else end + 86_400


def reference(name: str) -> ReferenceClock:
    """Build the brute-force twin of a spec."""
    zone, windows, holidays = SPECS[name]
    by_day: dict[int, list[tuple[int, int]]] = {}
    for day, texts in windows.items():
        by_day[ALL_DAYS.index(day)] = [_seconds(text) for text in texts]
    return ReferenceClock(timezone=zone, windows=by_day, holidays=holidays)


SCHEDULES = {name: schedule(name) for name in SPECS}
REFERENCES = {name: reference(name) for name in SPECS}
