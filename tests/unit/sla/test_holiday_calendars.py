"""Public-holiday calendars and RFC 5545 company days in policy schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.commands.sla import COMMANDS
from sidecar.sla import PolicyError, Schedule, load_policy
from sidecar.sla.holidays import PublicHolidays, RecurringDays

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
QUARTER_END = "FREQ=MONTHLY;BYMONTH=3,6,9,12;BYDAY=-1FR"
POLICY = f"""
[schedules.ny]
timezone = "America/New_York"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
holidays = {{ country = "US", subdiv = "NY", dates = ["2027-08-02"], rules = ["{QUARTER_END}"] }}
[policies.p]
sev3 = {{ target = "6h", schedule = "ny" }}
"""

# Checked by hand against a 2027 calendar: MLK = third Monday of January,
# Memorial Day = last Monday of May, Labor Day = first Monday of September,
# Thanksgiving = fourth Thursday of November; July 4 is a Sunday (observed
# Monday 5th) and Christmas a Saturday (observed Friday 24th).
US_NY_2027 = {
    date(2027, 1, 18),
    date(2027, 5, 31),
    date(2027, 7, 5),
    date(2027, 9, 6),
    date(2027, 11, 25),
    date(2027, 12, 24),
}
# The last Friday of each quarter of 2027 (Mar 31 is a Wednesday, Jun 30 a
# Wednesday, Sep 30 a Thursday, Dec 31 a Friday).
QUARTER_ENDS_2027 = {
    date(2027, 3, 26),
    date(2027, 6, 25),
    date(2027, 9, 24),
    date(2027, 12, 31),
}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


def ny(policy_file: Path) -> Schedule:
    return load_policy(policy_file).targets[3].schedule


def test_calendar_days_are_the_hand_checked_ones(policy_file: Path) -> None:
    """The schedule skips US-NY public holidays (observed), quarter ends and listed dates."""
    days = ny(policy_file).holidays_of(2027)
    assert set(days) >= US_NY_2027 | QUARTER_ENDS_2027
    assert days[date(2027, 8, 2)] == "listed"
    assert "Thanksgiving" in days[date(2027, 11, 25)]
    assert "company day" in days[date(2027, 12, 31)]
    # Not holidays: an ordinary Wednesday, and Good Friday (not a US-NY holiday).
    assert date(2027, 3, 24) not in days and date(2027, 3, 26) in days


def test_due_time_skips_a_public_holiday(policy_file: Path) -> None:
    """SEV 3 (6 h) raised Wednesday 2027-11-24 15:00 New York skips Thanksgiving."""
    schedule = ny(policy_file)
    start = datetime(2027, 11, 24, 20, 0, tzinfo=UTC)  # 15:00 EST
    # 2 h on Wednesday, Thanksgiving closed, 4 h on Friday from 09:00 EST.
    assert schedule.add(start, timedelta(hours=6)) == datetime(
        2027, 11, 26, 18, 0, tzinfo=UTC
    )


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2027, 1, 1),
        max_value=datetime(2027, 11, 30),
        timezones=st.just(UTC),
    ),
    hours=st.integers(min_value=0, max_value=120),
)
def test_calendars_feed_the_same_arithmetic(start: datetime, hours: int) -> None:
    """A schedule with calendars computes exactly what one with the expanded dates listed does."""
    named = Schedule(
        "ny",
        timezone="America/New_York",
        windows=WEEKDAYS,
        calendars=(PublicHolidays("US", "NY"), RecurringDays(QUARTER_END)),
    )
    listed = Schedule(
        "ny",
        timezone="America/New_York",
        windows=WEEKDAYS,
        holidays=set(named.holidays_of(2027)) | set(named.holidays_of(2028)),
    )
    duration = timedelta(hours=hours)
    assert named.add(start, duration) == listed.add(start, duration)
    end = start + timedelta(days=10)
    assert named.between(start, end) == listed.between(start, end)


@pytest.mark.parametrize(
    ("spec", "key", "problem"),
    [
        ('{ country = "XX" }', "schedules.ny.holidays.country", "XX not available"),
        ('{ country = "US", subdiv = "ZZ" }', "schedules.ny.holidays.country", "ZZ"),
        ('{ subdiv = "NY" }', "schedules.ny.holidays.subdiv", "needs a country"),
        ('{ rules = ["FREQ=SOMETIMES"] }', "schedules.ny.holidays.rules", "RFC 5545"),
        ('{ region = "x" }', "schedules.ny.holidays.region", "unknown key"),
    ],
)
def test_bad_calendars_are_named(
    tmp_path: Path, spec: str, key: str, problem: str
) -> None:
    """An unknown country or subdivision, or a bad rule, names the key and the problem."""
    path = tmp_path / "policy.toml"
    path.write_text(
        '[schedules.ny]\nmon = ["09:00-17:00"]\n'
        f"holidays = {spec}\n"
        '[policies.p]\nsev3 = { target = "6h", schedule = "ny" }\n'
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.key == key and problem in caught.value.problem


def test_policy_holidays_command_lists_days_and_reasons(policy_file: Path) -> None:
    """`policy holidays --year 2027` prints each skipped day with its weekday and why."""
    main = click.Group("sidecar", commands=COMMANDS)
    result = CliRunner().invoke(
        main, ["policy", "holidays", "--year", "2027", "--policy", str(policy_file)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("schedule ny (") and lines[0].endswith("21 days")
    assert "  2027-11-25 Thu  Thanksgiving Day (US-NY)" in lines
    assert "  2027-08-02 Mon  listed" in lines
    default = CliRunner().invoke(main, ["policy", "holidays", "--year", "2027"])
    assert "schedule core" in default.output and "0 days" in default.output
