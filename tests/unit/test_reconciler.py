"""Tests for sidecar.tasks.reconcile.Reconciler with recording fakes passed in (no HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.config import Secret
from sidecar.domain.models import Comment, Organization, Ticket, TicketUpdate
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.errors import Conflict, Rejected, Transient
from sidecar.sla import DEFAULT_POLICY
from sidecar.tasks.jobs import Lane
from sidecar.tasks.reconcile import Reconciler, key_tag

SEV, DUE = 100, 200
NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
ORG = Organization(id=9, name="Acme Corp", external_id=None, fields={})
ENTITLED = Entitlement(
    entitled=True, reason="enterprise plan with Enterprise Support", source="zendesk"
)


class FakeZendesk:
    """An in-memory Zendesk port: applies updates, can answer 409 a given number of times."""

    account = "acme"

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket
        self.updates: list[TicketUpdate] = []
        self.conflicts_left = 0
        self.reads = 0

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket:
        self.reads += 1
        return self.ticket

    def list_comments(self, ticket_id: int) -> list[Comment]:
        return [Comment(1, 5, True, self.ticket.created_at, "end-user")]

    def update_ticket(self, update: TicketUpdate) -> None:
        self.updates.append(update)
        if self.conflicts_left:
            self.conflicts_left -= 1
            raise Conflict("stale", service="zendesk", status=409)
        assert update.updated_stamp == self.ticket.updated_stamp
        self.ticket = dataclasses.replace(
            self.ticket,
            custom_fields={**self.ticket.custom_fields, **update.custom_fields},
            # A single-ticket update replaces the tag set with the list it sends.
            tags=self.ticket.tags if update.tags is None else update.tags,
            updated_stamp=self.ticket.updated_stamp + "+",
        )

    def current_user_id(self) -> int:
        return 3

    def ticket_url(self, ticket_id: int) -> str:
        return f"https://acme.zendesk.com/agent/tickets/{ticket_id}"


class FakeEntitlements:
    def __init__(self, entitlement: Entitlement = ENTITLED, *keys: Secret) -> None:
        self.entitlement = entitlement
        self.keys = list(keys)

    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return ORG, self.entitlement

    def routing_keys(self) -> list[Secret]:
        return self.keys


class FakeScheduler:
    """Records what would be enqueued; claims behave like the queue store's."""

    def __init__(self) -> None:
        self.claims: set[str] = set()
        self.ttls: dict[str, float] = {}
        self.reconciles: list[tuple[int, datetime | None]] = []
        self.timer_lanes: list[Lane] = []
        self.escalations: list[int] = []
        self.leases: set[int] = set()
        self.pages: list[dict[str, Any] | None] = []
        self.fail_enqueue = False

    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
        lane: Lane = Lane.NORMAL,
    ) -> None:
        if self.fail_enqueue:
            raise Transient("queue down", service="queue")
        self.reconciles.append((ticket_id, eta))
        if eta is not None:
            self.timer_lanes.append(lane)

    def set_timer(
        self, ticket_id: int, *, eta: datetime, wake_key: str, lane: Lane = Lane.NORMAL
    ) -> bool:
        # Like the queue: the claim and the timer are one write (both or neither).
        if wake_key in self.claims:
            return False
        self.enqueue_reconcile(ticket_id, eta=eta, wake_key=wake_key, lane=lane)
        self.claims.add(wake_key)
        self.ttls[wake_key] = 7 * 86400
        return True

    def hold_escalation(self, ticket_id: int) -> bool:
        # Like the queue: only while no live job holds the escalation's lease.
        if ticket_id in self.leases:
            return False
        self.leases.add(ticket_id)
        return True

    def release_escalation(self, ticket_id: int) -> None:
        self.leases.discard(ticket_id)

    def enqueue_escalate(self, ticket_id: int, **page: object) -> None:
        if self.fail_enqueue:
            raise Transient("queue down", service="queue")
        self.escalations.append(ticket_id)
        self.pages.append(page.get("page"))  # type: ignore[arg-type]

    def claim(self, key: str, *, ttl_seconds: float = 7 * 86400) -> bool:
        if key in self.claims:
            return False
        self.claims.add(key)
        self.ttls[key] = ttl_seconds
        return True

    def release(self, key: str) -> None:
        self.claims.discard(key)


DEFAULT_KEY = Secret("D" * 32)


class FakePager:
    def __init__(self, default_routing_key: Secret | None = DEFAULT_KEY) -> None:
        self.default_routing_key = default_routing_key
        self.triggers: list[dict[str, Any]] = []
        self.resolves: list[str] = []
        self.resolve_keys: list[Secret] = []

    def trigger(self, **event: Any) -> None:
        self.triggers.append(event)

    def resolve(self, *, dedup_key: str, routing_key: Any = None) -> None:
        self.resolves.append(dedup_key)
        self.resolve_keys.append(routing_key)


