"""Hypothesis properties of Schedule.add/between, and a brute-force cross-check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sidecar.sla import TWENTY_FOUR_SEVEN, Schedule
from tests.unit.sla.cases import REFERENCES, SCHEDULES

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
US = timedelta(microseconds=1)

# Instants near the 2026 DST transitions of New York and London, where bugs live.
_TRANSITIONS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 12, 25, 0, tzinfo=UTC),
]
_ZONES = st.sampled_from([UTC, NY, LONDON, ZoneInfo("Asia/Kolkata")])

near_transitions = st.builds(
    lambda anchor, offset: anchor + timedelta(microseconds=offset),
    st.sampled_from(_TRANSITIONS),
    st.integers(-4 * 86_400 * 10**6, 4 * 86_400 * 10**6),
)
anywhere = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=_ZONES
)
instants = st.one_of(near_transitions, anywhere)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
    st.sampled_from([timedelta(hours=h) for h in (1, 6, 8, 20, 24)]),
)
schedules = st.sampled_from(sorted(SCHEDULES))

# Pinned: window edges, a spring-forward gap, a fall-back fold, a holiday, a 24 h day.
_PINS = [
    ("core", datetime(2026, 11, 24, 1, tzinfo=UTC), timedelta(hours=6)),
    ("core", datetime(2026, 11, 27, 19, tzinfo=UTC), timedelta(hours=6)),
    ("core", datetime(2026, 11, 23, 10, tzinfo=UTC), timedelta(hours=24)),
    ("ny", datetime(2026, 3, 6, 16, tzinfo=NY), timedelta(hours=8)),
    ("ny", datetime(2026, 12, 24, 12, tzinfo=NY), timedelta(hours=24)),
    ("ny-night", datetime(2026, 3, 7, 22, tzinfo=NY), timedelta(hours=5)),
    ("ny-night", datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), timedelta(hours=1)),
    ("london", datetime(2026, 3, 29, 0, 30, tzinfo=LONDON), timedelta(hours=3)),
    ("london", datetime(2026, 10, 25, 1, 30, tzinfo=LONDON), timedelta(minutes=90)),
]


def pinned(test):  # type: ignore[no-untyped-def]
    """Attach the DST/holiday/edge pins to a property over (name, start, duration)."""
    for name, start, duration in _PINS:
        test = example(name=name, start=start, duration=duration)(test)
    return test


@given(name=schedules, start=instants, duration=durations)
@pinned
def test_never_before_start(name: str, start: datetime, duration: timedelta) -> None:
    """The due time is never before the start."""
    assert SCHEDULES[name].add(start, duration) >= start


@given(name=schedules, start=instants, duration=durations)
@pinned
def test_between_inverts_add(name: str, start: datetime, duration: timedelta) -> None:
    """between(s, add(s, d)) == d exactly."""
    schedule = SCHEDULES[name]
    assert schedule.between(start, schedule.add(start, duration)) == duration


@given(name=schedules, start=instants, a=durations, b=durations)
@example(
    name="core",
    start=datetime(2026, 11, 27, 19, tzinfo=UTC),
    a=timedelta(hours=6),
    b=timedelta(0),
)
@example(
    name="core",
    start=datetime(2026, 11, 27, 19, tzinfo=UTC),
    a=timedelta(hours=6),
    b=timedelta(seconds=1),
)
def test_monotone_in_duration(
    name: str, start: datetime, a: timedelta, b: timedelta
) -> None:
    """A longer duration is never due earlier."""
    schedule = SCHEDULES[name]
    low, high = sorted((a, b))
    assert schedule.add(start, low) <= schedule.add(start, high)


@given(name=schedules, start=instants, a=durations, b=durations)
@example(
    name="core",
    start=datetime(2026, 11, 27, 19, tzinfo=UTC),
    a=timedelta(hours=6),
    b=timedelta(hours=1),
)
@example(
    name="ny-night",
    start=datetime(2026, 3, 7, 22, tzinfo=NY),
    a=timedelta(hours=4, minutes=40),
    b=timedelta(minutes=30),
)
def test_add_is_associative(
    name: str, start: datetime, a: timedelta, b: timedelta
) -> None:
    """add(add(s, a), b) == add(s, a + b)."""
    schedule = SCHEDULES[name]
    assert schedule.add(schedule.add(start, a), b) == schedule.add(start, a + b)


@given(start=instants, duration=durations)
@example(start=datetime(2026, 3, 8, 1, 59, tzinfo=NY), duration=timedelta(minutes=2))
@example(start=datetime(2026, 11, 1, 1, 30, tzinfo=NY), duration=timedelta(hours=1))
def test_twenty_four_seven_is_plain_addition(
    start: datetime, duration: timedelta
) -> None:
    """On 24/7 the due time is start + duration in real (UTC) time, across DST too."""
    due = TWENTY_FOUR_SEVEN.add(start, duration)
    assert due == start.astimezone(UTC) + duration
    assert TWENTY_FOUR_SEVEN.between(start, due) == duration


@given(name=schedules, start=instants, duration=durations.filter(bool))
@pinned
def test_result_lies_in_open_time(
    name: str, start: datetime, duration: timedelta
) -> None:
    """For d > 0 the due time is inside a window or exactly at its close."""
    schedule = SCHEDULES[name]
    due = schedule.add(start, duration)
    assert due > start
    assert schedule.contains(due - US)


@given(name=schedules, start=instants, end=instants)
def test_segments_sum_to_between(name: str, start: datetime, end: datetime) -> None:
    """The segments of a range are ordered, disjoint and add up to between()."""
    schedule = SCHEDULES[name]
    segments = schedule.segments(start, end)
    assert sum((s.duration for s in segments), timedelta(0)) == max(
        schedule.between(start, end), timedelta(0)
    )
    for earlier, later in pairwise(segments):
        assert earlier.end <= later.start


def test_a_fresh_schedule_agrees_with_a_warm_one() -> None:
    """Results do not depend on which weeks happen to be cached already."""
    start = datetime(2026, 3, 7, 22, tzinfo=NY)
    warm = SCHEDULES["ny-night"]
    for weeks in range(0, 40, 3):
        moment = start + timedelta(weeks=weeks)
        cold = Schedule(
            "cold", timezone=warm.timezone, windows=dict(enumerate(warm.windows))
        )
        assert cold.add(moment, timedelta(hours=3)) == warm.add(
            moment, timedelta(hours=3)
        )


# Whole-second inputs, durations up to 10 h: the reference steps one second at a time.
whole_seconds = st.one_of(near_transitions, anywhere).map(
    lambda moment: moment.replace(microsecond=0)
)
short = st.integers(0, 10 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=25, deadline=None)
@given(name=schedules, start=whole_seconds, duration=short)
@example(
    name="ny-night",
    start=datetime(2026, 3, 8, 6, 59, tzinfo=UTC),
    duration=timedelta(minutes=50),
)
@example(
    name="london",
    start=datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    duration=timedelta(hours=2),
)
@example(
    name="core",
    start=datetime(2026, 11, 27, 19, tzinfo=UTC),
    duration=timedelta(hours=6),
)
def test_add_matches_brute_force(
    name: str, start: datetime, duration: timedelta
) -> None:
    """add() agrees with a second-stepping reference clock."""
    assert SCHEDULES[name].add(start, duration) == REFERENCES[name].add(start, duration)


@settings(max_examples=25, deadline=None)
@given(
    name=schedules,
    start=whole_seconds,
    span=st.integers(0, 3 * 86_400).map(lambda s: timedelta(seconds=s)),
)
@example(
    name="london", start=datetime(2026, 3, 28, 12, tzinfo=UTC), span=timedelta(days=1)
)
def test_between_matches_brute_force(
    name: str, start: datetime, span: timedelta
) -> None:
    """between() agrees with counting covered seconds one by one."""
    # Real elapsed time: aware + timedelta is wall-clock arithmetic in Python, so
    # a start inside a DST gap would otherwise give an end before the start.
    end = (start.astimezone(UTC) + span).astimezone(start.tzinfo)
    assert SCHEDULES[name].between(start, end) == REFERENCES[name].between(start, end)
