"""Tests for sidecar.domain.plan: what a reconcile decides to write, page and schedule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sidecar.config import Secret
from sidecar.domain.models import Comment, Organization, Ticket, TicketUpdate
from sidecar.domain.plan import Fields, plan
from sidecar.entitlements import Entitlement
from sidecar.sla import DEFAULT_POLICY

SEV, DUE, DATE = 100, 200, 300
FIELDS = Fields(severity=SEV, due_at=DUE, due_date=DATE)
CREATED = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday
REQUESTER, AGENT, BOT, CSM = 1, 2, 3, 4
ORG = Organization(id=9, name="Acme", external_id=None, fields={})
ENTITLED = Entitlement(
    entitled=True,
    reason="enterprise plan with Enterprise Support",
    source="zendesk",
    plan="enterprise",
)
NOT_ENTITLED = Entitlement(
    entitled=False,
    reason="not entitled: plan team has no Enterprise Support",  # as decide() says
    source="zendesk",
    plan="team",
)


def ticket(
    *,
    severity: object = "sev_3",
    tags: frozenset[str] = frozenset(),
    status: str = "open",
    due: str | None = None,
    due_date: str | None = None,
    followers: tuple[int, ...] = (),
) -> Ticket:
    return Ticket(
        id=42,
        subject="Pushes fail",
        status=status,
        created_at=CREATED,
        updated_stamp="2026-11-27T15:00:00Z",
        organization_id=ORG.id,
        requester_id=REQUESTER,
        tags=tags,
        custom_fields={SEV: severity, DUE: due, DATE: due_date},
        follower_ids=followers,
    )


def comment(
    author: int, minutes: int, *, public: bool = True, role: str = "agent"
) -> Comment:
    return Comment(
        id=minutes,
        author_id=author,
        public=public,
        created_at=CREATED + timedelta(minutes=minutes),
        author_role=role,
    )


DESCRIPTION = comment(REQUESTER, 0, role="end-user")


def decide(
    t: Ticket,
    *,
    comments: list[Comment] | None = None,
    entitlement: Entitlement = ENTITLED,
    now: datetime = CREATED + timedelta(minutes=1),
):
    return plan(
        t,
        organization=ORG,
        comments=[DESCRIPTION] if comments is None else comments,
        entitlement=entitlement,
        policy=DEFAULT_POLICY,
        fields=FIELDS,
        now=now,
        self_user_id=BOT,
    )


def apply(t: Ticket, update: TicketUpdate) -> Ticket:
    fields = {**t.custom_fields, **update.custom_fields}
    # A single-ticket update REPLACES the tag set with the list it sends.
    tags = update.tags if update.tags is not None else t.tags
    followers = tuple(sorted(set(t.follower_ids) | update.add_follower_ids))
    return dataclasses.replace(
        t, custom_fields=fields, tags=frozenset(tags), follower_ids=followers
    )


def test_sev3_of_an_entitled_org_gets_due_time_date_and_pending_tag() -> None:
    """A new SEV 3 ticket gets the due time (6 core hours), its date and sla_pending."""
    decided = decide(ticket())
    assert decided.update.custom_fields == {
        DUE: "2026-11-27T21:00:00Z",
        DATE: "2026-11-27",
    }
    assert decided.update.tags_added == {"sla_pending"}
    assert decided.update.tags_removed == frozenset()
    assert decided.sla is not None and decided.sla.status == "pending"


def test_wakes_up_at_the_at_risk_instant_and_at_the_due_instant() -> None:
    """A pending SLA asks to be reconciled again at 75% of the target and at the due time."""
    decided = decide(ticket())
    assert decided.wake_at == (
        datetime(2026, 11, 27, 19, 30, tzinfo=UTC),
        datetime(2026, 11, 27, 21, 0, tzinfo=UTC),
    )


def test_a_ticket_that_already_carries_the_state_needs_no_write() -> None:
    """Planning again after applying the write finds nothing to write (loop safety)."""
    first = decide(ticket())
    again = decide(apply(ticket(), first.update))
    assert again.update.is_empty()


def test_not_entitled_clears_stale_fields_and_tags_but_keeps_other_tags() -> None:
    """A ticket of an org without Enterprise Support loses our fields and tags, and only ours."""
    stale = ticket(
        tags=frozenset({"sla_pending", "vip", "oncall_paged"}),
        due="2026-11-27T21:00:00Z",
        due_date="2026-11-27",
    )
    decided = decide(stale, entitlement=NOT_ENTITLED)
    assert decided.update.custom_fields == {DUE: None, DATE: None}
    assert decided.update.tags_removed == {"sla_pending"}
    assert decided.update.tags_added == frozenset()
    assert decided.sla is None and not decided.page


def test_no_severity_means_no_sla_and_no_comment_dependence() -> None:
    """An empty severity carries no SLA and no error."""
    decided = decide(ticket(severity=None))
    assert decided.sla is None and decided.severity_error is None
    assert decided.update.is_empty()


def test_unparseable_severity_is_no_sla_with_a_reason() -> None:
    """A severity we cannot read is no SLA, and the plan says why."""
    decided = decide(
        ticket(severity="urgent-ish", tags=frozenset({"sla_pending"}), due="x")
    )
    assert decided.sla is None
    assert "urgent-ish" in (decided.severity_error or "")
    assert decided.update.tags_removed == {"sla_pending"}
    assert decided.update.custom_fields == {DUE: None}


def test_agent_public_reply_before_due_is_met() -> None:
    """The first public agent comment at or before the due time settles the SLA as met."""
    current = apply(ticket(), decide(ticket()).update)
    decided = decide(current, comments=[DESCRIPTION, comment(AGENT, 30)])
    assert decided.sla is not None and decided.sla.status == "met"
    assert decided.update.tags_added == {"sla_met"}
    assert decided.update.tags_removed == {"sla_pending"}
    assert decided.wake_at == ()


def test_comments_that_are_not_a_first_response_do_not_count() -> None:
    """Private notes, the requester, end-users and the sidecar's own user do not answer a ticket."""
    comments = [
        DESCRIPTION,
        comment(AGENT, 5, public=False),
        comment(REQUESTER, 6, role="end-user"),
        comment(BOT, 7, role="admin"),
        comment(77, 8, role="end-user"),
    ]
    decided = decide(ticket(), comments=comments)
    assert decided.first_response_at is None