def ticket(severity: str = "sev_3", **changes: Any) -> Ticket:
    base = Ticket(
        id=42,
        subject="Pushes fail",
        status="open",
        created_at=NOW - timedelta(minutes=30),
        updated_stamp="2026-11-27T15:00:00Z",
        organization_id=9,
        requester_id=5,
        tags=frozenset(),
        custom_fields={SEV: severity, DUE: None},
    )
    return dataclasses.replace(base, **changes)


def reconciler(
    zendesk: FakeZendesk,
    scheduler: FakeScheduler,
    pager: FakePager | None = None,
    **kw: Any,
) -> Reconciler:
    return Reconciler(
        zendesk=zendesk,
        entitlements=FakeEntitlements(),
        scheduler=scheduler,
        policy=DEFAULT_POLICY,
        fields=Fields(severity=SEV, due_at=DUE),
        pager=pager,
        clock=lambda: NOW,
        **kw,
    )


def test_conflict_rereads_and_writes_once_it_succeeds() -> None:
    """A 409 makes the reconciler read again and recompute; the second write lands."""
    zendesk = FakeZendesk(ticket())
    zendesk.conflicts_left = 1
    outcome = reconciler(zendesk, FakeScheduler()).reconcile(42)
    assert outcome.wrote and outcome.conflicts == 1
    assert len(zendesk.updates) == 2 and zendesk.reads == 2
    assert "sla_pending" in zendesk.ticket.tags


def test_conflicts_are_bounded() -> None:
    """A ticket that keeps changing raises Conflict after three rounds, for the worker to retry later."""
    zendesk = FakeZendesk(ticket())
    zendesk.conflicts_left = 10
    with pytest.raises(Conflict):
        reconciler(zendesk, FakeScheduler()).reconcile(42)
    assert len(zendesk.updates) == 3


