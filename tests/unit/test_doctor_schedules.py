"""Doctor's Zendesk schedule lines: names found or not, the service's copy current or behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sidecar.doctor.checks import check_zendesk_schedules
from sidecar.doctor.checks.lines import Status
from sidecar.sla import BusinessHours, ScheduleBook

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
SUPPORT = BusinessHours(1, "Support hours", "America/New_York", ((1980, 2460),))
EMEA = BusinessHours(2, "EMEA", "Europe/London", ((1980, 2460),))


def _statuses(lines):  # type: ignore[no-untyped-def]
    return [(line.status, line.check) for line in lines]


def test_a_found_schedule_and_a_current_copy_are_ok():
    """Each named schedule found, and the stored copy equal to Zendesk: all ok."""
    lines = check_zendesk_schedules(
        ["Support hours"],
        [SUPPORT, EMEA],
        stored=ScheduleBook((SUPPORT, EMEA), NOW - timedelta(minutes=3)),
        now=NOW,
        refresh_seconds=300,
    )
    assert _statuses(lines) == [
        (Status.OK, "Zendesk schedule 'Support hours'"),
        (Status.OK, "Zendesk schedules copy"),
    ]


def test_an_unknown_name_fails_with_the_account_schedules():
    """The fail line lists what the account has and says how to fix it."""
    (line,) = check_zendesk_schedules(
        ["Nights"], [SUPPORT, EMEA], stored=None, now=NOW, refresh_seconds=300
    )
    assert line.status is Status.FAIL
    assert "'Support hours' (id 1), 'EMEA' (id 2)" in line.detail
    assert "Admin Center" in line.next_step


def test_a_copy_behind_zendesk_warns_with_the_change():
    """The service still computes with an older copy: a warning naming the difference."""
    edited = BusinessHours(1, "Support hours", "America/New_York", ((1920, 2460),))
    lines = check_zendesk_schedules(
        ["Support hours"],
        [edited],
        stored=ScheduleBook((SUPPORT,), NOW - timedelta(hours=2)),
        now=NOW,
        refresh_seconds=300,
    )
    warning = lines[-1]
    assert warning.status is Status.WARN
    assert "08:00-17:00" in warning.detail and "is a worker running?" in warning.detail


def test_no_copy_yet_warns_that_a_start_without_zendesk_would_refuse():
    """No stored copy: say what that means for a start while Zendesk is down."""
    lines = check_zendesk_schedules(
        [1], [SUPPORT], stored=None, now=NOW, refresh_seconds=300
    )
    assert lines[-1].status is Status.WARN and "refuse to start" in lines[-1].detail


def test_a_matching_copy_not_confirmed_for_long_warns_about_the_worker():
    """Equal to Zendesk, but no refresh for three intervals: is a worker running?"""
    lines = check_zendesk_schedules(
        ["Support hours"],
        [SUPPORT],
        stored=ScheduleBook((SUPPORT,), NOW - timedelta(hours=1)),
        now=NOW,
        refresh_seconds=300,
    )
    assert lines[-1].status is Status.WARN and "no refresh since" in lines[-1].detail
