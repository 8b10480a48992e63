"""Tests for an agent's page request: who and why from the comments, and the plan's answer."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from sidecar.domain.models import CommentText, Ticket
from sidecar.domain.page_request import (
    NO_REASON,
    PAGE_REQUEST_TAG,
    REASON_PREFIX,
    PageRequest,
    page_request_from,
    reason_in,
)
from sidecar.domain.plan import PAGED_TAG, RESOLVED_TAG, plan
from sidecar.sla import DEFAULT_POLICY
from tests.unit.test_plan import (
    AGENT,
    CREATED,
    DESCRIPTION,
    ENTITLED,
    FIELDS,
    NOT_ENTITLED,
    ORG,
    REQUESTER,
    apply,
    ticket,
)

ASKED = PageRequest(requested_by="Agent Smith", reason="checkout down for all EU users")


def text(
    author: int | None,
    minutes: int,
    body: str,
    *,
    public: bool = False,
    role: str = "agent",
    name: str = "Agent Smith",
) -> CommentText:
    return CommentText(
        id=minutes,
        author_id=author,
        author_role=role,
        author_name=name,
        public=public,
        created_at=CREATED + timedelta(minutes=minutes),
        body=body,
    )


def decide(t: Ticket, *, entitled: bool = True, any_org: bool = False, asked=ASKED):
    return plan(
        t,
        organization=ORG,
        comments=[DESCRIPTION],
        entitlement=ENTITLED if entitled else NOT_ENTITLED,
        policy=DEFAULT_POLICY,
        fields=FIELDS,
        now=CREATED + timedelta(minutes=1),
        self_user_id=None,
        page_request=asked,
        page_any_org=any_org,
    )


# --- who and why --------------------------------------------------------------


def test_the_macros_comment_names_the_agent_and_the_reason() -> None:
    """The latest private agent comment with the prefix gives the name and the text after it."""
    found = page_request_from(
        [
            text(REQUESTER, 0, "Help", public=True, role="end-user", name="Cust"),
            text(AGENT, 5, f"{REASON_PREFIX} old reason"),
            text(AGENT, 9, f"{REASON_PREFIX}  checkout\n down ", name="Jo Agent"),
            text(AGENT, 10, "Looking at the logs now."),
        ]
    )
    assert found == PageRequest(requested_by="Jo Agent", reason="checkout down")


def test_without_the_prefix_the_latest_private_agent_comment_is_the_reason() -> None:
    """An agent who deleted the placeholder still gets their words into the incident."""
    found = page_request_from(
        [text(AGENT, 3, "Customer says all payments fail", name="Ann")]
    )
    assert found == PageRequest("Ann", "Customer says all payments fail")


def test_public_and_end_user_comments_are_never_the_reason() -> None:
    """A public reply or an end user's words are not the agent's reason."""
    found = page_request_from(
        [
            text(AGENT, 1, f"{REASON_PREFIX} public", public=True),
            text(REQUESTER, 2, f"{REASON_PREFIX} me", role="end-user"),
            text(None, 3, f"{REASON_PREFIX} system", role=""),
        ]
    )
    assert found.reason == NO_REASON
    assert found.requested_by == "an agent (not named)"


def test_an_empty_placeholder_has_no_reason_and_a_nameless_author_their_id() -> None:
    """The untouched placeholder says so; an author without a name is named by id."""
    found = page_request_from([text(AGENT, 1, REASON_PREFIX, name="")])
    assert found == PageRequest(f"agent {AGENT}", NO_REASON)


@given(st.text(max_size=2000))
def test_a_reason_is_one_line_of_bounded_length(body: str) -> None:
    """Whatever an agent writes, the reason is one non-empty line of at most 500 characters."""
    reason = reason_in(body)
    assert reason and "\n" not in reason and len(reason) <= 500


# --- the plan's answer --------------------------------------------------------


def test_entitled_sev3_with_the_tag_pages_and_keeps_the_tag_for_the_record() -> None:
    """The plan pages; the tag stays until the write that records the page removes it."""
    decided = decide(ticket(severity="sev_3", tags=frozenset({PAGE_REQUEST_TAG})))
    assert decided.page and decided.requested == ASKED
    assert PAGE_REQUEST_TAG not in decided.update.tags_removed
    assert decided.update.private_note is None
    assert "Agent Smith" in decided.page_reason


def test_an_unrated_ticket_with_the_tag_pages_too() -> None:
    """An agent may page for a ticket nobody rated yet."""
    decided = decide(ticket(severity=None, tags=frozenset({PAGE_REQUEST_TAG})))
    assert decided.page and decided.severity is None


def test_not_entitled_is_refused_by_default_with_a_note_and_the_tag_removed() -> None:
    """No page; one private note says why; the tag goes in the same write."""
    decided = decide(
        ticket(tags=frozenset({PAGE_REQUEST_TAG})), entitled=False, asked=ASKED
    )
    assert not decided.page and decided.requested is None
    assert decided.update.tags_removed == {PAGE_REQUEST_TAG}
    note = decided.update.private_note or ""
    assert "NOT paged" in note and "Enterprise Support" in note
    assert "SIDECAR_PAGE_REQUEST_ANY_ORG" in note and ASKED.reason in note


def test_not_entitled_pages_when_the_policy_allows_any_org() -> None:
    """With SIDECAR_PAGE_REQUEST_ANY_ORG, any organization's ticket can be paged."""
    decided = decide(
        ticket(tags=frozenset({PAGE_REQUEST_TAG})), entitled=False, any_org=True
    )
    assert decided.page and decided.requested == ASKED


