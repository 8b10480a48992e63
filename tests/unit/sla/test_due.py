"""first_response_due, explain, evaluate and Policy (defaults and overrides)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.sla import (
    CORE_HOURS,
    DEFAULT_POLICY,
    TWENTY_FOUR_SEVEN,
    NoTargetError,
    Policy,
    SeverityError,
    SlaInputError,
    Target,
    evaluate,
    explain,
    first_response_due,
)

H = timedelta(hours=1)
CREATED = datetime(2026, 11, 27, 15, tzinfo=UTC)  # a Friday


def test_default_policy_is_the_seed_table() -> None:
    """The default is SEV1 1h/SEV2 2h 24/7, SEV3 6h and SEV4-5 24h on core hours."""
    expected = {
        1: (H, "24/7"),
        2: (2 * H, "24/7"),
        3: (6 * H, "core"),
        4: (24 * H, "core"),
        5: (24 * H, "core"),
    }
    got = {s: (t.duration, t.schedule_name) for s, t in DEFAULT_POLICY.targets.items()}
    assert got == expected
    assert DEFAULT_POLICY.name == "default"
    assert CORE_HOURS.day_lengths() == {
        d: 20 * H for d in ("mon", "tue", "wed", "thu", "fri")
    }


@pytest.mark.parametrize(
    ("severity", "due"),
    [
        (1, datetime(2026, 11, 27, 16, tzinfo=UTC)),
        ("sev_2", datetime(2026, 11, 27, 17, tzinfo=UTC)),
        ("SEV 3", datetime(2026, 11, 27, 21, tzinfo=UTC)),
        ("Low (SEV 4)", datetime(2026, 11, 30, 19, tzinfo=UTC)),
        ("severity_5", datetime(2026, 11, 30, 19, tzinfo=UTC)),
    ],
)
def test_first_response_due_per_severity(severity: object, due: datetime) -> None:
    """Each severity form gives the seed's due time, aware UTC."""
    got = first_response_due(CREATED, severity)
    assert got == due and got.tzinfo is UTC


def test_no_severity_has_no_due_time() -> None:
    """An empty severity raises NoTargetError: no SLA applies, so nothing is due."""
    for empty in (None, "", " "):
        with pytest.raises(NoTargetError, match="no SLA applies"):
            first_response_due(CREATED, empty)


def test_bad_inputs_are_rejected_clearly() -> None:
    """Naive datetimes, non-datetimes and unknown severities raise typed errors."""
    with pytest.raises(SlaInputError, match="timezone-aware"):
        first_response_due(datetime(2026, 11, 27, 15), 3)
    with pytest.raises(SlaInputError, match="must be a datetime"):
        first_response_due("2026-11-27T15:00:00Z", 3)  # type: ignore[arg-type]
    with pytest.raises(SeverityError, match="'sev9'"):
        first_response_due(CREATED, "sev9")


def test_policy_without_a_target_for_the_severity() -> None:
    """A policy that lacks a severity names it in NoTargetError."""
    policy = Policy("small", {1: Target(H, TWENTY_FOUR_SEVEN)})
    with pytest.raises(NoTargetError, match="'small' has no target for SEV3"):
        first_response_due(CREATED, 3, policy)


def test_with_overrides_keeps_each_schedule() -> None:
    """Enhanced SLAs change durations and keep the severity's schedule."""
    enhanced = DEFAULT_POLICY.with_overrides({3: 2 * H, "sev_1": timedelta(minutes=30)})
    assert enhanced.targets[3] == Target(2 * H, CORE_HOURS)
    assert enhanced.targets[1].schedule is TWENTY_FOUR_SEVEN
    assert enhanced.targets[4] == DEFAULT_POLICY.targets[4]
    assert enhanced.name == "default+enhanced"
    # Friday 23:00 + 2 core hours: 2 h until Saturday 01:00, due at that close.
    assert first_response_due(datetime(2026, 11, 27, 23, tzinfo=UTC), 3, enhanced) == (
        datetime(2026, 11, 28, 1, tzinfo=UTC)
    )
    assert DEFAULT_POLICY.targets[3].duration == 6 * H  # the original is untouched


