"""Zendesk schedules (weekly minutes, holidays) become the engine's Schedule, checked by brute force.

The oracle here never uses the conversion under test: it marks each minute of
the week that some interval covers (a set of minute numbers since Sunday
00:00), derives each day's runs by scanning that set, and hands them to the
second-stepping ReferenceClock (tests/unit/sla/reference.py) together with
holiday dates found by testing every date against every holiday's ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sidecar.sla import (
    BusinessHours,
    Holiday,
    ScheduleBook,
    SlaInputError,
    UnknownZendeskSchedule,
    interval_windows,
    parse_policies,
)
from sidecar.sla.errors import PolicyError
from tests.unit.sla.reference import ReferenceClock

DAY = 1440
WEEK = 7 * DAY
MINUTE = timedelta(minutes=1)
# Python's weekday() of each Zendesk day (Zendesk weeks start on Sunday).
SUNDAY_FIRST_TO_MONDAY_FIRST = {0: 6, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}


@st.composite
def zendesk_intervals(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Disjoint intervals as Zendesk holds them: whole minutes, never across midnight."""
    found = []
    for day in range(7):
        cuts = sorted(set(draw(st.lists(st.integers(0, DAY), min_size=0, max_size=6))))
        # Pairs of cuts are intervals; a day may be closed, and may touch the next.
        for start, end in zip(cuts[::2], cuts[1::2], strict=False):
            if start < end:
                found.append((day * DAY + start, day * DAY + end))
    if not found:
        found.append((DAY + 9 * 60, DAY + 17 * 60))
    return found


def open_minutes(intervals: list[tuple[int, int]]) -> set[int]:
    return {m for start, end in intervals for m in range(start, end)}


def reference_clock(
    timezone: str, intervals: list[tuple[int, int]], holidays: list[Holiday]
) -> ReferenceClock:
    minutes = open_minutes(intervals)
    windows: dict[int, list[tuple[int, int]]] = {}
    for zd_day in range(7):
        runs, start = [], None
        for k in range(DAY + 1):
            inside = k < DAY and zd_day * DAY + k in minutes
            if inside and start is None:
                start = k
            elif not inside and start is not None:
                runs.append((start * 60, k * 60))
                start = None
        windows[SUNDAY_FIRST_TO_MONDAY_FIRST[zd_day]] = runs
    days = set()
    first = min((h.start for h in holidays), default=date(2026, 1, 1))
    last = max((h.end for h in holidays), default=date(2026, 1, 1))
    day = first
    while day <= last:
        if any(h.start <= day <= h.end for h in holidays):
            days.add(day)
        day += timedelta(days=1)
    return ReferenceClock(timezone=timezone, windows=windows, holidays=frozenset(days))


def minute_add(ref: ReferenceClock, start: datetime, minutes: int) -> datetime:
    """Step whole minutes (every edge here is a whole minute in every zone used)."""
    moment = start
    while minutes:
        if ref.covered(moment):
            minutes -= 1
        moment += MINUTE
    return moment


# --- the conversion alone -------------------------------------------------------


