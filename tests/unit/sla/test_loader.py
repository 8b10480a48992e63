"""Loading policies from TOML, and the validation errors admins see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.errors import ConfigError
from sidecar.sla import (
    TWENTY_FOUR_SEVEN,
    PolicyError,
    first_response_due,
    load_policies,
    load_policy,
)

H = timedelta(hours=1)

ISSUE_EXAMPLE = """
[schedules.core]            # "24/7" is built in
timezone = "UTC"            # any IANA zone
mon = ["05:00-01:00"]       # an end at or before its start runs past midnight
tue = ["05:00-01:00"]
holidays = ["2026-12-25"]   # local dates
[policies.enterprise]
day = "24h"
sev1 = { target = "1h", schedule = "24/7" }
sev3 = { target = "6h", schedule = "core" }   # targets: "90m", "6h", "1h30m", "1d"
"""

FULL = """
default_policy = "gold"
[schedules.core]
mon = ["05:00-01:00"]
tue = ["05:00-01:00"]
wed = ["05:00-01:00"]
thu = ["05:00-01:00"]
fri = ["05:00-01:00"]
[schedules.ny]
timezone = "America/New_York"
mon = ["09:00-12:00", "13:00-17:00"]
fri = ["09:00-17:00"]
holidays = [2026-12-25, "2027-01-01"]
[policies.gold]
day = "schedule"
description = "one schedule day per 'd'"
sev1 = { target = "90m", schedule = "24/7" }
sev2 = { target = "1h30m", schedule = "ny" }
sev4 = { target = "1d", schedule = "core" }
[policies.silver]
sev4 = { target = "1d", schedule = "core" }
sev5 = { target = "2d", schedule = "24/7" }
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a policy file and return its path."""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_issue_example_loads(tmp_path: Path) -> None:
    """The issue's example file loads and drives first_response_due."""
    policy = load_policy(write(tmp_path, ISSUE_EXAMPLE), name="enterprise")
    assert policy.name == "enterprise" and policy.day == "24h"
    assert sorted(policy.targets) == [1, 3]
    assert policy.targets[1].schedule is TWENTY_FOUR_SEVEN
    core = policy.targets[3].schedule
    assert core.holidays == {date(2026, 12, 25)} and core.timezone.key == "UTC"
    # Tuesday 22:00 -> 3 h until Wednesday 01:00, then nothing until next Monday 05:00.
    created = datetime(2026, 11, 24, 22, tzinfo=UTC)
    assert first_response_due(created, 3, policy) == datetime(
        2026, 11, 30, 8, tzinfo=UTC
    )
    assert load_policy(write(tmp_path, ISSUE_EXAMPLE)) == policy  # the only policy


