"""Pinned edge cases of the business clock: window edges, weekends, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sidecar.sla import (
    CORE_HOURS,
    TWENTY_FOUR_SEVEN,
    Schedule,
    Segment,
    SlaInputError,
    first_response_due,
)
from tests.unit.sla.cases import ALL_DAYS, SCHEDULES, WEEKDAYS

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)
SEC = timedelta(seconds=1)
US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    """Build an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


# 2026-11-23 is a Monday; core hours are Mon-Fri 05:00 -> 01:00 next day, UTC.
@pytest.mark.parametrize(
    ("created", "due"),
    [
        (utc(2026, 11, 23, 5, 0, 0), utc(2026, 11, 23, 11, 0, 0)),  # at the opening
        (utc(2026, 11, 23, 4, 59, 59), utc(2026, 11, 23, 11, 0, 0)),  # 1 s before it
        (utc(2026, 11, 23, 5, 0, 1), utc(2026, 11, 23, 11, 0, 1)),  # 1 s after it
        (
            utc(2026, 11, 24, 0, 59, 59),
            utc(2026, 11, 24, 10, 59, 59),
        ),  # 1 s before close
        (
            utc(2026, 11, 24, 1, 0, 0),
            utc(2026, 11, 24, 11, 0, 0),
        ),  # at the close: outside
        (utc(2026, 11, 24, 1, 0, 1), utc(2026, 11, 24, 11, 0, 0)),  # 1 s after close
        (utc(2026, 11, 23, 0, 30), utc(2026, 11, 23, 11, 0)),  # Monday 00:30: closed
        (
            utc(2026, 11, 24, 0, 30),
            utc(2026, 11, 24, 10, 30),
        ),  # Tuesday 00:30: Monday's
        (utc(2026, 11, 27, 15, 0), utc(2026, 11, 27, 21, 0)),  # the README example
        (utc(2026, 11, 27, 19, 0), utc(2026, 11, 28, 1, 0)),  # runs out at Sat 01:00
        (
            utc(2026, 11, 27, 19, 0, 1),
            utc(2026, 11, 30, 5, 0, 1),
        ),  # 1 s past it: Monday
        (
            utc(2026, 11, 28, 0, 30),
            utc(2026, 11, 30, 10, 30),
        ),  # Saturday 00:30: Friday's
        (utc(2026, 11, 28, 1, 0), utc(2026, 11, 30, 11, 0)),  # Saturday 01:00: closed
        (utc(2026, 11, 29, 12, 0), utc(2026, 11, 30, 11, 0)),  # Sunday noon
    ],
)
def test_sev3_core_hours_edges(created: datetime, due: datetime) -> None:
    """SEV3 (6 core hours) is due at the pinned instant near window edges, weekends."""
    assert first_response_due(created, 3) == due


@pytest.mark.parametrize(
    ("created", "due"),
    [
        (utc(2026, 11, 23, 10), utc(2026, 11, 24, 14)),  # ARCHITECTURE.md's example
        (utc(2026, 11, 27, 22), utc(2026, 12, 1, 6)),  # Fri 3 h + Mon 20 h + Tue 1 h
        (utc(2028, 2, 28, 10), utc(2028, 2, 29, 14)),  # into a leap day
        (utc(2028, 2, 29, 10), utc(2028, 3, 1, 14)),  # out of a leap day
        (utc(2024, 2, 29, 22), utc(2024, 3, 4, 6)),  # leap day, Thursday night
        (utc(2026, 12, 31, 10), utc(2027, 1, 1, 14)),  # across the year end
    ],
)
def test_one_day_is_24_covered_hours(created: datetime, due: datetime) -> None:
    """SEV4 "1 day" is 24 core hours, across weekends, leap days and year ends."""
    assert first_response_due(created, 4) == due


def test_sub_second_inputs_are_exact() -> None:
    """Microseconds survive the arithmetic untouched."""
    assert first_response_due(utc(2026, 11, 23, 10, 0, 0, 123456), 3) == utc(
        2026, 11, 23, 16, 0, 0, 123456
    )
    # 1 µs of Monday's window is left, the rest runs from Tuesday 05:00.
    created = utc(2026, 11, 24, 0, 59, 59, 999999)
    assert first_response_due(created, 3) == utc(2026, 11, 24, 10, 59, 59, 999999)
    assert CORE_HOURS.add(created, US) == utc(2026, 11, 24, 1)
    assert CORE_HOURS.add(created, 2 * US) == utc(2026, 11, 24, 5, 0, 0, 1)


