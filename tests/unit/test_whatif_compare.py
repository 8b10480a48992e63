"""Tests for sidecar.whatif.compare: one ticket under two configurations, and the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sidecar.domain.models import Comment, Ticket
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.sla import DEFAULT_POLICY, Target, format_utc
from sidecar.whatif import Side, summarize
from sidecar.whatif.compare import Comparison, Verdict, recorded_verdict, verdict

SEV, DUE, FIRST = 100, 200, 300
FIELDS = Fields(severity=SEV, due_at=DUE, first_response_at=FIRST)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REQUESTER, AGENT = 1, 2
ENTITLED = Entitlement(entitled=True, reason="enterprise", source="zendesk")
CURRENT = Side("current", DEFAULT_POLICY)
# Every target halved: nothing can become due later.
HALVED = Side(
    "halved",
    DEFAULT_POLICY.with_overrides(
        {n: t.duration / 2 for n, t in DEFAULT_POLICY.targets.items()}
    ),
)


def ticket(
    created: datetime,
    severity: int,
    *,
    tags: frozenset[str] = frozenset(),
    due: str | None = None,
    first: str | None = None,
) -> Ticket:
    return Ticket(
        id=7,
        subject="s",
        status="open",
        created_at=created,
        updated_stamp=format_utc(created),
        organization_id=9,
        requester_id=REQUESTER,
        tags=tags,
        custom_fields={SEV: f"sev_{severity}", DUE: due, FIRST: first},
    )


def comments(created: datetime, reply_after: timedelta | None) -> list[Comment]:
    found = [Comment(1, REQUESTER, True, created, "end-user")]
    if reply_after is not None:
        found.append(Comment(2, AGENT, True, created + reply_after, "agent"))
    return found


def compare(t: Ticket, replies: list[Comment], new: Side) -> Comparison:
    sides = [
        verdict(
            t,
            organization=None,
            entitlement=ENTITLED,
            comments=replies,
            side=side,
            fields=FIELDS,
            now=NOW,
            self_user_id=99,
        )
        for side in (CURRENT, new)
    ]
    return Comparison(t.id, 9, "Acme", 3, "open", sides[0], sides[1], True)


cases = st.tuples(
    st.integers(10, 4 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    st.integers(1, 5),
    st.none() | st.integers(1, 30 * 60).map(lambda m: timedelta(minutes=m)),
)


@given(case=cases)
def test_the_same_configuration_moves_nothing(
    case: tuple[datetime, int, timedelta | None],
) -> None:
    """Comparing a configuration with itself: no ticket moves or changes status."""
    created, severity, reply = case
    item = compare(ticket(created, severity), comments(created, reply), CURRENT)
    assert not item.moved and not item.status_changes and not item.becomes_breached


@given(case=cases)
def test_shorter_targets_never_move_a_due_time_later(
    case: tuple[datetime, int, timedelta | None],
) -> None:
    """Halving every target: a due time only moves earlier, and breached stays breached."""
    created, severity, reply = case
    item = compare(ticket(created, severity), comments(created, reply), HALVED)
    assert item.current is not None and item.new is not None
    assert item.new.due_at <= item.current.due_at
    assert not item.stops_being_breached
    if item.current.status == "breached":
        assert item.new.status == "breached"


def test_an_answered_ticket_keeps_its_recorded_verdict() -> None:
    """Settled (met, due recorded, answered): the recorded due and status under any policy."""
    created = NOW - timedelta(hours=10)
    due = format_utc(created + timedelta(hours=6))
    settled = ticket(created, 3, tags=frozenset({"sla_met"}), due=due)
    item = compare(settled, comments(created, timedelta(hours=5)), HALVED)
    assert (
        item.current
        == item.new
        == Verdict(created + timedelta(hours=6), "met", settled=True)
    )
    assert recorded_verdict(settled, FIELDS) == item.current


def test_a_breach_is_settled_on_record_only_with_its_reply_time() -> None:
    """sla_breached alone may be unanswered; with the first-response field it is settled."""
    created = NOW - timedelta(hours=10)
    due = format_utc(created + timedelta(hours=1))
    tags = frozenset({"sla_breached"})
    assert recorded_verdict(ticket(created, 1, tags=tags, due=due), FIELDS) is None
    answered = ticket(created, 1, tags=tags, due=due, first=format_utc(NOW))
    assert recorded_verdict(answered, FIELDS) == Verdict(
        created + timedelta(hours=1), "breached", settled=True
    )
    assert recorded_verdict(ticket(created, 1, due=due), FIELDS) is None


def test_summary_counts_by_group() -> None:
    """Moves split into earlier/later/gained/lost; becoming breached is counted per org and severity."""
    at = NOW
    pending = Verdict(at + timedelta(hours=1), "pending", settled=False)
    breached = Verdict(at - timedelta(hours=1), "breached", settled=False)
    items = [
        Comparison(1, 9, "Acme", 3, "open", pending, breached, True),
        Comparison(2, 9, "Acme", 3, "open", pending, pending, True),
        Comparison(3, 8, "Globex", 1, "new", None, pending, False),
        Comparison(4, 8, "Globex", 4, "new", breached, None, False),
        Comparison(5, None, "", 2, "hold", breached, pending, True),
    ]
    summary = summarize(items)
    total = summary.total
    assert (total.tickets, total.moved, total.earlier, total.later) == (5, 4, 1, 1)
    assert (total.gain_sla, total.lose_sla) == (1, 1)
    assert (total.becomes_breached, total.stops_being_breached) == (1, 2)
    assert summary.by_organization[(9, "Acme")].becomes_breached == 1
    assert summary.by_severity[3].moved == 1
    assert summary.statuses[("pending", "breached")] == 1


def test_with_overrides_keeps_schedules() -> None:
    """The halved side keeps each severity's schedule (only the durations change)."""
    for n, target in DEFAULT_POLICY.targets.items():
        halved: Target = HALVED.policy.targets[n]
        assert halved.schedule is target.schedule