def test_a_comment_by_no_person_is_never_a_first_response() -> None:
    """A public comment without an author (Zendesk's system user: messaging and chat
    transcripts, automations) never answers a ticket, whatever role it carries."""
    system = Comment(
        id=5,
        author_id=None,
        public=True,
        created_at=CREATED + timedelta(minutes=5),
        author_role="admin",
    )
    decided = decide(ticket(), comments=[DESCRIPTION, system, comment(AGENT, 9)])
    assert decided.first_response_at == CREATED + timedelta(minutes=9)
    decided = decide(ticket(), comments=[DESCRIPTION, system])
    assert decided.first_response_at is None


def test_a_description_written_by_an_agent_is_not_a_response() -> None:
    """A ticket an agent opened for a customer has not been answered by its description."""
    decided = decide(ticket(), comments=[comment(AGENT, 0)])
    assert decided.first_response_at is None


def test_no_response_after_due_is_breached() -> None:
    """With no response at the due time, the status is breached."""
    decided = decide(ticket(), now=datetime(2026, 11, 27, 21, 0, tzinfo=UTC))
    assert decided.sla is not None and decided.sla.status == "breached"
    assert decided.update.tags_added == {"sla_breached"}
    assert decided.wake_at == ()


def test_at_risk_after_75_percent() -> None:
    """At 75% of the target's covered time, the status is at_risk and only the due wake-up remains."""
    decided = decide(ticket(), now=datetime(2026, 11, 27, 19, 30, tzinfo=UTC))
    assert decided.sla is not None and decided.sla.status == "at_risk"
    assert decided.wake_at == (datetime(2026, 11, 27, 21, 0, tzinfo=UTC),)


