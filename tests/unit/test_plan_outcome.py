"""The first-response outcome on the ticket (issue 13): when, its date, and how late.

Default policy; 2026-09-01 is a Tuesday, so a SEV 3 opened at 10:00 UTC is due
16:00 (6 core hours, Mon-Fri 05:00 -> 01:00 UTC).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sidecar.domain.models import Comment, Organization, Ticket, TicketUpdate
from sidecar.domain.plan import Fields, Plan, plan
from sidecar.entitlements import Entitlement
from sidecar.sla import DEFAULT_POLICY

SEV, DUE, DATE, FR_AT, FR_DATE, LATE = 100, 200, 300, 400, 500, 600
FIELDS = Fields(
    severity=SEV,
    due_at=DUE,
    due_date=DATE,
    first_response_at=FR_AT,
    first_response_date=FR_DATE,
    breach_minutes=LATE,
)
CREATED = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
REQUESTER, AGENT, BOT = 1, 2, 3
ORG = Organization(id=9, name="Acme", external_id=None, fields={})
ENTITLED = Entitlement(entitled=True, reason="enterprise", source="zendesk")


def ticket(severity: str = "sev_3", **changes: object) -> Ticket:
    base = Ticket(
        id=42,
        subject="Pushes fail",
        status="open",
        created_at=CREATED,
        updated_stamp="2026-09-01T10:00:00Z",
        organization_id=ORG.id,
        requester_id=REQUESTER,
        tags=frozenset(),
        custom_fields={SEV: severity},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def comments(*reply_at: datetime) -> list[Comment]:
    description = Comment(1, REQUESTER, True, CREATED, "end-user")
    return [description] + [
        Comment(10 + i, AGENT, True, at, "agent") for i, at in enumerate(reply_at)
    ]


def decide(
    t: Ticket, replies: list[Comment], *, now: datetime, fields: Fields = FIELDS
) -> Plan:
    return plan(
        t,
        organization=ORG,
        comments=replies,
        entitlement=ENTITLED,
        policy=DEFAULT_POLICY,
        fields=fields,
        now=now,
        self_user_id=BOT,
    )


def apply(t: Ticket, update: TicketUpdate) -> Ticket:
    tags = update.tags if update.tags is not None else t.tags
    fields = {**t.custom_fields, **update.custom_fields}
    return dataclasses.replace(t, custom_fields=fields, tags=frozenset(tags))


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=UTC)


def test_a_reply_in_time_records_when_in_the_same_write_as_sla_met() -> None:
    decided = decide(ticket(), comments(at(12, 30)), now=at(12, 31))
    assert decided.update.tags_added == {"sla_met"}
    assert decided.update.custom_fields == {
        DUE: "2026-09-01T16:00:00Z",
        DATE: "2026-09-01",
        FR_AT: "2026-09-01T12:30:00Z",
        FR_DATE: "2026-09-01",
    }
    after = apply(ticket(), decided.update)
    assert decide(after, comments(at(12, 30)), now=at(13)).update.is_empty()


def test_a_late_reply_seen_at_once_records_the_breach_and_its_covered_minutes() -> None:
    decided = decide(ticket(), comments(at(17, 30)), now=at(17, 31))
    assert decided.update.tags_added == {"sla_breached"}
    assert decided.update.custom_fields[FR_AT] == "2026-09-01T17:30:00Z"
    assert decided.update.custom_fields[LATE] == "90"


def test_breached_before_the_reply_stays_breached_when_the_late_reply_comes() -> None:
    """The breach at 16:00 is written first; the reply at 17:30 adds when and how late."""
    at_due = decide(ticket(), comments(), now=at(16))
    assert at_due.update.tags_added == {"sla_breached"}
    assert FR_AT not in at_due.update.custom_fields
    breached = apply(ticket(), at_due.update)
    replied = decide(
        breached,
        comments(
            at(
                17,
                30,
            )
        ),
        now=at(17, 31),
    )
    assert replied.settled_kept
    assert replied.update.tags is None  # still sla_breached: nothing to retag
    assert replied.update.custom_fields == {
        FR_AT: "2026-09-01T17:30:00Z",
        FR_DATE: "2026-09-01",
        LATE: "90",
    }


def test_minutes_late_are_covered_minutes_rounded_up() -> None:
    """A reply 30 s late is 1 minute late; one on Saturday after a Friday breach is 0."""
    half = decide(ticket(), comments(at(16, 0) + timedelta(seconds=30)), now=at(17))
    assert half.update.custom_fields[LATE] == "1"
    friday = ticket(created_at=at(19, day=4))  # Fri 19:00 + 6 core hours: due Sat 01:00
    weekend = decide(friday, comments(at(11, day=5)), now=at(12, day=5))
    assert weekend.update.tags_added == {"sla_breached"}
    assert weekend.update.custom_fields[DUE] == "2026-09-05T01:00:00Z"
    assert weekend.update.custom_fields[LATE] == "0"
    sev1 = ticket("sev_1", created_at=at(23, day=4))  # 24/7: due Sat 00:00
    late = decide(sev1, comments(at(0, 45, day=5)), now=at(1, day=5))
    assert late.update.custom_fields[LATE] == "45"


def test_a_settled_ticket_from_before_the_fields_gets_them_at_its_next_reconcile() -> (
    None
):
    """sla_met and the due time were written before the outcome fields existed."""
    old = ticket(
        tags=frozenset({"sla_met"}),
        custom_fields={SEV: "sev_3", DUE: "2026-09-01T16:00:00Z", DATE: "2026-09-01"},
    )
    decided = decide(old, comments(at(11)), now=at(9, day=20))
    assert decided.settled_kept
    assert decided.update.custom_fields == {
        FR_AT: "2026-09-01T11:00:00Z",
        FR_DATE: "2026-09-01",
    }


def test_a_severity_raised_after_the_settled_breach_keeps_the_recorded_due_time() -> (
    None
):
    """Breached at 16:00 as SEV 3, answered 17:30, then raised to SEV 1: 90 min late."""
    settled = ticket(
        "sev_1",
        tags=frozenset({"sla_breached"}),
        custom_fields={SEV: "sev_1", DUE: "2026-09-01T16:00:00Z", DATE: "2026-09-01"},
    )
    decided = decide(settled, comments(at(17, 30)), now=at(18))
    assert decided.update.custom_fields[LATE] == "90"


def test_the_date_is_in_the_due_date_zone() -> None:
    fields = dataclasses.replace(FIELDS, due_date_zone=ZoneInfo("Asia/Tokyo"))
    late_evening = decide(ticket(), comments(at(15, 30)), now=at(16), fields=fields)
    assert late_evening.update.custom_fields[FR_DATE] == "2026-09-02"  # 00:30 JST


def test_a_numeric_field_read_back_as_a_number_is_not_rewritten() -> None:
    written = ticket(
        tags=frozenset({"sla_breached"}),
        custom_fields={
            SEV: "sev_3",
            DUE: "2026-09-01T16:00:00Z",
            DATE: "2026-09-01",
            FR_AT: "2026-09-01T17:30:00Z",
            FR_DATE: "2026-09-01",
            LATE: 90,
        },
    )
    assert decide(written, comments(at(17, 30)), now=at(18)).update.is_empty()


def test_without_the_fields_configured_nothing_more_is_written() -> None:
    bare = Fields(severity=SEV, due_at=DUE, due_date=DATE)
    decided = decide(ticket(), comments(at(12, 30)), now=at(12, 31), fields=bare)
    assert set(decided.update.custom_fields) == {DUE, DATE}


def test_an_unanswered_ticket_carries_no_outcome_and_a_closed_one_is_left_alone() -> (
    None
):
    pending = decide(ticket(), comments(), now=at(11))
    assert set(pending.update.custom_fields) == {DUE, DATE}
    closed = decide(ticket(status="closed"), comments(at(12)), now=at(13))
    assert closed.update.is_empty()