def test_timers_are_claimed_once_per_instant() -> None:
    """Two reconciles of a pending ticket schedule its at-risk and due wake-ups once."""
    zendesk, scheduler = FakeZendesk(ticket()), FakeScheduler()
    rec = reconciler(zendesk, scheduler)
    rec.reconcile(42)
    rec.reconcile(42)
    assert sorted(eta for _, eta in scheduler.reconciles if eta) == [
        datetime(2026, 11, 27, 19, 30, tzinfo=UTC),
        datetime(2026, 11, 27, 21, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("severity", "lane"),
    [("sev_1", Lane.URGENT), ("sev_2", Lane.URGENT), ("sev_3", Lane.NORMAL)],
)
def test_timers_of_sev_1_and_2_run_in_the_urgent_lane(
    severity: str, lane: Lane
) -> None:
    """An entitled SEV 1/2 ticket's at-risk and due flips never wait behind ordinary jobs."""
    zendesk, scheduler = FakeZendesk(ticket(severity)), FakeScheduler()
    reconciler(zendesk, scheduler).reconcile(42)
    assert scheduler.timer_lanes and set(scheduler.timer_lanes) == {lane}


def test_failed_enqueue_is_raised_so_the_reconcile_is_retried() -> None:
    """If the page cannot be enqueued the reconcile fails, and its retry pages."""
    zendesk, scheduler = FakeZendesk(ticket("sev_1")), FakeScheduler()
    scheduler.fail_enqueue = True
    with pytest.raises(Transient):
        reconciler(zendesk, scheduler).reconcile(42)
    scheduler.fail_enqueue = False
    reconciler(zendesk, scheduler).reconcile(42)
    assert scheduler.escalations == [42]


def test_a_live_escalation_is_not_enqueued_twice() -> None:
    """While an escalation's job holds its lease, more reconciles enqueue nothing."""
    zendesk, scheduler = FakeZendesk(ticket("sev_1")), FakeScheduler()
    rec = reconciler(zendesk, scheduler)
    rec.reconcile(42)
    rec.reconcile(42)
    assert scheduler.escalations == [42]


def test_escalate_triggers_then_records_tag_and_note() -> None:
    """escalate pages with the ticket's details and records oncall_paged with a private note."""
    zendesk, pager = FakeZendesk(ticket("sev_1")), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    (event,) = pager.triggers
    assert event["dedup_key"] == "zendesk-acme-ticket-42"
    assert event["severity"] == "critical"
    assert event["summary"] == "[SEV 1] Acme Corp: Pushes fail"
    (record,) = zendesk.updates
    # The record carries what the plan writes too (the reconcile's own write
    # may still wait for the budget): one write, nothing lost.
    assert record.tags_added == {"oncall_paged", key_tag(DEFAULT_KEY), "sla_pending"}
    assert record.custom_fields[DUE]
    assert record.private_note and "SEV 1" in record.private_note
    assert DEFAULT_KEY.reveal() not in record.private_note


def test_escalate_keeps_every_tag_an_agent_set() -> None:
    """The page record sends the complete tag list: the ticket's tags plus ours."""
    tagged = ticket("sev_1", tags=frozenset({"vip", "sev_1"}))
    zendesk, pager = FakeZendesk(tagged), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert {"vip", "sev_1", "oncall_paged"} <= zendesk.ticket.tags


def test_a_conflict_on_the_page_record_does_not_trigger_again() -> None:
    """A 409 on the write that records the page re-reads and writes again, without a second trigger."""
    zendesk, pager = FakeZendesk(ticket("sev_1")), FakePager()
    zendesk.conflicts_left = 2
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert len(pager.triggers) == 1
    assert "oncall_paged" in zendesk.ticket.tags


def test_resolve_uses_the_routing_key_that_opened_the_incident() -> None:
    """After the organization's key changed, the resolve still goes to the key that triggered."""
    old, new = Secret("O" * 32), Secret("N" * 32)
    paged = ticket(
        "sev_1", status="solved", tags=frozenset({"oncall_paged", key_tag(old)})
    )
    zendesk, pager = FakeZendesk(paged), FakePager()
    rec = reconciler(zendesk, FakeScheduler(), pager)
    rec.entitlements = FakeEntitlements(
        dataclasses.replace(ENTITLED, routing_key=new), old, new
    )
    rec.escalate(42)
    assert [k.reveal() for k in pager.resolve_keys] == [old.reveal()]
    assert "oncall_resolved" in zendesk.ticket.tags


def test_resolve_under_a_key_no_longer_configured_is_a_visible_failure() -> None:
    """If no configured key matches the fingerprint, the resolve is refused naming the incident."""
    gone = Secret("G" * 32)
    paged = ticket(
        "sev_1", status="solved", tags=frozenset({"oncall_paged", key_tag(gone)})
    )
    zendesk, pager = FakeZendesk(paged), FakePager()
    with pytest.raises(Rejected, match="zendesk-acme-ticket-42") as info:
        reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert gone.reveal() not in str(info.value)
    assert pager.resolves == [] and zendesk.updates == []


def test_escalate_after_the_page_was_recorded_does_nothing() -> None:
    """A second escalate (a retry after success) finds oncall_paged and pages no one."""
    zendesk, pager = (
        FakeZendesk(ticket("sev_1", tags=frozenset({"oncall_paged"}))),
        FakePager(),
    )
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert pager.triggers == [] and zendesk.updates == []


def test_dry_run_writes_nothing_and_queues_nothing() -> None:
    """Shadow mode computes the diff but neither writes, pages nor schedules."""
    zendesk, scheduler = FakeZendesk(ticket("sev_1")), FakeScheduler()
    outcome = reconciler(zendesk, scheduler, dry_run=True).reconcile(42)
    assert outcome.dry_run and not outcome.wrote
    assert not outcome.plan.update.is_empty()
    assert (
        zendesk.updates == []
        and scheduler.escalations == []
        and scheduler.reconciles == []
    )


class FailingNotifier:
    def __init__(self) -> None:
        self.posts = 0

    def post(self, url: str, text: str) -> None:
        self.posts += 1
        raise Rejected(
            "slack 404 (no_service) at hooks.slack.com", service="slack", status=404
        )


class SlackEntitlements(FakeEntitlements):
    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return ORG, dataclasses.replace(
            ENTITLED, slack_webhook_url=Secret("https://hooks.slack.com/services/x")
        )


def test_a_refused_slack_notice_does_not_undo_the_page() -> None:
    """When Slack refuses the notice, the page is still recorded on the ticket and nothing is raised."""
    zendesk, pager, notifier = (
        FakeZendesk(ticket("sev_1")),
        FakePager(),
        FailingNotifier(),
    )
    rec = reconciler(zendesk, FakeScheduler(), pager, notifier=notifier)
    rec.entitlements = SlackEntitlements()
    rec.escalate(42)
    assert len(pager.triggers) == 1 and notifier.posts == 1
    assert "oncall_paged" in zendesk.ticket.tags


def test_escalate_does_nothing_when_the_page_is_no_longer_needed() -> None:
    """A ticket changed to SEV 3 before its escalate job ran pages no one."""
    zendesk, pager = FakeZendesk(ticket("sev_3")), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert pager.triggers == [] and zendesk.updates == []


def test_resolve_on_a_closed_ticket_does_not_write() -> None:
    """A closed ticket (Zendesk refuses updates) gets its page resolved without a ticket write."""
    closed = ticket("sev_1", status="closed", tags=frozenset({"oncall_paged"}))
    zendesk, pager = FakeZendesk(closed), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert pager.resolves == ["zendesk-acme-ticket-42"]
    assert zendesk.updates == []


def test_a_hand_edited_due_time_is_rewritten_by_the_next_reconcile() -> None:
    """Zendesk cannot make a field read-only for agents: an agent's edit of the due time is undone."""
    zendesk = FakeZendesk(ticket())
    reconciler(zendesk, FakeScheduler()).reconcile(42)
    due = zendesk.ticket.custom_fields[DUE]
    assert due and str(due).endswith("Z")
    zendesk.ticket = dataclasses.replace(
        zendesk.ticket,
        custom_fields={**zendesk.ticket.custom_fields, DUE: "2099-01-01T00:00:00Z"},
    )
    outcome = reconciler(zendesk, FakeScheduler()).reconcile(42)
    assert outcome.wrote
    assert zendesk.ticket.custom_fields[DUE] == due