def test_severity_change_recomputes_from_creation() -> None:
    """Raising SEV 3 to SEV 1 recomputes the due time from creation (1 h, 24/7)."""
    current = apply(ticket(), decide(ticket()).update)
    raised = dataclasses.replace(
        current, custom_fields={**current.custom_fields, SEV: "sev_1"}
    )
    decided = decide(raised, now=CREATED + timedelta(minutes=90))
    assert decided.update.custom_fields[DUE] == "2026-11-27T16:00:00Z"
    assert decided.sla is not None and decided.sla.status == "breached"


def test_settled_sla_is_not_reopened_by_a_later_severity_change() -> None:
    """Once met, a later severity change leaves the due time and status as they are."""
    answered = [DESCRIPTION, comment(AGENT, 30)]
    met = apply(ticket(), decide(ticket(), comments=answered).update)
    lowered = dataclasses.replace(
        met, custom_fields={**met.custom_fields, SEV: "sev_1"}
    )
    decided = decide(lowered, comments=answered, now=CREATED + timedelta(hours=5))
    assert decided.settled_kept
    assert decided.update.is_empty()


def test_enhanced_sla_overrides_the_target() -> None:
    """An org's enhanced SLA replaces the policy's target for that severity."""
    enhanced = dataclasses.replace(ENTITLED, sla_overrides={3: timedelta(hours=2)})
    decided = decide(ticket(), entitlement=enhanced)
    assert decided.update.custom_fields[DUE] == "2026-11-27T17:00:00Z"


def test_sev1_of_an_entitled_org_pages_once() -> None:
    """SEV 1 at an entitled org pages; a ticket already tagged oncall_paged never pages again."""
    assert decide(ticket(severity="sev_1")).page
    again = decide(ticket(severity="sev_1", tags=frozenset({"oncall_paged"})))
    assert not again.page and "already paged" in again.page_reason


def test_sev2_pages_and_sev3_does_not() -> None:
    """Only SEV 1 and SEV 2 page."""
    assert decide(ticket(severity="SEV 2 - High (Business Impact)")).page
    sev3 = decide(ticket(severity="sev_3"))
    assert not sev3.page and "only SEV 1 and SEV 2" in sev3.page_reason


def test_not_entitled_sev1_does_not_page() -> None:
    """A SEV 1 ticket of an org without Enterprise Support never pages, and says why."""
    decided = decide(ticket(severity="sev_1"), entitlement=NOT_ENTITLED)
    assert not decided.page and "not entitled" in decided.page_reason


def test_solved_ticket_resolves_its_page_once() -> None:
    """A paged ticket that is solved resolves the page; after oncall_resolved, nothing more."""
    solved = ticket(severity="sev_1", status="solved", tags=frozenset({"oncall_paged"}))
    assert decide(solved).resolve_page
    done = dataclasses.replace(
        solved, tags=frozenset({"oncall_paged", "oncall_resolved"})
    )
    assert not decide(done).resolve_page and not decide(done).page


def test_solved_sev1_that_never_paged_does_not_page() -> None:
    """A SEV 1 ticket that is already solved does not page."""
    decided = decide(ticket(severity="sev_1", status="solved"))
    assert not decided.page and not decided.resolve_page


def test_csm_follows_sev1_and_sev2_tickets_in_the_same_write() -> None:
    """The org's CSM is added as a follower of SEV 1/2 tickets, once."""
    with_csm = dataclasses.replace(
        ENTITLED, csm_user_id=CSM, routing_key=Secret("r" * 32)
    )
    decided = decide(ticket(severity="sev_2"), entitlement=with_csm)
    assert decided.update.add_follower_ids == {CSM}
    assert decided.update.custom_fields  # one write carries both
    already = decide(ticket(severity="sev_2", followers=(CSM,)), entitlement=with_csm)
    assert already.update.add_follower_ids == frozenset()
    assert (
        decide(ticket(severity="sev_3"), entitlement=with_csm).update.add_follower_ids
        == frozenset()
    )