def test_offset_inputs_give_utc_output() -> None:
    """An input with any UTC offset gives the same instant out, in UTC."""
    created = datetime(2026, 11, 27, 10, 0, tzinfo=NY)  # 15:00 UTC
    due = first_response_due(created, 3)
    assert due == utc(2026, 11, 27, 21) and due.tzinfo is UTC


def test_twenty_four_seven_is_plain_addition() -> None:
    """SEV1 and SEV2 run on 24/7: plain addition, weekends included."""
    assert first_response_due(utc(2026, 11, 28, 23, 30), 1) == utc(2026, 11, 29, 0, 30)
    assert first_response_due(utc(2026, 11, 28, 23, 30), "sev_2") == utc(
        2026, 11, 29, 1, 30
    )
    assert TWENTY_FOUR_SEVEN.between(utc(2026, 1, 1), utc(2026, 1, 2)) == 24 * H


def test_zero_duration_is_the_start() -> None:
    """Adding nothing returns the start itself, even outside coverage."""
    assert CORE_HOURS.add(utc(2026, 11, 29, 12), timedelta(0)) == utc(2026, 11, 29, 12)


def test_negative_duration_and_naive_datetimes_are_rejected() -> None:
    """Negative durations and naive datetimes raise SlaInputError."""
    with pytest.raises(SlaInputError, match="negative"):
        CORE_HOURS.add(utc(2026, 11, 23), -SEC)
    with pytest.raises(SlaInputError, match="timezone-aware"):
        CORE_HOURS.add(datetime(2026, 11, 23), H)
    with pytest.raises(SlaInputError, match="timezone-aware"):
        CORE_HOURS.between(datetime(2026, 11, 23), utc(2026, 11, 24))
    with pytest.raises(SlaInputError, match="timedelta"):
        CORE_HOURS.add(utc(2026, 11, 23), 3600)  # type: ignore[arg-type]


def test_between_counts_half_open_windows_and_is_antisymmetric() -> None:
    """between() counts [a, b) covered time and is negative when b precedes a."""
    monday = utc(2026, 11, 23)
    assert CORE_HOURS.between(monday, monday + 7 * 24 * H) == 100 * H
    assert CORE_HOURS.between(utc(2026, 11, 24, 1), utc(2026, 11, 24, 5)) == timedelta(
        0
    )
    assert CORE_HOURS.between(utc(2026, 11, 24, 5), utc(2026, 11, 23, 5)) == -20 * H


def test_segments_list_the_covered_stretches() -> None:
    """segments() gives the covered stretches clipped to the range."""
    got = CORE_HOURS.segments(utc(2026, 11, 27, 22), utc(2026, 11, 30, 6))
    assert got == (
        Segment(utc(2026, 11, 27, 22), utc(2026, 11, 28, 1)),
        Segment(utc(2026, 11, 30, 5), utc(2026, 11, 30, 6)),
    )
    assert [s.duration for s in got] == [3 * H, H]


def _with_holidays(*days: str) -> Schedule:
    return Schedule(
        "core+holidays",
        timezone="UTC",
        windows={day: ["05:00-01:00"] for day in WEEKDAYS},
        holidays=[date.fromisoformat(d) for d in days],
    )


def test_holidays_spanning_a_weekend() -> None:
    """Friday and Monday holidays around a weekend push the clock to Tuesday."""
    schedule = _with_holidays("2026-12-25", "2026-12-28")
    # Thursday's window opened on Thursday, so its 3 h until Friday 01:00 still count.
    assert schedule.add(utc(2026, 12, 24, 22), 6 * H) == utc(2026, 12, 29, 8)
    assert schedule.between(utc(2026, 12, 25, 1), utc(2026, 12, 29, 5)) == timedelta(0)


def test_holiday_removes_only_windows_opening_that_day() -> None:
    """A holiday keeps the previous day's window that runs past midnight into it."""
    schedule = _with_holidays("2026-12-25")
    assert schedule.contains(utc(2026, 12, 25, 0, 30))
    assert not schedule.contains(utc(2026, 12, 25, 12))
    assert schedule.add(utc(2026, 12, 25, 0, 30), H) == utc(2026, 12, 28, 5, 30)


