"""The metrics beyond the first response on the ticket: mapping, fields, tags, timers (issue 21)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.domain.metric_plan import (
    DUE_SOON_TAG,
    METRIC_TAGS,
    replies_from,
    used_metrics,
    wants_metrics,
)
from sidecar.domain.models import Comment, Organization, Ticket
from sidecar.domain.plan import Fields, first_agent_response, plan
from sidecar.entitlements import Entitlement
from sidecar.sla import (
    DEFAULT_POLICY,
    TWENTY_FOUR_SEVEN,
    Policy,
    StatusChange,
    Target,
    measure,
)

H = timedelta(hours=1)
SEV, DUE, NEXT, PERIODIC, RESOLUTION = 100, 200, 301, 302, 303
FIELDS = Fields(
    severity=SEV,
    due_at=DUE,
    metric_due={
        "next_reply": NEXT,
        "periodic_update": PERIODIC,
        "resolution": RESOLUTION,
    },
)
CREATED = datetime(2026, 12, 7, 10, tzinfo=UTC)  # a Monday
REQUESTER, AGENT, SELF, OTHER_USER = 1, 2, 3, 5
ORG = Organization(id=9, name="Acme", external_id=None, fields={})
ENTITLED = Entitlement(entitled=True, reason="entitled", source="zendesk")
POLICY = Policy(
    "metrics",
    {2: Target(2 * H, TWENTY_FOUR_SEVEN), 3: Target(6 * H, TWENTY_FOUR_SEVEN)},
    metrics={
        2: {
            "next_reply": Target(4 * H, TWENTY_FOUR_SEVEN),
            "periodic_update": Target(8 * H, TWENTY_FOUR_SEVEN),
            "resolution": Target(
                24 * H, TWENTY_FOUR_SEVEN, pause=frozenset({"pending", "hold"})
            ),
        }
    },
)


def ticket(
    *, severity: str = "sev_2", status: str = "open", **fields: object
) -> Ticket:
    return Ticket(
        id=42,
        subject="Down",
        status=status,
        created_at=CREATED,
        updated_stamp="2026-12-07T10:00:00Z",
        organization_id=ORG.id,
        requester_id=REQUESTER,
        tags=frozenset(fields.pop("tags", frozenset())),  # type: ignore[arg-type]
        custom_fields={SEV: severity, **{int(k[1:]): v for k, v in fields.items()}},
    )


def comment(
    author: int | None, hours: float, *, public: bool = True, role: str = "agent"
) -> Comment:
    return Comment(
        id=int(hours * 100) + 1,
        author_id=author,
        public=public,
        created_at=CREATED + hours * H,
        author_role=role,
    )


def replies(*comments: Comment):
    return replies_from(comments, requester_id=REQUESTER, self_user_id=SELF)


def decide(t: Ticket, comments: list[Comment], statuses=(), *, now: datetime, **kw):
    return plan(
        t,
        organization=ORG,
        comments=comments,
        entitlement=kw.pop("entitlement", ENTITLED),
        policy=kw.pop("policy", POLICY),
        fields=kw.pop("fields", FIELDS),
        now=now,
        self_user_id=SELF,
        replies=kw.pop("replies", replies(*comments)),
        statuses=statuses,
        **kw,
    )


DESCRIPTION = comment(REQUESTER, 0, role="end-user")


def test_used_and_wanted_follow_the_policy() -> None:
    assert used_metrics(DEFAULT_POLICY) == frozenset()
    assert used_metrics(POLICY) == {"next_reply", "periodic_update", "resolution"}
    assert wants_metrics(POLICY, "sev_2", entitled=True)
    assert not wants_metrics(POLICY, "sev_3", entitled=True)  # first response only
    assert not wants_metrics(POLICY, "sev_2", entitled=False)
    assert not wants_metrics(POLICY, "bogus", entitled=True)
    assert not wants_metrics(DEFAULT_POLICY, "sev_1", entitled=True)


def test_one_due_field_per_metric_and_tags_per_state() -> None:
    # First response at 10:30; the customer writes at 11:00: next reply due 15:00.
    comments = [
        DESCRIPTION,
        comment(AGENT, 0.5),
        comment(REQUESTER, 1, role="end-user"),
    ]
    decided = decide(ticket(), comments, now=CREATED + 2 * H)
    fields = decided.update.custom_fields
    assert fields[NEXT] == "2026-12-07T15:00:00Z"
    assert fields[PERIODIC] == "2026-12-07T18:30:00Z"  # 8 h after the first response
    assert fields[RESOLUTION] == "2026-12-08T10:00:00Z"
    assert {m.name for m in decided.metrics} == {
        "next_reply",
        "periodic_update",
        "resolution",
    }
    assert not decided.update.tags_added & set(METRIC_TAGS.values())
    # Timers: each running metric's at-risk and due instant, and the hour before
    # the next reply is due (the "due soon" tag), besides the first response's none.
    assert decided.wake_at == (
        CREATED
        + 4 * H,  # 14:00 next reply at risk (3 of 4 h) and due soon (1 h before)
        CREATED + 5 * H,  # 15:00 next reply due
        CREATED + 6.5 * H,  # 16:30 periodic update at risk
        CREATED + 8.5 * H,  # 18:30 periodic update due
        CREATED + 18 * H,  # Tue 04:00 resolution at risk
        CREATED + 24 * H,  # Tue 10:00 resolution due
    )
    # At 14:30 the next reply is at risk and due within the hour.
    later = decide(ticket(), comments, now=CREATED + 4.5 * H)
    assert later.update.tags_added >= {"sla_next_reply_at_risk", DUE_SOON_TAG}
    # Breached at 15:00 (no longer "due soon": overdue), and the tags say so.
    late = decide(
        ticket(tags={"sla_next_reply_at_risk", DUE_SOON_TAG, "sla_met"}),
        comments,
        now=CREATED + 5 * H,
    )
    assert "sla_next_reply_breached" in late.update.tags_added
    assert late.update.tags_removed >= {"sla_next_reply_at_risk", DUE_SOON_TAG}


def test_two_customer_turns_give_two_successive_due_times() -> None:
    comments = [
        DESCRIPTION,
        comment(AGENT, 0.5),
        comment(REQUESTER, 1, role="end-user"),
    ]
    first = decide(ticket(), comments, now=CREATED + 1.5 * H)
    assert first.update.custom_fields[NEXT] == "2026-12-07T15:00:00Z"
    comments += [comment(AGENT, 2), comment(REQUESTER, 3, role="end-user")]
    second = decide(
        ticket(f301="2026-12-07T15:00:00Z"), comments, now=CREATED + 3.5 * H
    )
    assert second.update.custom_fields[NEXT] == "2026-12-07T17:00:00Z"
    (next_reply,) = [m for m in second.metrics if m.name == "next_reply"]
    assert [c.state for c in next_reply.cycles] == ["met", "pending"]


def test_pending_moves_the_resolution_due_by_the_paused_time() -> None:
    statuses = [
        StatusChange("open", CREATED),
        StatusChange("pending", CREATED + 2 * H),
        StatusChange("open", CREATED + 5 * H),
    ]
    decided = decide(ticket(), [DESCRIPTION], statuses, now=CREATED + 6 * H)
    assert decided.update.custom_fields[RESOLUTION] == "2026-12-08T13:00:00Z"
    # While pending: no due instant, the field is emptied, the state says paused.
    paused = decide(
        ticket(status="pending", f303="2026-12-08T10:00:00Z"),
        [DESCRIPTION],
        statuses[:2],
        now=CREATED + 3 * H,
    )
    assert paused.update.custom_fields[RESOLUTION] is None
    (resolution,) = [m for m in paused.metrics if m.name == "resolution"]
    assert resolution.paused and resolution.due is None


def test_unreadable_history_writes_no_metric_and_says_why() -> None:
    t = ticket(f301="2026-12-07T15:00:00Z", tags={"sla_next_reply_at_risk"})
    decided = decide(
        t,
        [DESCRIPTION],
        None,
        now=CREATED + H,
        replies=None,
        history_error="the ticket's status history could not be read (403)",
    )
    assert decided.metrics == ()
    assert "403" in (decided.metrics_error or "")
    assert NEXT not in decided.update.custom_fields  # left as it is: nothing made up
    assert "sla_next_reply_at_risk" not in decided.update.tags_removed
    # The first response is planned as always.
    assert decided.update.custom_fields[DUE] == "2026-12-07T12:00:00Z"


def test_first_response_only_plans_exactly_as_before() -> None:
    """A severity with no other metric: the same plan as without the metric fields."""
    comments = [DESCRIPTION, comment(AGENT, 0.5)]
    bare = dataclasses.replace(FIELDS, metric_due={})
    for now in (CREATED + H, CREATED + 7 * H):
        with_fields = decide(ticket(severity="sev_3"), comments, now=now)
        without = plan(
            ticket(severity="sev_3"),
            organization=ORG,
            comments=comments,
            entitlement=ENTITLED,
            policy=POLICY,
            fields=bare,
            now=now,
            self_user_id=SELF,
        )
        assert with_fields.update == without.update
        assert with_fields.wake_at == without.wake_at
        assert with_fields.metrics == ()


def test_a_closed_ticket_gets_no_write_and_no_timer() -> None:
    comments = [
        DESCRIPTION,
        comment(AGENT, 0.5),
        comment(REQUESTER, 1, role="end-user"),
    ]
    decided = decide(ticket(status="closed"), comments, now=CREATED + 2 * H)
    assert decided.update.is_empty()
    assert decided.wake_at == ()


# --- the mapping, against the first response the plan has always used -----------

ROLES = st.sampled_from(["end-user", "agent", "admin", ""])
AUTHORS = st.sampled_from([None, REQUESTER, AGENT, SELF, OTHER_USER])


@st.composite
def histories(draw: st.DrawFn) -> list[Comment]:
    count = draw(st.integers(min_value=1, max_value=8))
    minutes = sorted(
        draw(st.lists(st.integers(0, 600), min_size=count, max_size=count))
    )
    return [
        Comment(
            id=i + 1,
            author_id=(author := draw(AUTHORS)),
            public=draw(st.booleans()),
            created_at=CREATED + timedelta(minutes=m),
            author_role="" if author is None else draw(ROLES),
        )
        for i, m in enumerate(minutes)
    ]


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 900))
def test_mapped_first_response_is_the_plans(
    comments: list[Comment], minutes: int
) -> None:
    """The engine's first response from mapped comments is today's first_agent_response."""
    mapped = replies_from(comments, requester_id=REQUESTER, self_user_id=SELF)
    expected = first_agent_response(comments, requester_id=REQUESTER, self_user_id=SELF)
    state = measure(
        "first_response",
        Target(2 * H, TWENTY_FOUR_SEVEN),
        created_at=CREATED,
        replies=mapped,
        statuses=(),
        now=CREATED + timedelta(minutes=minutes),
    )
    assert state.cycles[0].stop == expected


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(0, 900))
def test_plan_fields_tags_and_timers_agree_with_the_states(
    comments: list[Comment], minutes: int
) -> None:
    """Whatever the history: one due field per metric, equal to its state's due; tags from states."""
    now = CREATED + timedelta(minutes=minutes)
    decided = decide(ticket(), comments, [StatusChange("open", CREATED)], now=now)
    by_name = {m.name: m for m in decided.metrics}
    for name, field_id in FIELDS.metric_due.items():
        due = by_name[name].due
        written = decided.update.custom_fields.get(field_id)
        assert written == (due.strftime("%Y-%m-%dT%H:%M:%SZ") if due else None)
    wanted = {
        METRIC_TAGS[(m.name, m.state)]
        for m in decided.metrics
        if (m.name, m.state) in METRIC_TAGS
    }
    tags = decided.update.tags if decided.update.tags is not None else frozenset()
    assert wanted <= tags
    assert (tags & set(METRIC_TAGS.values())) == wanted
    assert all(moment > now for moment in decided.wake_at)
    for m in decided.metrics:
        if m.state in {"pending", "at_risk"} and m.due is not None:
            assert m.due in decided.wake_at


def test_an_organizations_enhanced_metric_targets_reach_the_worker_plan() -> None:
    """The entitlements file's per-metric overrides apply on tickets, not only in the report."""
    from sidecar.domain.plan import effective_policy

    enhanced = dataclasses.replace(
        ENTITLED,
        sla_overrides={2: H},
        metric_overrides={2: {"next_reply": 2 * H}, 3: {"resolution": H}},
    )
    policy = effective_policy(POLICY, enhanced)
    assert policy.targets[2].duration == H
    assert policy.metric_targets(2)["next_reply"].duration == 2 * H
    assert policy.metric_targets(2)["resolution"].duration == 24 * H
    # SEV 3 has no resolution target here: the override cannot create one.
    assert "resolution" not in policy.metric_targets(3)
    # Not entitled: the overrides are not applied.
    lapsed = dataclasses.replace(enhanced, entitled=False)
    assert effective_policy(POLICY, lapsed) is POLICY