def test_day_schedule_and_default_policy(tmp_path: Path) -> None:
    """day = "schedule" makes 1d one schedule day; default_policy picks the policy."""
    path = write(tmp_path, FULL)
    gold = load_policy(path)
    assert gold.name == "gold" and gold.description == "one schedule day per 'd'"
    assert gold.targets[4].duration == 20 * H and gold.targets[4].label == "1d"
    assert (
        gold.targets[1].duration
        == gold.targets[2].duration
        == 90 * timedelta(minutes=1)
    )
    silver = load_policy(path, "silver")
    assert silver.targets[4].duration == 24 * H and silver.targets[5].duration == 48 * H
    assert set(load_policies(path)) == {"gold", "silver"}
    # SEV4 on gold, Monday 10:00: 15 h Monday, 5 h Tuesday.
    created = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert first_response_due(created, 4, gold) == datetime(
        2026, 11, 24, 10, tzinfo=UTC
    )


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("extra = 1\n" + FULL, "extra", "unknown key"),
        (
            _replace(
                FULL, 'timezone = "America/New_York"', 'timezone = "America/Nowhere"'
            ),
            "schedules.ny.timezone",
            "unknown time zone 'America/Nowhere'",
        ),
        (
            _replace(FULL, 'fri = ["09:00-17:00"]', 'fri = ["9 to 5"]'),
            "schedules.ny.fri",
            "'9 to 5' is not 'HH:MM-HH:MM'",
        ),
        (
            _replace(FULL, 'fri = ["09:00-17:00"]', 'fri = "09:00-17:00"'),
            "schedules.ny.fri",
            "must be a list",
        ),
        (
            _replace(FULL, 'fri = ["09:00-17:00"]', 'friday = ["09:00-17:00"]'),
            "schedules.ny.friday",
            "unknown key",
        ),
        (
            _replace(
                FULL,
                'mon = ["09:00-12:00", "13:00-17:00"]',
                'mon = ["09:00-12:00", "11:00-17:00"]',
            ),
            "schedules.ny",
            "overlaps",
        ),
        (
            _replace(FULL, '"2027-01-01"', '"2027-13-01"'),
            "schedules.ny.holidays",
            "'2027-13-01' is not a date",
        ),
        (
            FULL + '[schedules."24/7"]\nmon = ["09:00-17:00"]\n',
            "schedules.24/7",
            "built in",
        ),
        (
            _replace(FULL, 'schedule = "ny"', 'schedule = "nyc"'),
            "policies.gold.sev2.schedule",
            "unknown schedule 'nyc'",
        ),
        (
            _replace(FULL, 'target = "90m"', 'target = "1.5h"'),
            "policies.gold.sev1.target",
            "'1.5h' is not like",
        ),
        (
            _replace(FULL, 'target = "90m"', 'target = "0m"'),
            "policies.gold.sev1.target",
            "greater than zero",
        ),
        (
            _replace(
                FULL,
                'sev1 = { target = "90m", schedule = "24/7" }',
                'sev1 = { target = "90m" }',
            ),
            "policies.gold.sev1.schedule",
            "missing",
        ),
        (
            _replace(
                FULL, 'sev1 = { target = "90m", schedule = "24/7" }', 'sev1 = "90m"'
            ),
            "policies.gold.sev1",
            "must be a table",
        ),
        (
            _replace(
                FULL,
                'sev1 = { target = "90m", schedule = "24/7" }',
                'sev6 = { target = "90m", schedule = "24/7" }',
            ),
            "policies.gold.sev6",
            "unknown key",
        ),
        (
            _replace(FULL, 'day = "schedule"', 'day = "business"'),
            "policies.gold.day",
            'must be "24h" or "schedule"',
        ),
        (
            _replace(
                FULL,
                'sev4 = { target = "1d", schedule = "core" }\n[policies.silver]',
                'sev4 = { target = "1d", schedule = "ny" }\n[policies.silver]',
            ),
            "policies.gold.sev4.target",
            "equal length in schedule 'ny' (mon 7h, fri 8h)",
        ),
        (
            _replace(FULL, 'default_policy = "gold"', 'default_policy = "bronze"'),
            "default_policy",
            "no policy named 'bronze'",
        ),
        ('[policies.empty]\nday = "24h"\n', "policies.empty", "defines no targets"),
        ('[schedules.x]\nmon = ["09:00-17:00"]\n', "policies", "no policies defined"),
        ('[schedules.x]\ntimezone = "UTC"\n', "schedules.x", "at least one window"),
        ("[policies\n", "", "invalid TOML"),
    ],
)
def test_validation_errors_name_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    """Each invalid file raises PolicyError naming the file, the key and the problem."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    # Several problems come as one error listing each (PolicyErrors.problems).
    errors = getattr(caught.value, "problems", [caught.value])
    assert all(error.file == str(path) for error in errors)
    assert any(error.key == key and problem in error.problem for error in errors)
    if len(errors) == 1:
        assert str(caught.value).startswith(f"{path}: {key + ': ' if key else ''}")
    assert isinstance(caught.value, ConfigError)


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    """A missing file or an unknown policy name are PolicyErrors too."""
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.toml")
    with pytest.raises(PolicyError, match=r"policies.bronze: no policy named 'bronze'"):
        load_policy(write(tmp_path, FULL), "bronze")


def test_several_policies_need_a_name(tmp_path: Path) -> None:
    """Without a name or default_policy, a file with two policies is ambiguous."""
    text = _replace(FULL, 'default_policy = "gold"\n', "")
    with pytest.raises(PolicyError, match="choose one by name or set default_policy"):
        load_policy(write(tmp_path, text))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """A file with five mistakes lists all five in one error, each with its key."""
    text = """
[schedules.core]
timezone = "Mars/Olympus"
mon = ["09:00-17:00"]
[schedules.late]
mon = ["25:00-26:00"]
[policies.p]
colour = "blue"
sev1 = { target = "1 fortnight", schedule = "24/7" }
sev2 = { target = "2h", schedule = "nowhere" }
sev3 = { target = "6h", schedule = "core" }
"""
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    keys = sorted(e.key for e in error.problems)  # type: ignore[attr-defined]
    assert keys == [
        "policies.p.colour",
        "policies.p.sev1.target",
        "policies.p.sev2.schedule",
        "schedules.core.timezone",
        "schedules.late.mon",
    ]
    assert str(error).startswith(f"{path}: 5 problems:\n  - ")