def test_holiday_at_year_end() -> None:
    """New Year's Day as a holiday moves a Thursday SEV4 to the next Monday."""
    schedule = _with_holidays("2027-01-01")
    assert schedule.add(utc(2026, 12, 31, 10), 24 * H) == utc(2027, 1, 4, 14)


def _nine_to_five(zone: str, *, days: tuple[str, ...] = ALL_DAYS) -> Schedule:
    return Schedule(
        "9-5", timezone=zone, windows={day: ["09:00-17:00"] for day in days}
    )


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("America/New_York", date(2026, 3, 8)),  # spring forward
        ("America/New_York", date(2026, 11, 1)),  # fall back
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
    ],
)
def test_nine_to_five_is_eight_hours_on_dst_days(zone: str, day: date) -> None:
    """A 09:00-17:00 day holds 8 business hours on the days the clocks change."""
    schedule = _nine_to_five(zone)
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    next_midnight = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )
    assert schedule.between(midnight, next_midnight) == 8 * H
    nine = datetime.combine(day, datetime.min.time(), tzinfo=tz).replace(hour=9)
    assert schedule.add(midnight, 8 * H) == nine.replace(hour=17).astimezone(UTC)


def test_ny_business_day_before_and_after_spring_forward() -> None:
    """Friday 16:00 EST plus 2 business hours is Monday 10:00 EDT (14:00 UTC)."""
    schedule = _nine_to_five("America/New_York", days=WEEKDAYS)
    friday = datetime(2026, 3, 6, 16, tzinfo=NY)
    assert schedule.add(friday, 2 * H) == utc(2026, 3, 9, 14)


def _window(zone: str, day: str, text: str) -> Schedule:
    return Schedule("one", timezone=zone, windows={day: [text]})


def test_gap_wall_time_moves_forward_by_the_gap() -> None:
    """A window opening at 02:30 on spring-forward day opens at 03:30 EDT."""
    schedule = _window("America/New_York", "sun", "02:30-05:00")
    start = utc(2026, 3, 8, 0)
    assert schedule.add(start, SEC) == utc(2026, 3, 8, 7, 30, 1)  # 03:30:01 EDT
    assert schedule.between(start, utc(2026, 3, 9)) == 90 * timedelta(minutes=1)
    # The same window on an ordinary Sunday is 2.5 h long.
    assert schedule.between(utc(2026, 3, 15), utc(2026, 3, 16)) == 150 * timedelta(
        minutes=1
    )


def test_covered_time_across_the_gap_is_real_elapsed_time() -> None:
    """01:00-03:00 on spring-forward day is one real hour in New York and London."""
    ny = _window("America/New_York", "sun", "01:00-03:00")
    assert ny.between(utc(2026, 3, 8), utc(2026, 3, 9)) == H
    assert ny.add(utc(2026, 3, 8), H) == utc(2026, 3, 8, 7)  # 03:00 EDT
    london = _window("Europe/London", "sun", "00:30-03:00")
    assert london.between(utc(2026, 3, 29), utc(2026, 3, 30)) == 90 * timedelta(
        minutes=1
    )


def test_window_inside_the_gap_inverts_to_nothing() -> None:
    """02:30-03:15 on spring-forward day becomes [03:30, 03:15) EDT: no covered time."""
    schedule = _window("America/New_York", "sun", "02:30-03:15")
    assert schedule.between(utc(2026, 3, 8), utc(2026, 3, 9)) == timedelta(0)
    assert schedule.add(utc(2026, 3, 8), SEC) == utc(2026, 3, 15, 6, 30, 1)


def test_ambiguous_wall_time_takes_its_first_occurrence() -> None:
    """01:00-02:00 on fall-back day runs 01:00 EDT to 02:00 EST: two real hours."""
    schedule = _window("America/New_York", "sun", "01:00-02:00")
    assert schedule.between(utc(2026, 11, 1), utc(2026, 11, 2)) == 2 * H
    assert schedule.add(utc(2026, 11, 1), SEC) == utc(
        2026, 11, 1, 5, 0, 1
    )  # 01:00:01 EDT
    # Created at 01:30 EST (the second 01:30) leaves 30 minutes.
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)
    assert schedule.add(second, 30 * timedelta(minutes=1)) == utc(2026, 11, 1, 7)
    both_ambiguous = _window("America/New_York", "sun", "01:30-01:45")
    assert both_ambiguous.between(utc(2026, 11, 1), utc(2026, 11, 2)) == timedelta(
        minutes=15
    )


