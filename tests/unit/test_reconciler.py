"""Tests for sidecar.tasks.reconcile.Reconciler with recording fakes passed in (no HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.config import Secret
from sidecar.entitlements import Entitlement
from sidecar.errors import Conflict, Rejected, Transient
from sidecar.sla import DEFAULT_POLICY
from sidecar.tasks.plan import Fields
from sidecar.tasks.reconcile import Reconciler
from sidecar.zendesk.models import Comment, Organization, Ticket, TicketUpdate

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

    def get_ticket(self, ticket_id: int) -> Ticket:
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
            tags=(self.ticket.tags | update.additional_tags) - update.remove_tags,
            updated_stamp=self.ticket.updated_stamp + "+",
        )

    def current_user_id(self) -> int:
        return 3

    def ticket_url(self, ticket_id: int) -> str:
        return f"https://acme.zendesk.com/agent/tickets/{ticket_id}"


class FakeEntitlements:
    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return ORG, ENTITLED


class FakeScheduler:
    """Records what would be enqueued; claims behave like the queue store's."""

    def __init__(self) -> None:
        self.claims: set[str] = set()
        self.ttls: dict[str, float] = {}
        self.reconciles: list[tuple[int, datetime | None]] = []
        self.escalations: list[int] = []
        self.fail_enqueue = False

    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
    ) -> None:
        if self.fail_enqueue:
            raise Transient("queue down", service="queue")
        self.reconciles.append((ticket_id, eta))

    def enqueue_escalate(self, ticket_id: int) -> None:
        if self.fail_enqueue:
            raise Transient("queue down", service="queue")
        self.escalations.append(ticket_id)

    def claim(self, key: str, *, ttl_seconds: float = 7 * 86400) -> bool:
        if key in self.claims:
            return False
        self.claims.add(key)
        self.ttls[key] = ttl_seconds
        return True

    def release(self, key: str) -> None:
        self.claims.discard(key)


class FakePager:
    def __init__(self) -> None:
        self.triggers: list[dict[str, Any]] = []
        self.resolves: list[str] = []

    def trigger(self, **event: Any) -> None:
        self.triggers.append(event)

    def resolve(self, *, dedup_key: str, routing_key: Any = None) -> None:
        self.resolves.append(dedup_key)


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


def test_failed_enqueue_gives_the_claim_back() -> None:
    """If the page cannot be enqueued, the claim is released so the retried reconcile pages."""
    zendesk, scheduler = FakeZendesk(ticket("sev_1")), FakeScheduler()
    scheduler.fail_enqueue = True
    with pytest.raises(Transient):
        reconciler(zendesk, scheduler).reconcile(42)
    assert not any(key.startswith("page:") for key in scheduler.claims)
    scheduler.fail_enqueue = False
    reconciler(zendesk, scheduler).reconcile(42)
    assert scheduler.escalations == [42]


def test_escalate_triggers_then_records_tag_and_note() -> None:
    """escalate pages with the ticket's details and records oncall_paged with a private note."""
    zendesk, pager = FakeZendesk(ticket("sev_1")), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    (event,) = pager.triggers
    assert event["dedup_key"] == "zendesk-acme-ticket-42"
    assert event["severity"] == "critical"
    assert event["summary"] == "[SEV 1] Acme Corp: Pushes fail"
    record = zendesk.updates[-1]
    assert record.additional_tags == {"oncall_paged"}
    assert record.private_note and "SEV 1" in record.private_note


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


def test_page_claim_expires_and_is_freed_when_no_page_is_needed() -> None:
    """The page claim has a short lifetime, and escalate frees it when the ticket no longer needs a page."""
    zendesk, scheduler, pager = (
        FakeZendesk(ticket("sev_1")),
        FakeScheduler(),
        FakePager(),
    )
    rec = reconciler(zendesk, scheduler, pager)
    rec.reconcile(42)
    assert scheduler.escalations == [42]
    assert scheduler.ttls["page:acme:42"] == 30 * 60
    zendesk.ticket = dataclasses.replace(
        zendesk.ticket, custom_fields={SEV: "sev_3", DUE: None}
    )
    rec.escalate(42)  # SEV 3 by the time the job runs: no page
    assert pager.triggers == [] and "page:acme:42" not in scheduler.claims
    zendesk.ticket = dataclasses.replace(
        zendesk.ticket, custom_fields={SEV: "sev_1", DUE: None}
    )
    rec.reconcile(42)
    assert scheduler.escalations == [42, 42]


def test_resolve_on_a_closed_ticket_does_not_write() -> None:
    """A closed ticket (Zendesk refuses updates) gets its page resolved without a ticket write."""
    closed = ticket("sev_1", status="closed", tags=frozenset({"oncall_paged"}))
    zendesk, pager = FakeZendesk(closed), FakePager()
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert pager.resolves == ["zendesk-acme-ticket-42"]
    assert zendesk.updates == []
