"""What-if for the metrics beyond the first response: the pure comparison and its counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sidecar.domain.models import Comment, Ticket, TicketMetricSet
from sidecar.entitlements import Entitlement
from sidecar.report.source import needs_status_history
from sidecar.sla import DEFAULT_POLICY, Policy, StatusChange, Target
from sidecar.sla.schedule import TWENTY_FOUR_SEVEN
from sidecar.whatif import Comparison, Side, summarize
from sidecar.whatif.compare import compare_metrics, metric_verdicts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
REQUESTER, AGENT = 1, 2
ENTITLED = Entitlement(entitled=True, reason="entitled", source="file")
NOT_ENTITLED = Entitlement(entitled=False, reason="not entitled", source="file")


def policy(next_reply: timedelta, *, pause: bool = False) -> Policy:
    return Policy(
        "p",
        DEFAULT_POLICY.targets,
        metrics={
            2: {
                "next_reply": Target(next_reply, TWENTY_FOUR_SEVEN),
                "resolution": Target(
                    24 * H,
                    TWENTY_FOUR_SEVEN,
                    pause=frozenset({"pending"}) if pause else frozenset(),
                ),
            }
        },
    )


def ticket(created: datetime, status: str = "open") -> Ticket:
    return Ticket(
        id=1,
        subject="",
        status=status,
        created_at=created,
        updated_stamp="",
        organization_id=7,
        requester_id=REQUESTER,
        tags=frozenset(),
        custom_fields={},
    )


def comment(at: datetime, author: int) -> Comment:
    role = "agent" if author == AGENT else "end-user"
    return Comment(
        id=int(at.timestamp()),
        author_id=author,
        public=True,
        created_at=at,
        author_role=role,
    )


def verdicts(side_policy: Policy, entitlement: Entitlement = ENTITLED, **kw):
    t0 = NOW - 10 * H
    return metric_verdicts(
        ticket(t0),
        severity=2,
        entitlement=entitlement,
        comments=[
            comment(t0, REQUESTER),
            comment(t0 + H, AGENT),
            comment(NOW - 2 * H, REQUESTER),
        ],
        statuses=kw.get("statuses", []),
        side=Side("s", side_policy),
        now=NOW,
        self_user_id=99,
    )


def test_a_shorter_next_reply_moves_earlier_and_becomes_breached() -> None:
    current, new = verdicts(policy(4 * H)), verdicts(policy(H))
    (nr, res) = compare_metrics(current, new)
    assert nr.name == "next_reply" and nr.shift == -3 * H
    assert (nr.current.status, nr.new.status) == ("pending", "breached")
    assert nr.becomes_breached and not res.moved


def test_an_enhanced_next_reply_applies_when_entitled_only() -> None:
    enhanced = Entitlement(
        entitled=True,
        reason="entitled",
        source="file",
        metric_overrides={2: {"next_reply": 3 * H}},
    )
    assert verdicts(policy(H), enhanced)["next_reply"].due_at == NOW + H
    assert verdicts(policy(H), NOT_ENTITLED) == {}


def test_a_pause_moves_the_resolution_by_the_paused_time() -> None:
    statuses = [StatusChange("pending", NOW - 8 * H), StatusChange("open", NOW - 5 * H)]
    paused = verdicts(policy(H, pause=True), statuses=statuses)["resolution"]
    plain = verdicts(policy(H), statuses=statuses)["resolution"]
    assert paused.due_at - plain.due_at == 3 * H


def test_a_metric_on_one_side_only_gains_or_loses_it() -> None:
    current = verdicts(policy(H))
    (gained,) = compare_metrics({}, {"next_reply": current["next_reply"]})
    assert gained.moved and gained.shift is None
    item = Comparison(1, 7, "Acme", 2, "open", None, None, True, metrics=(gained,))
    assert summarize([item]).by_metric["next_reply"].gain_sla == 1


def test_status_history_is_read_only_when_a_status_can_move_a_clock() -> None:
    t = ticket(NOW - H)
    plain = [Target(H, TWENTY_FOUR_SEVEN)]
    paused = [Target(H, TWENTY_FOUR_SEVEN, pause=frozenset({"hold"}))]
    never_solved = TicketMetricSet(
        1, replies=1, reply_minutes_calendar=5, solved_at=None
    )
    assert not needs_status_history(plain, t, never_solved)
    assert needs_status_history(paused, t, never_solved)
    assert needs_status_history(plain, ticket(NOW - H, "solved"), never_solved)
    reopened = TicketMetricSet(1, replies=1, reply_minutes_calendar=5, solved_at=NOW)
    assert needs_status_history(plain, t, reopened)
    assert needs_status_history(plain, t, None)  # no metric set: no telling


@given(
    shorter=st.integers(min_value=1, max_value=8 * 60),
    longer=st.integers(min_value=0, max_value=8 * 60),
)
def test_a_longer_target_never_moves_a_due_time_earlier(
    shorter: int, longer: int
) -> None:
    a = policy(timedelta(minutes=shorter))
    b = policy(timedelta(minutes=shorter + longer))
    for metric in compare_metrics(verdicts(a), verdicts(b)):
        if metric.shift is not None:
            assert metric.shift >= timedelta(0)
        assert not metric.becomes_breached