def test_an_open_incident_is_not_paged_again() -> None:
    """Already paged (incident open): a note, the tag removed, no second page."""
    decided = decide(ticket(tags=frozenset({PAGE_REQUEST_TAG, PAGED_TAG})))
    assert not decided.page
    assert "already paged" in (decided.update.private_note or "")
    assert PAGE_REQUEST_TAG in decided.update.tags_removed


def test_solved_and_resolved_tickets_are_not_paged() -> None:
    """Solved: no page; a resolved incident is not reopened from the ticket."""
    solved = decide(ticket(status="solved", tags=frozenset({PAGE_REQUEST_TAG})))
    assert not solved.page and "solved" in (solved.update.private_note or "")
    again = decide(ticket(tags=frozenset({PAGE_REQUEST_TAG, PAGED_TAG, RESOLVED_TAG})))
    assert not again.page and "resolved before" in (again.update.private_note or "")


def test_a_closed_ticket_is_never_written() -> None:
    """Zendesk refuses updates to closed tickets: nothing planned."""
    decided = decide(ticket(status="closed", tags=frozenset({PAGE_REQUEST_TAG})))
    assert decided.update.is_empty() and not decided.page


def record(t: Ticket, decided) -> Ticket:
    """The escalate job's record: oncall_paged added, the request tag removed."""
    tags = (t.tags - {PAGE_REQUEST_TAG}) | {PAGED_TAG}
    return dataclasses.replace(apply(t, decided.update), tags=frozenset(tags))


@given(
    severity=st.sampled_from([None, "sev_1", "sev_2", "sev_3", "sev_5"]),
    tags=st.sets(st.sampled_from([PAGED_TAG, RESOLVED_TAG, "vip", "sla_pending"])),
    status=st.sampled_from(["new", "open", "pending", "solved", "closed"]),
    entitled=st.booleans(),
    any_org=st.booleans(),
)
def test_a_request_is_answered_once(severity, tags, status, entitled, any_org) -> None:
    """Whatever the ticket, a request ends in one page or one note; after it, nothing more."""
    t = ticket(
        severity=severity, status=status, tags=frozenset(tags) | {PAGE_REQUEST_TAG}
    )
    first = decide(t, entitled=entitled, any_org=any_org)
    if status == "closed":
        assert first.update.is_empty() and not first.page
        return
    # Exactly one answer: a page (tag kept for its record) or a note (tag removed).
    if first.page:
        assert first.requested is not None and first.update.private_note is None
    else:
        assert (
            first.update.private_note and PAGE_REQUEST_TAG in first.update.tags_removed
        )
    after = record(t, first) if first.page else apply(t, first.update)
    assert PAGE_REQUEST_TAG not in after.tags
    second = decide(after, entitled=entitled, any_org=any_org)
    assert not second.page and second.update.private_note is None
    assert second.requested is None