STATUS_TAGS = ["sla_pending", "sla_at_risk", "sla_breached", "sla_met"]


@given(
    severity=st.sampled_from(
        [None, "", "sev_1", "sev_2", "sev_3", "sev_4", "sev_5", "bogus"]
    ),
    tags=st.sets(st.sampled_from([*STATUS_TAGS, "vip", "oncall_paged", "other"])),
    due=st.sampled_from([None, "", "2026-11-27T21:00:00Z", "junk"]),
    entitled=st.booleans(),
    reply_minutes=st.one_of(st.none(), st.integers(min_value=1, max_value=3000)),
    now_minutes=st.integers(min_value=0, max_value=5000),
)
def test_plan_then_apply_is_a_fixed_point(
    severity, tags, due, entitled, reply_minutes, now_minutes
) -> None:
    """Whatever the ticket carries, applying the plan's write leaves nothing more to write, and only our tags are touched."""
    t = ticket(severity=severity, tags=frozenset(tags), due=due)
    comments = [DESCRIPTION] + (
        [comment(AGENT, reply_minutes)] if reply_minutes else []
    )
    now = CREATED + timedelta(minutes=now_minutes)
    ent = ENTITLED if entitled else NOT_ENTITLED
    first = decide(t, comments=comments, entitlement=ent, now=now)
    assert first.update.tags_removed <= set(STATUS_TAGS)
    assert first.update.tags_added <= set(STATUS_TAGS)
    # The complete list it sends keeps every tag that is not ours.
    if first.update.tags is not None:
        assert t.tags - set(STATUS_TAGS) <= first.update.tags
    after = apply(t, first.update)
    assert len(after.tags & set(STATUS_TAGS)) == (1 if first.sla else 0)
    assert decide(after, comments=comments, entitlement=ent, now=now).update.is_empty()


def test_override_for_a_severity_the_policy_lacks_is_ignored() -> None:
    """An enhanced SLA for a severity without a target changes nothing and breaks nothing."""
    from sidecar.sla import Policy

    only_sev3 = Policy("p", {3: DEFAULT_POLICY.targets[3]})
    enhanced = dataclasses.replace(
        ENTITLED, sla_overrides={5: timedelta(hours=4), 3: timedelta(hours=2)}
    )
    decided = plan(
        ticket(),
        organization=ORG,
        comments=[DESCRIPTION],
        entitlement=enhanced,
        policy=only_sev3,
        fields=FIELDS,
        now=CREATED,
        self_user_id=BOT,
    )
    assert decided.update.custom_fields[DUE] == "2026-11-27T17:00:00Z"


def test_closed_tickets_are_never_written() -> None:
    """Zendesk refuses updates to closed tickets, so a closed ticket gets no write, only a resolve."""
    closed = ticket(
        severity="sev_1", status="closed", tags=frozenset({"oncall_paged", "vip"})
    )
    decided = decide(closed, entitlement=NOT_ENTITLED)
    assert decided.update.is_empty() and decided.wake_at == ()
    assert decided.resolve_page


def test_csm_follower_only_rides_along_with_another_change() -> None:
    """If the ticket needs no other change, the CSM is not asked for again (no write loop if Zendesk ignored it)."""
    with_csm = dataclasses.replace(ENTITLED, csm_user_id=CSM)
    first = decide(ticket(severity="sev_1"), entitlement=with_csm)
    assert first.update.add_follower_ids == {CSM}
    applied = dataclasses.replace(
        apply(ticket(severity="sev_1"), first.update), follower_ids=()
    )
    assert decide(applied, entitlement=with_csm).update.is_empty()
