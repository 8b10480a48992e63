"""Per-metric enhanced SLAs in the entitlements file: reading, errors, and applying them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.domain.entitlement import (
    OrgEntitlement,
    applicable_overrides,
    enhanced_policy,
)
from sidecar.entitlements import EntitlementsError, EntitlementsFile, parse_entitlements
from sidecar.entitlements.check import check_overrides, describe_overrides
from sidecar.sla import DEFAULT_POLICY, METRICS, Policy, Target
from sidecar.sla.schedule import TWENTY_FOUR_SEVEN

H = timedelta(hours=1)


def parse(sla: Any) -> OrgEntitlement:
    file = parse_entitlements({"orgs": {"42": {"sla": sla}}})
    entry = file.lookup(org_id=42)
    assert entry is not None
    return entry


def problems(sla: Any) -> list[str]:
    with pytest.raises(EntitlementsError) as info:
        parse_entitlements({"orgs": {"42": {"sla": sla}}})
    return info.value.problems


def with_all_metrics() -> Policy:
    """The default policy with every metric set for SEV 1 and SEV 2."""
    extra = {
        m: Target(4 * H, TWENTY_FOUR_SEVEN, pause=frozenset({"pending"}))
        if m == "resolution"
        else Target(2 * H, TWENTY_FOUR_SEVEN)
        for m in METRICS[1:]
    }
    return Policy(
        "full", DEFAULT_POLICY.targets, metrics={1: dict(extra), 2: dict(extra)}
    )


def test_the_one_duration_form_still_means_first_response() -> None:
    entry = parse({"sev1": "30m", "sev3": "4h"})
    assert dict(entry.sla_overrides) == {1: timedelta(minutes=30), 3: 4 * H}
    assert dict(entry.metric_overrides) == {}


def test_a_table_sets_durations_by_metric() -> None:
    entry = parse({"sev2": {"first_response": "1h", "next_reply": "2h"}, "sev1": "15m"})
    assert dict(entry.sla_overrides) == {2: H, 1: timedelta(minutes=15)}
    assert {s: dict(m) for s, m in entry.metric_overrides.items()} == {
        2: {"next_reply": 2 * H}
    }


def test_errors_name_the_place_the_value_the_form_and_an_example() -> None:
    found = problems(
        {
            "sev2": {
                "next_replyy": "2h",
                "resolution": "two days",
                "first_response": 5,
            },
            "sev3": {},
        }
    )
    assert len(found) == 4
    by_place = {p.split(": ")[1]: p for p in found}
    unknown = by_place["sla.sev2.next_replyy"]
    assert "unknown metric 'next_replyy'" in unknown
    assert "first_response, next_reply, periodic_update, resolution" in unknown
    assert 'next_reply = "2h"' in unknown  # the example
    bad = by_place["sla.sev2.resolution"]
    assert "'two days'" in bad and "'90m'" in bad and 'next_reply = "2h"' in bad
    assert "5 must be a duration string" in by_place["sla.sev2.first_response"]
    assert "empty table" in by_place["sla.sev3"]


def test_only_targets_the_policy_sets_are_applied_and_check_warns_of_the_rest() -> None:
    policy = with_all_metrics()
    first = {1: timedelta(minutes=30), 4: 2 * H}
    others = {1: {"next_reply": H}, 3: {"resolution": H}}
    assert applicable_overrides(policy, first, others) == {
        1: {"next_reply": H, "first_response": timedelta(minutes=30)},
        4: {"first_response": 2 * H},
    }
    enhanced = enhanced_policy(policy, first, others)
    assert enhanced.metric_targets(1)["next_reply"].duration == H
    assert enhanced.metric_targets(1)["periodic_update"].duration == 2 * H
    assert enhanced.metric_targets(1)["first_response"].duration == timedelta(
        minutes=30
    )
    entry = OrgEntitlement(
        key="42", org_id=42, sla_overrides=first, metric_overrides=others
    )
    warnings = check_overrides(EntitlementsFile(orgs=(entry,)), policy)
    assert warnings == [
        "org 42: sla: sev3.resolution has no target in policy 'full', so the "
        "override is ignored"
    ]
    assert check_overrides(EntitlementsFile(orgs=(entry,)), DEFAULT_POLICY) == [
        "org 42: sla: sev1.next_reply has no target in policy 'default', so the "
        "override is ignored",
        "org 42: sla: sev3.resolution has no target in policy 'default', so the "
        "override is ignored",
    ]


def test_describe_reads_as_before_for_the_one_duration_form() -> None:
    assert describe_overrides({1: timedelta(minutes=30), 3: 4 * H}, {}) == (
        "SEV 1 30m, SEV 3 4h"
    )
    assert describe_overrides({2: H}, {2: {"next_reply": 2 * H}}) == (
        "SEV 2 first_response 1h, next_reply 2h"
    )


durations = st.integers(min_value=1, max_value=48 * 60).map(
    lambda m: timedelta(minutes=m)
)
severities = st.integers(min_value=1, max_value=5)


@given(
    first=st.dictionaries(severities, durations),
    others=st.dictionaries(
        severities,
        st.dictionaries(st.sampled_from(METRICS[1:]), durations, min_size=1),
    ),
)
def test_applying_overrides_never_fails_and_changes_only_their_durations(
    first: dict[int, timedelta], others: dict[int, dict[str, timedelta]]
) -> None:
    """Whatever the file says, the policy keeps its targets and schedules; only
    the durations the file names (where the policy has them) change."""
    policy = with_all_metrics()
    enhanced = enhanced_policy(policy, first, others)
    for severity in range(1, 6):
        before, after = (
            policy.metric_targets(severity),
            enhanced.metric_targets(severity),
        )
        assert after.keys() == before.keys()
        for metric, target in after.items():
            assert target.schedule == before[metric].schedule
            assert target.pause == before[metric].pause
            wanted = (
                first.get(severity)
                if metric == "first_response"
                else others.get(severity, {}).get(metric)
            )
            assert target.duration == (wanted or before[metric].duration)