@given(zendesk_intervals())
def test_windows_cover_exactly_the_minutes_of_the_intervals(intervals):
    """A minute of the week is inside some window of its day exactly when an interval covers it."""
    windows = interval_windows(intervals)
    minutes = open_minutes(intervals)
    names = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    for m in range(WEEK):
        second = (m % DAY) * 60
        inside = any(w.start <= second < w.end for w in windows[names[m // DAY]])
        assert inside == (m in minutes), m


def test_the_documented_examples():
    """Zendesk's own examples: Monday 09:00-17:00 is 1980-2460, Tuesday 16:00-midnight 3840-4320."""
    windows = interval_windows([(1980, 2460), (3840, 4320), (9360, 10080)])
    assert [str(w) for w in windows["mon"]] == ["09:00-17:00"]
    assert [str(w) for w in windows["tue"]] == ["16:00-24:00"]
    # 10080 is the midnight between Saturday and Sunday: Saturday noon to its end.
    assert [str(w) for w in windows["sat"]] == ["12:00-24:00"]


@pytest.mark.parametrize(
    "interval",
    [(2400, 2900), (-1, 60), (100, 100), (10000, 10081), (1.5, 60), (True, 60)],
)
def test_intervals_zendesk_would_not_hold_are_refused(interval):
    """Across midnight, outside the week, empty or not whole minutes: an error naming it."""
    with pytest.raises(SlaInputError, match="interval"):
        interval_windows([interval])


# --- the whole schedule against the reference clock -----------------------------

_ANCHORS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York springs forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York falls back
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # London springs forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # London falls back
    datetime(2026, 12, 24, 0, tzinfo=UTC),
]
_ZONES = ["America/New_York", "Europe/London", "Asia/Kathmandu", "UTC"]


@st.composite
def holidays(draw: st.DrawFn) -> list[Holiday]:
    found = []
    for index in range(draw(st.integers(0, 3))):
        start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
        length = draw(st.integers(0, 9))  # up to ten days, both ends included
        found.append(Holiday(f"h{index}", start, start + timedelta(days=length)))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    intervals=zendesk_intervals(),
    zone=st.sampled_from(_ZONES),
    days_off=holidays(),
    anchor=st.sampled_from(_ANCHORS),
    offset=st.integers(-3 * DAY, 3 * DAY),
    minutes=st.integers(0, 2 * DAY),
)
@example(  # Sunday 00:00-04:00 across New York's spring-forward gap (3 h of real time)
    intervals=[(0, 240)],
    zone="America/New_York",
    days_off=[],
    anchor=datetime(2026, 3, 8, 4, tzinfo=UTC),
    offset=0,
    minutes=200,
)
@example(  # the same window across the fall-back fold (5 h of real time)
    intervals=[(0, 240)],
    zone="America/New_York",
    days_off=[],
    anchor=datetime(2026, 11, 1, 4, tzinfo=UTC),
    offset=0,
    minutes=290,
)
@example(  # a Friday-to-Monday holiday weekend over a Saturday shift
    intervals=[(1980, 2460), (9360, 10080), (0, 120)],
    zone="America/New_York",
    days_off=[Holiday("long weekend", date(2026, 12, 25), date(2026, 12, 28))],
    anchor=datetime(2026, 12, 24, 0, tzinfo=UTC),
    offset=0,
    minutes=600,
)
def test_zendesk_schedule_matches_a_brute_force_clock(
    intervals, zone, days_off, anchor, offset, minutes
):
    """Coverage and due instants of a converted schedule equal a minute-by-minute count."""
    hours = BusinessHours(1, "Support", zone, tuple(intervals), tuple(days_off))
    schedule = hours.to_schedule()
    ref = reference_clock(zone, intervals, days_off)
    start = anchor + offset * MINUTE
    for step in range(0, 3 * DAY, 37):
        moment = start + step * MINUTE
        assert schedule.contains(moment) == ref.covered(moment), moment
    assert schedule.add(start, minutes * MINUTE) == minute_add(ref, start, minutes)


def test_a_holiday_spanning_days_closes_each_of_them():
    """Christmas Eve to Boxing Day: nothing counts until the Monday after."""
    weekdays = tuple((d * DAY + 540, d * DAY + 1020) for d in range(1, 6))
    hours = BusinessHours(
        7,
        "Support hours",
        "Europe/London",
        weekdays,
        (Holiday("Christmas", date(2026, 12, 24), date(2026, 12, 25)),),
    )
    schedule = hours.to_schedule()
    # Wednesday 23rd 16:00 London (UTC in winter) with 2 h: 1 h Wednesday, 1 h Monday 28th.
    due = schedule.add(datetime(2026, 12, 23, 16, tzinfo=UTC), timedelta(hours=2))
    assert due == datetime(2026, 12, 28, 10, tzinfo=UTC)
    assert hours.holiday_dates() == {date(2026, 12, 24), date(2026, 12, 25)}


def test_a_holiday_ending_before_it_starts_is_refused():
    """end_date before start_date is not a holiday."""
    with pytest.raises(SlaInputError, match="before it starts"):
        Holiday("x", date(2026, 1, 2), date(2026, 1, 1))


# --- the book: names, cache form, changes ------------------------------------------

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
SUPPORT = BusinessHours(
    1,
    "Support hours",
    "America/New_York",
    ((1980, 2460),),
    (Holiday("Christmas", date(2026, 12, 25), date(2026, 12, 25)),),
    zendesk_time_zone="Eastern Time (US & Canada)",
    updated_at="2026-12-01T10:00:00Z",
)
EMEA = BusinessHours(2, "EMEA", "Europe/London", ((1980, 2460), (3420, 3900)))


def test_an_unknown_name_lists_the_account_schedules():
    """The error names every schedule the account has, and a near miss."""
    book = ScheduleBook((SUPPORT, EMEA), NOW)
    with pytest.raises(UnknownZendeskSchedule) as caught:
        book.schedule("support hours")
    message = str(caught.value)
    assert "'Support hours' (id 1), 'EMEA' (id 2)" in message
    assert "did you mean 'Support hours'" in message
    assert book.schedule(2).name == "zendesk:EMEA"


def test_two_schedules_of_one_name_are_told_apart_by_id():
    """A name two schedules share is refused with their ids."""
    twin = BusinessHours(3, "EMEA", "Europe/Paris", ((1980, 2460),))
    book = ScheduleBook((EMEA, twin), NOW)
    with pytest.raises(UnknownZendeskSchedule, match="id 2, id 3"):
        book.find("EMEA")
    assert book.find(3) is twin


def test_the_cache_form_reads_back_the_same_schedules():
    """to_json/from_json keep every schedule, its holidays and when it was fetched."""
    book = ScheduleBook((SUPPORT, EMEA), NOW)
    again = ScheduleBook.from_json(book.to_json())
    assert again.cached and again.fetched_at == NOW
    assert again.same_schedules(book)
    assert again.schedule("Support hours") == book.schedule("Support hours")


def test_changes_name_the_schedule_and_what_changed():
    """Hours, holidays, additions and removals each get a line naming the schedule."""
    old = ScheduleBook((SUPPORT, EMEA), NOW)
    edited = BusinessHours(
        1,
        "Support hours",
        "America/New_York",
        ((1920, 2460),),
        (Holiday("Christmas", date(2026, 12, 24), date(2026, 12, 25)),),
    )
    new = ScheduleBook((edited,), NOW + timedelta(minutes=5))
    assert new.changes(old) == [
        "'Support hours' (id 1): hours mon 09:00-17:00 -> mon 08:00-17:00",
        "'Support hours' (id 1): holiday added: 2026-12-24..2026-12-25 Christmas",
        "'Support hours' (id 1): holiday removed: 2026-12-25 Christmas",
        "'EMEA' (id 2): removed",
    ]
    assert new.changes(new) == []


# --- the loader ------------------------------------------------------------------


def _policy_data(schedule: object) -> dict[str, object]:
    return {
        "policies": {
            "p": {
                "sev1": {"target": "1h", "schedule": "24/7"},
                "sev3": {"target": "6h", "schedule": schedule},
            }
        }
    }


def test_a_target_may_name_a_zendesk_schedule():
    """schedule = { zendesk = "Support hours" } resolves through the lookup given."""
    book = ScheduleBook((SUPPORT, EMEA), NOW)
    policy = parse_policies(
        _policy_data({"zendesk": "Support hours"}), zendesk=book.schedule
    )["p"]
    schedule = policy.targets[3].schedule
    assert schedule is book.schedule("Support hours")
    assert book.origin(schedule) is SUPPORT
    assert policy.rows()[2][2] == "zendesk:Support hours"


def test_a_named_schedule_may_be_a_zendesk_schedule():
    """[schedules.support] zendesk = "EMEA" is usable by name in every target."""
    book = ScheduleBook((SUPPORT, EMEA), NOW)
    data = _policy_data("support")
    data["schedules"] = {"support": {"zendesk": "EMEA"}}
    policy = parse_policies(data, zendesk=book.schedule)["p"]
    assert policy.targets[3].schedule.name == "zendesk:EMEA"


def test_an_unknown_zendesk_schedule_is_a_policy_error_naming_the_account_ones():
    """The error names the key and the schedules the account has."""
    book = ScheduleBook((SUPPORT, EMEA), NOW)
    with pytest.raises(PolicyError) as caught:
        parse_policies(_policy_data({"zendesk": "Nights"}), zendesk=book.schedule)
    assert caught.value.key == "policies.p.sev3.schedule.zendesk"
    assert "'Support hours' (id 1), 'EMEA' (id 2)" in caught.value.problem


def test_without_a_lookup_a_zendesk_schedule_is_refused_clearly():
    """No account schedules at hand: the error says so instead of guessing."""
    with pytest.raises(PolicyError, match="not available here"):
        parse_policies(_policy_data({"zendesk": "Support hours"}))


def test_a_zendesk_window_across_the_dst_changes_counts_real_time():
    """Sunday 00:00-04:00 in New York is 3 h on spring-forward day and 5 h on fall-back day."""
    hours = BusinessHours(1, "Nights", NY_ZONE, ((0, 240),))
    schedule = hours.to_schedule()
    spring = datetime(2026, 3, 8, 5, tzinfo=UTC)  # 00:00 EST
    fall = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    assert schedule.between(spring, spring + timedelta(hours=6)) == timedelta(hours=3)
    assert schedule.between(fall, fall + timedelta(hours=6)) == timedelta(hours=5)


NY_ZONE = "America/New_York"
