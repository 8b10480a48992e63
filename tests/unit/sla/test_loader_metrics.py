"""The metrics form of a severity in the policy file, and its errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sidecar.sla import DEFAULT_POLICY, NoTargetError, PolicyError, load_policy

H = timedelta(hours=1)

METRICS_FILE = """
[schedules.core]
mon = ["05:00-01:00"]
tue = ["05:00-01:00"]
wed = ["05:00-01:00"]
thu = ["05:00-01:00"]
fri = ["05:00-01:00"]
[policies.enterprise]
sev1 = { target = "1h", schedule = "24/7" }
[policies.enterprise.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "4h", schedule = "core", at_risk = 0.5 }
periodic_update = { target = "1d", schedule = "core" }
resolution = { target = "5d", schedule = "core", pause = ["pending", "hold"] }
[policies.enterprise.sev3]
resolution = { target = "10d", schedule = "core", pause = ["pending"] }
"""


def write(tmp_path: Path, text: str) -> Path:
    """Write a policy file and return its path."""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_metrics_form_loads_next_to_the_one_line_form(tmp_path: Path) -> None:
    """sev1 stays first response only; sev2 has four metrics; sev3 resolution only."""
    policy = load_policy(write(tmp_path, METRICS_FILE))
    assert list(policy.metric_targets(1)) == ["first_response"]
    sev2 = policy.metric_targets("sev_2")
    assert list(sev2) == [
        "first_response",
        "next_reply",
        "periodic_update",
        "resolution",
    ]
    assert sev2["next_reply"].at_risk == 0.5
    assert sev2["next_reply"].schedule.name == "core"
    assert sev2["periodic_update"].duration == 24 * H
    assert sev2["resolution"].pause == frozenset({"pending", "hold"})
    assert sev2["resolution"].duration == 5 * 24 * H
    assert list(policy.metric_targets(3)) == ["resolution"]
    assert 3 not in policy.targets  # no first response for SEV3
    assert policy.metric_targets(4) == {}


def test_default_policy_is_first_response_only() -> None:
    """Nothing changes for today's users: the seed's policy has no other metric."""
    assert DEFAULT_POLICY.metrics == {}
    assert all(
        list(DEFAULT_POLICY.metric_targets(s)) == ["first_response"]
        for s in range(1, 6)
    )


def test_show_lists_each_metric(tmp_path: Path) -> None:
    """describe() adds one row per metric under its severity."""
    text = load_policy(write(tmp_path, METRICS_FILE)).describe()
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("SEV2"))
    assert lines[row].split()[:3] == ["SEV2", "2h", "24/7"]
    assert lines[row + 1].split()[:2] == ["next_reply", "4h,"]
    assert "at risk 50%" in lines[row + 1]
    assert lines[row + 3].split()[:2] == ["resolution", "5d"]
    assert "paused in pending/hold" in lines[row + 3]
    sev3 = next(line for line in lines if line.startswith("SEV3"))
    assert sev3.split()[:2] == ["SEV3", "none"]
    default = DEFAULT_POLICY.describe()
    assert "next_reply" not in default and len(default.splitlines()) == 7


def test_enhanced_overrides_per_metric(tmp_path: Path) -> None:
    """An organization may override each metric's target; schedules stay."""
    policy = load_policy(write(tmp_path, METRICS_FILE))
    enhanced = policy.with_overrides(
        {
            2: {"first_response": 30 * timedelta(minutes=1), "resolution": 48 * H},
            1: H / 2,
        }
    )
    sev2 = enhanced.metric_targets(2)
    assert sev2["first_response"].duration == H / 2
    assert sev2["resolution"].duration == 48 * H
    assert sev2["resolution"].pause == frozenset({"pending", "hold"})
    assert sev2["resolution"].schedule.name == "core"
    assert sev2["next_reply"] == policy.metric_targets(2)["next_reply"]
    assert enhanced.targets[1].duration == H / 2
    with pytest.raises(NoTargetError, match="no next_reply target for SEV3"):
        policy.with_overrides({3: {"next_reply": H}})
    with pytest.raises(NoTargetError, match="no target for SEV3"):
        policy.with_overrides({3: H})


@pytest.mark.parametrize(
    ("entry", "key", "problem"),
    [
        ('next_reply = { target = "4h" }', "sev2.next_reply.schedule", "missing"),
        (
            'next_reply = { target = "4h", schedule = "core", at_risk = 1.5 }',
            "sev2.next_reply.at_risk",
            "fraction of the target from 0 to 1",
        ),
        (
            'resolution = { target = "4h", schedule = "core", pause = ["solved"] }',
            "sev2.resolution.pause",
            "cannot pause in 'solved'",
        ),
        (
            'resolution = { target = "4h", schedule = "core", pause = "pending" }',
            "sev2.resolution.pause",
            "must be a list",
        ),
        (
            'first_response = { target = "4h", schedule = "core", pause = ["hold"] }',
            "sev2.first_response.pause",
            "unknown key",
        ),
        ('next_reply = "4h"', "sev2.next_reply", "must be a table like"),
        (
            'first_reply = { target = "4h", schedule = "core" }',
            "sev2.first_reply",
            "unknown key",
        ),
        (
            'resolution = { target = "soon", schedule = "core" }',
            "sev2.resolution.target",
            "is not like",
        ),
    ],
)
def test_malformed_metrics_are_named(
    tmp_path: Path, entry: str, key: str, problem: str
) -> None:
    """Each bad metric entry names its key and the expected form."""
    text = f'[schedules.core]\nmon = ["05:00-01:00"]\n[policies.p.sev2]\n{entry}\n'
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    errors = getattr(caught.value, "problems", [caught.value])
    assert any(e.key == f"policies.p.{key}" and problem in e.problem for e in errors), [
        str(e) for e in errors
    ]


def test_all_metric_problems_at_once(tmp_path: Path) -> None:
    """Problems in several metrics and severities are listed together."""
    text = """
[policies.p.sev1]
next_reply = { target = "4h", schedule = "nowhere" }
resolution = { target = "0h", schedule = "24/7" }
periodic_update = { target = "4h", schedule = "nowhere", pause = ["closed"] }
[policies.p.sev2]
periodic_update = { target = "4h", schedule = "24/7", at_risk = true }
"""
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    keys = sorted(e.key for e in caught.value.problems)  # type: ignore[attr-defined]
    assert keys == [
        "policies.p.sev1.next_reply.schedule",
        "policies.p.sev1.periodic_update.pause",
        "policies.p.sev1.periodic_update.schedule",
        "policies.p.sev1.resolution.target",
        "policies.p.sev2.periodic_update.at_risk",
    ]