def test_london_fall_back_first_occurrence() -> None:
    """00:30-01:30 on London's fall-back day closes at the first 01:30 (BST)."""
    schedule = _window("Europe/London", "sun", "00:30-01:30")
    assert schedule.between(utc(2026, 10, 24), utc(2026, 10, 26)) == H
    assert schedule.add(utc(2026, 10, 24), H) == utc(2026, 10, 25, 0, 30)


def test_dst_shifted_windows_never_double_count() -> None:
    """A window pushed past the next one by the gap covers the overlap only once."""
    schedule = SCHEDULES["ny-night"]
    # Sat 22:00 EST (03:00Z) -> 02:40 pushed to 03:40 EDT (07:40Z); Sun 03:00-04:00
    # EDT (07:00Z-08:00Z) overlaps it: 5 h in all, not 4 h 40 m + 1 h.
    saturday = utc(2026, 3, 8, 3)
    assert schedule.between(saturday, utc(2026, 3, 9)) == 5 * H
    assert schedule.add(saturday, 5 * H) == utc(2026, 3, 8, 8)
    assert schedule.segments(saturday, utc(2026, 3, 8, 8)) == (
        Segment(saturday, utc(2026, 3, 8, 7, 40)),
        Segment(utc(2026, 3, 8, 7, 40), utc(2026, 3, 8, 8)),
    )


def test_midnight_and_24h_windows() -> None:
    """ "00:00-00:00" is a whole day, and "00:00-24:00" is the same day."""
    a = _window("UTC", "mon", "00:00-00:00")
    b = _window("UTC", "mon", "00:00-24:00")
    monday = utc(2026, 11, 23)
    assert a.between(monday, monday + 7 * 24 * H) == 24 * H
    assert a == _window("UTC", "mon", "00:00-00:00") and a.windows == b.windows
    assert a.add(monday, 24 * H) == utc(2026, 11, 24)


def test_contains_is_half_open() -> None:
    """An opening instant is inside a window, a closing instant is not."""
    assert CORE_HOURS.contains(utc(2026, 11, 23, 5))
    assert not CORE_HOURS.contains(utc(2026, 11, 24, 1))
    assert CORE_HOURS.contains(utc(2026, 11, 24, 1) - US)


def test_long_durations_walk_many_weeks() -> None:
    """52 weeks of 100 core hours end at the 52nd Saturday 01:00 close."""
    start = utc(2026, 11, 23, 5)
    due = CORE_HOURS.add(start, 5200 * H)
    assert due == utc(2027, 11, 20, 1)
    assert CORE_HOURS.between(start, due) == 5200 * H


@pytest.mark.parametrize(
    ("windows", "problem"),
    [
        ({"mon": ["09:00-17:00", "16:00-18:00"]}, "overlaps"),
        ({"mon": ["20:00-10:00"], "tue": ["09:00-17:00"]}, "overlaps"),
        ({"sun": ["20:00-10:00"], "mon": ["09:00-17:00"]}, "overlaps"),
        ({"mon": ["9-17"]}, "not 'HH:MM-HH:MM'"),
        ({"mon": ["25:00-17:00"]}, "invalid start"),
        ({"mon": ["09:00-24:30"]}, "invalid end"),
        ({"funday": ["09:00-17:00"]}, "not one of"),
        ({}, "at least one window"),
    ],
)
def test_invalid_schedules_are_rejected(
    windows: dict[str, list[str]], problem: str
) -> None:
    """Overlapping, malformed or empty windows are rejected with the problem named."""
    with pytest.raises(ValueError, match=problem):
        Schedule("bad", timezone="UTC", windows=windows)


def test_unknown_zone_is_rejected() -> None:
    """An unknown IANA zone is rejected by name."""
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Schedule("bad", timezone="Mars/Olympus", windows={"mon": ["09:00-17:00"]})


def test_windows_as_time_pairs_equal_strings() -> None:
    """(time, time) pairs describe the same schedule as "HH:MM-HH:MM" strings."""
    pairs = Schedule("s", timezone="UTC", windows={0: [(time(5), time(1))]})
    assert pairs == Schedule("s", timezone="UTC", windows={"mon": ["05:00-01:00"]})
    assert pairs.describe() == "mon 05:00-01:00 (UTC)"
