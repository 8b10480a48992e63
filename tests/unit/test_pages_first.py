"""Pages before writes, and never waiting on Zendesk (issue 19), with recording fakes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sidecar.domain.models import Organization, Ticket, TicketUpdate
from sidecar.entitlements import Entitlement
from sidecar.errors import BudgetWait, NotFound, RateLimited, Transient
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.reconcile import PageOrder
from tests.unit.test_reconciler import (
    DEFAULT_KEY,
    DUE,
    ENTITLED,
    ORG,
    FakePager,
    FakeScheduler,
    FakeZendesk,
    reconciler,
    ticket,
)

NOT_ENTITLED = Entitlement(
    entitled=False, reason="not entitled: team plan", source="zendesk"
)


class DictStore:
    """The queue store's memo part, in memory (TTLs are not needed here)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_memo(self, key: str) -> str | None:
        return self.values.get(key)

    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        self.values[key] = value


class Unreadable(FakeZendesk):
    """Zendesk that cannot answer a ticket read (429, 503, a hung read, our budget)."""

    def __init__(self, ticket: Ticket, error: Exception | None) -> None:
        super().__init__(ticket)
        self.error: Exception | None = error
        self.quick_reads = 0

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket:
        self.quick_reads += int(quick)
        if self.error is not None:
            raise self.error
        return super().get_ticket(ticket_id)


class Known:
    """Entitlements with what our cache or file says of organization 9 (or nothing)."""

    def __init__(
        self, known: Entitlement | None, ticket_entitlement: Entitlement = ENTITLED
    ):
        self.known = known
        self.ticket_entitlement = ticket_entitlement

    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return ORG, self.ticket_entitlement

    def known_for_org(
        self, org_id: int
    ) -> tuple[Organization | None, Entitlement] | None:
        return None if self.known is None else (ORG, self.known)

    def routing_keys(self) -> list[Any]:
        return []


def hinted(
    zendesk: FakeZendesk, known: Entitlement | None, **kw: Any
) -> tuple[Any, FakeScheduler, FakePager, TicketMemory]:
    scheduler, pager = FakeScheduler(), FakePager()
    memory = TicketMemory(DictStore(), account="acme")
    rec = reconciler(zendesk, scheduler, pager, memory=memory, **kw)
    rec.entitlements = Known(known)
    return rec, scheduler, pager, memory


UNREADABLE = [
    RateLimited("429", service="zendesk", status=429, retry_after=30.0),
    RateLimited("429 without Retry-After", service="zendesk", status=429),
    Transient("503", service="zendesk", status=503),
    Transient("timed out (ReadTimeout)", service="zendesk"),
    BudgetWait("our share is used", service="zendesk", retry_after=40.0),
]


@pytest.mark.parametrize("error", UNREADABLE, ids=lambda e: str(e))
def test_a_sev1_the_webhook_names_pages_when_zendesk_cannot_be_read(
    error: Exception,
) -> None:
    """The read fails: the page goes out on the signed webhook's word and the error goes up."""
    zendesk = Unreadable(ticket("sev_1"), error)
    rec, scheduler, pager, memory = hinted(zendesk, ENTITLED)
    with pytest.raises(type(error)):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    assert zendesk.quick_reads == 1  # the read a page waits on gives up within seconds
    (event,) = pager.triggers
    assert event["dedup_key"] == "zendesk-acme-ticket-42"
    assert event["summary"] == "[SEV 1] Acme Corp: Zendesk ticket #42"
    assert event["routing_key"] == DEFAULT_KEY
    assert scheduler.escalations == [42]  # the job that records it (or corrects it)
    assert memory.page_sent(42) == key_fingerprint(DEFAULT_KEY)
    assert zendesk.updates == []
    # The reconcile's retry while Zendesk is still down does not page again.
    scheduler.leases.clear()
    with pytest.raises(type(error)):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    assert len(pager.triggers) == 1


@pytest.mark.parametrize(
    ("known", "severity"),
    [(None, 1), (NOT_ENTITLED, 1), (ENTITLED, 3)],
    ids=["organization not known", "organization known not entitled", "SEV 3"],
)
def test_no_page_on_the_hint_without_an_entitlement_we_hold(
    known: Entitlement | None, severity: int
) -> None:
    """A body naming SEV 1 pages only for an organization our cache or file holds as entitled."""
    zendesk = Unreadable(
        ticket("sev_1"), Transient("503", service="zendesk", status=503)
    )
    rec, scheduler, pager, _ = hinted(zendesk, known)
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=severity, organization_id=9)
    assert pager.triggers == [] and scheduler.escalations == []


def test_the_org_memo_stands_in_for_the_cache_of_another_process() -> None:
    """A reconcile of another SEV 1/2 found the organization entitled lately: that is enough."""
    zendesk = Unreadable(
        ticket("sev_2"), Transient("503", service="zendesk", status=503)
    )
    rec, _, pager, memory = hinted(zendesk, None)
    memory.remember_org(9, entitled=True, route=key_fingerprint(DEFAULT_KEY))
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=2, organization_id=9)
    (event,) = pager.triggers
    assert event["severity"] == "error" and event["routing_key"] == DEFAULT_KEY


def test_a_readable_ticket_decides_not_the_hint() -> None:
    """Zendesk answers: the hint is not used (a forged SEV 1 on a SEV 3 pages nothing)."""
    zendesk = Unreadable(ticket("sev_3"), None)
    rec, _, pager, _ = hinted(zendesk, ENTITLED)
    rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    assert pager.triggers == []
    assert "sla_pending" in zendesk.ticket.tags