def test_with_overrides_rejects_unusable_overrides() -> None:
    """Overriding a missing severity or with a non-positive duration is refused."""
    small = Policy("small", {1: Target(H, TWENTY_FOUR_SEVEN)})
    with pytest.raises(NoTargetError):
        small.with_overrides({2: H})
    with pytest.raises(SlaInputError, match="positive"):
        DEFAULT_POLICY.with_overrides({1: timedelta(0)})


def test_policy_describe_is_a_table() -> None:
    """describe() lists every severity, its target and its schedule."""
    text = DEFAULT_POLICY.describe()
    assert "SEV3" in text and "mon-fri 05:00-01:00 (UTC)" in text
    markdown = DEFAULT_POLICY.describe(markdown=True).splitlines()
    assert markdown[0] == "| Severity | Target | Coverage | Schedule |"
    assert (
        markdown[5] == "| SEV4 | 1d = 24h covered | core | mon-fri 05:00-01:00 (UTC) |"
    )


def test_explain_lists_segments_and_due() -> None:
    """explain() shows the covered segments that add up to the target."""
    got = explain(datetime(2026, 11, 27, 22, tzinfo=UTC), "sev_4")
    assert got.due_at == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert [s.duration for s in got.segments] == [3 * H, 20 * H, H]
    assert got.clock_start == datetime(2026, 11, 27, 22, tzinfo=UTC)
    text = str(got)
    assert "2026-11-30T05:00:00Z -> 2026-12-01T01:00:00Z" in text
    assert text.splitlines()[-1] == "due        2026-12-01T06:00:00Z"


def test_explain_clock_starts_at_next_opening() -> None:
    """Outside coverage the explanation's clock starts at the next opening."""
    got = explain(datetime(2026, 11, 29, 12, tzinfo=UTC), 3)
    assert got.clock_start == datetime(2026, 11, 30, 5, tzinfo=UTC)


def _state(**kw: object):  # type: ignore[no-untyped-def]
    args = {
        "created_at": CREATED,
        "severity": 3,
        "first_response_at": None,
        "now": CREATED,
        "policy": None,
    }
    args.update(kw)
    return evaluate(**args)  # type: ignore[arg-type]


def test_evaluate_statuses() -> None:
    """pending, at_risk (75% elapsed), breached at the due time, met at or before it."""
    due = datetime(2026, 11, 27, 21, tzinfo=UTC)
    at_risk = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)
    state = _state(now=at_risk - timedelta(microseconds=1))
    assert (state.status, state.due_at, state.at_risk_at) == ("pending", due, at_risk)
    assert state.severity == 3 and state.target.duration == 6 * H
    assert _state(now=at_risk).status == "at_risk"
    assert _state(now=due - timedelta(seconds=1)).status == "at_risk"
    assert _state(now=due).status == "breached"
    assert _state(first_response_at=due, now=due + H).status == "met"
    assert _state(
        first_response_at=due + timedelta(microseconds=1), now=due
    ).status == ("breached")


def test_evaluate_at_risk_uses_covered_time() -> None:
    """at_risk_at counts covered time, skipping the weekend like the due time does."""
    state = _state(
        created_at=datetime(2026, 11, 27, 23, tzinfo=UTC),
        severity="sev_3",
        at_risk_fraction=0.5,
    )
    # 3 of 6 hours: 2 h on Friday night, then 1 h from Monday 05:00.
    assert state.at_risk_at == datetime(2026, 11, 30, 6, tzinfo=UTC)
    assert state.due_at == datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_evaluate_without_sla_is_none() -> None:
    """No severity, or no target for it, means no SLA state at all."""
    assert _state(severity=None) is None
    assert _state(severity="", now=CREATED + 100 * H) is None
    small = Policy("small", {1: Target(H, TWENTY_FOUR_SEVEN)})
    assert _state(severity=3, policy=small) is None


def test_evaluate_rejects_bad_arguments() -> None:
    """A naive now or an at-risk fraction outside [0, 1] is an input error."""
    with pytest.raises(SlaInputError, match="now"):
        _state(now=datetime(2026, 11, 27, 16))
    with pytest.raises(SlaInputError, match="at_risk_fraction"):
        _state(at_risk_fraction=1.5)