def test_a_wrong_hint_page_is_resolved_with_a_note_saying_why() -> None:
    """Paged on the hint; the ticket, once read, is SEV 3: the incident is resolved, the note says why."""
    zendesk = Unreadable(
        ticket("sev_1"), Transient("503", service="zendesk", status=503)
    )
    rec, _scheduler, pager, memory = hinted(zendesk, ENTITLED)
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    zendesk.error = None  # Zendesk is back; an agent had set SEV 3 meanwhile
    zendesk.ticket = dataclasses.replace(
        zendesk.ticket, custom_fields={**zendesk.ticket.custom_fields, 100: "sev_3"}
    )
    rec.escalate(42)
    assert pager.resolves == ["zendesk-acme-ticket-42"]
    assert pager.resolve_keys == [DEFAULT_KEY]
    (note,) = [u for u in zendesk.updates if u.private_note]
    assert "does not call for a page" in (note.private_note or "")
    assert "SEV 3" in (note.private_note or "")
    assert "oncall_paged" not in zendesk.ticket.tags
    assert memory.page_sent(42) is None


def test_a_hint_page_for_a_ticket_with_an_open_incident_changes_nothing() -> None:
    """The ticket records an open incident: the trigger joined it (same dedup key); no resolve."""
    paged = ticket("sev_1", tags=frozenset({"oncall_paged"}))
    zendesk = Unreadable(paged, Transient("503", service="zendesk", status=503))
    rec, _, pager, memory = hinted(zendesk, ENTITLED)
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    zendesk.error = None
    rec.escalate(42)
    assert pager.resolves == []
    assert [u for u in zendesk.updates if u.private_note] == []
    assert memory.page_sent(42) is None


def test_a_confirmed_hint_page_is_recorded_without_a_second_trigger() -> None:
    """Zendesk recovers and the ticket is SEV 1: the record is written, nothing triggered again."""
    zendesk = Unreadable(
        ticket("sev_1"), Transient("503", service="zendesk", status=503)
    )
    rec, _, pager, memory = hinted(zendesk, ENTITLED)
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    zendesk.error = None
    rec.escalate(42)
    assert len(pager.triggers) == 1
    (record,) = zendesk.updates
    assert {
        "oncall_paged",
        "sla_pending",
    } <= record.tags_added and record.custom_fields[DUE]
    # Kept a while: a reconcile that read just before the record does not page again.
    assert memory.page_sent(42) == key_fingerprint(DEFAULT_KEY)
    scheduler = FakeScheduler()
    rec.scheduler = scheduler
    zendesk.ticket = dataclasses.replace(zendesk.ticket, tags=frozenset({"sev_1"}))
    rec.reconcile(42)  # a stale read (no marker yet) decides a page
    assert len(pager.triggers) == 1


class Log:
    """One ordered record of what went to PagerDuty and to Zendesk."""

    def __init__(self) -> None:
        self.events: list[str] = []


def test_a_decided_page_goes_out_before_the_due_time_write() -> None:
    """A reconcile that decides a page triggers before its own write (which may wait for budget)."""
    order = Log()

    class Pager(FakePager):
        def trigger(self, **event: Any) -> None:
            order.events.append("trigger")
            super().trigger(**event)

    class Zendesk(FakeZendesk):
        def update_ticket(self, update: TicketUpdate) -> None:
            order.events.append("write")
            raise BudgetWait(
                "our updates share is used", service="zendesk", retry_after=20
            )

    zendesk, scheduler = Zendesk(ticket("sev_1")), FakeScheduler()
    rec = reconciler(zendesk, scheduler, Pager())
    with pytest.raises(BudgetWait):
        rec.reconcile(42)
    assert order.events == ["trigger", "write"]
    assert scheduler.escalations == [42]


def test_an_escalate_job_with_a_decision_triggers_before_it_reads() -> None:
    """The escalate job carries the page: PagerDuty first, then the (failing) read; the retry only records."""
    zendesk = Unreadable(ticket("sev_1"), Transient("timed out", service="zendesk"))
    rec, _, pager, _memory = hinted(zendesk, ENTITLED)
    page = PageOrder(
        severity=1,
        organization_id=9,
        organization="Acme Corp",
        subject="Pushes fail",
        due_at="2026-11-27T16:00:00Z",
        reason="enterprise",
        route=key_fingerprint(DEFAULT_KEY),
        basis="ticket",
    ).as_kwargs()
    with pytest.raises(Transient):
        rec.escalate(42, page=page)
    (event,) = pager.triggers
    assert event["summary"] == "[SEV 1] Acme Corp: Pushes fail"
    assert event["custom_details"]["first_response_due"] == "2026-11-27T16:00:00Z"
    zendesk.error = None
    rec.escalate(42, page=page)  # the worker's retry
    assert len(pager.triggers) == 1
    assert "oncall_paged" in zendesk.ticket.tags


def test_a_hint_page_for_a_ticket_zendesk_does_not_have_is_resolved() -> None:
    """A signed body named a ticket that does not exist (deleted, or forged with the secret)."""
    zendesk = Unreadable(
        ticket("sev_1"), Transient("503", service="zendesk", status=503)
    )
    rec, _, pager, memory = hinted(zendesk, ENTITLED)
    with pytest.raises(Transient):
        rec.reconcile_event(42, urgent=True, severity=1, organization_id=9)
    zendesk.error = NotFound("404", service="zendesk", status=404)
    with pytest.raises(NotFound):
        rec.escalate(42)
    assert pager.resolves == ["zendesk-acme-ticket-42"]
    assert memory.page_sent(42) is None
