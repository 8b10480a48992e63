"""Status history at the API floor (issue 21, item 3), against the strict Zendesk double.

The double's audits follow the published contract (tests/fake_zendesk.py
``_get_audits``: OAS ListAuditsForTicket, TicketAuditObject, Create/Change
events with ``field_name`` "status"). The reconciler reads them only when a
metric depends on the status and the status changed since the version it knows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.domain.models import Organization, Ticket
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.errors import BadResponse
from sidecar.sla import DEFAULT_POLICY, TWENTY_FOUR_SEVEN, Policy, StatusChange, Target
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.reconcile import Reconciler
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk

H = timedelta(hours=1)
SEVERITY, DUE, NEXT, RESOLUTION = 360001, 360002, 360003, 360004
FIELDS = Fields(
    severity=SEVERITY,
    due_at=DUE,
    metric_due={"next_reply": NEXT, "resolution": RESOLUTION},
)
METRICS_POLICY = Policy(
    "metrics",
    {2: Target(2 * H, TWENTY_FOUR_SEVEN)},
    metrics={
        2: {
            "next_reply": Target(4 * H, TWENTY_FOUR_SEVEN),
            "resolution": Target(
                24 * H, TWENTY_FOUR_SEVEN, pause=frozenset({"pending", "hold"})
            ),
        }
    },
)


class _Entitled:
    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return None, Entitlement(entitled=True, reason="test", source="test")

    def routing_keys(self) -> list[object]:
        return []


class _NoScheduler:
    def enqueue_reconcile(self, ticket_id: int, **kw: object) -> None: ...
    def hold_escalation(self, ticket_id: int) -> bool:
        return False

    def enqueue_escalate(self, ticket_id: int, **page: object) -> None: ...
    def release_escalation(self, ticket_id: int) -> None: ...

    def claim(self, key: str, **kw: object) -> bool:
        return False

    def set_timer(self, ticket_id: int, **kw: object) -> bool:
        return False  # as claim: no timer is set here

    def release(self, key: str) -> None: ...


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    with FakeZendesk(audits_page_size=2) as zd:
        zd.add_ticket_field(
            SEVERITY,
            title="Issue Severity",
            type="tagger",
            options=[("SEV 2", "sev_2"), ("SEV 3", "sev_3")],
        )
        for fid in (DUE, NEXT, RESOLUTION):
            zd.add_ticket_field(fid, title=f"due {fid}", type="text")
        yield zd
        assert zd.errors == []


def test_the_client_reads_the_status_history_across_pages(fake: FakeZendesk) -> None:
    created = datetime(2026, 12, 7, 10, tzinfo=UTC)
    tid = fake.add_ticket(created_at=created, status="new")
    agent = fake.add_user(role="agent")
    fake.add_comment(tid, agent, at=created + H)  # an audit without a status event
    fake.set_status(tid, "pending", at=created + 2 * H)
    fake.set_status(tid, "open", at=created + 3 * H)
    with ZendeskClient.from_config(fake.config()) as client:
        history = client.list_status_changes(tid)
    assert history == [
        StatusChange("new", created),
        StatusChange("pending", created + 2 * H),
        StatusChange("open", created + 3 * H),
    ]
    # Four audits, two a page: two requests, the second from next_page.
    pages = [c for c in fake.calls() if c.path.endswith("/audits.json")]
    assert len(pages) == 2


def test_a_malformed_history_is_refused_not_guessed(fake: FakeZendesk) -> None:
    tid = fake.add_ticket(status="new")
    fake.set_status(tid, "open")
    fake._audits[tid][-1]["events"][0]["value"] = "resolved-ish"  # not a status
    with (
        ZendeskClient.from_config(fake.config()) as client,
        pytest.raises(BadResponse, match="not a ticket status"),
    ):
        client.list_status_changes(tid)


def _reconciler(
    fake: FakeZendesk, tmp_path: Path, policy: Policy
) -> tuple[Reconciler, JobQueue]:
    queue = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    reconciler = Reconciler(
        zendesk=ZendeskClient.from_config(fake.config()),
        entitlements=_Entitled(),  # type: ignore[arg-type]
        scheduler=_NoScheduler(),  # type: ignore[arg-type]
        policy=policy,
        fields=FIELDS,
        memory=TicketMemory(queue, account="acme"),
    )
    return reconciler, queue


def test_unreadable_history_is_said_and_no_due_time_made_up(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    created = datetime.now(UTC) - 3 * H
    tid = fake.add_ticket(created_at=created, custom_fields={SEVERITY: "sev_2"})
    fake.set_status(tid, "open", at=created + H)
    fake._audits[tid][-1]["events"][0]["value"] = 7  # not a status
    reconciler, queue = _reconciler(fake, tmp_path, METRICS_POLICY)
    outcome = reconciler.reconcile(tid)
    assert outcome.plan.metrics == ()
    assert "status history could not be read" in (outcome.plan.metrics_error or "")
    ticket = fake.ticket(tid)
    assert ticket.custom_fields.get(RESOLUTION) is None  # nothing made up
    assert ticket.custom_fields.get(DUE)  # the first response as always
    queue.close()


# Each event: what happens to the ticket, then one reconcile.
Event = tuple[str, Callable[[FakeZendesk, int, int], None]]
EVENTS: list[Event] = [
    ("created", lambda zd, tid, agent: None),
    ("timer (nothing changed)", lambda zd, tid, agent: None),
    ("agent replies", lambda zd, tid, agent: zd.add_comment(tid, agent)),
    (
        "customer replies",
        lambda zd, tid, agent: zd.add_comment(tid, zd.ticket(tid).requester_id),
    ),
    ("status -> pending", lambda zd, tid, agent: zd.set_status(tid, "pending")),
    (
        "tag added by an agent",
        lambda zd, tid, agent: zd.update_ticket(
            tid, tags=sorted(zd.ticket(tid).tags | {"vip"})
        ),
    ),
    ("status -> open", lambda zd, tid, agent: zd.set_status(tid, "open")),
    ("agent replies", lambda zd, tid, agent: zd.add_comment(tid, agent)),
    ("timer (nothing changed)", lambda zd, tid, agent: None),
]


def calls_per_event(
    fake: FakeZendesk, tmp_path: Path, policy: Policy
) -> list[tuple[str, dict[str, int]]]:
    """Run EVENTS on one SEV 2 ticket, one reconcile after each; the calls each cost."""
    reconciler, queue = _reconciler(fake, tmp_path, policy)
    agent = fake.add_user(role="agent")
    tid = fake.add_ticket(
        created_at=datetime.now(UTC) - H,
        status="open",
        custom_fields={SEVERITY: "sev_2"},
    )
    costs = []
    for name, change in EVENTS:
        change(fake, tid, agent)
        fake.reset_calls()
        reconciler.reconcile(tid)
        kinds: dict[str, int] = {}
        for call in fake.calls():
            kind = call.path.rsplit("/", 1)[-1].removesuffix(".json")
            kind = f"{call.method} {'ticket' if kind.isdigit() else kind}"
            kinds[kind] = kinds.get(kind, 0) + 1
        costs.append((name, kinds))
    queue.close()
    return costs


def test_first_response_only_never_reads_the_history(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    costs = calls_per_event(fake, tmp_path, DEFAULT_POLICY)
    assert not any("GET audits" in kinds for _, kinds in costs)


def test_the_history_is_read_only_when_the_status_changed(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    costs = calls_per_event(fake, tmp_path, METRICS_POLICY)
    audits = [name for name, kinds in costs if "GET audits" in kinds]
    # Each status change; never a timer, a comment or a tag change, nor the
    # first look at a ticket not updated since its creation (its status then
    # is the one it was created with).
    assert audits == ["status -> pending", "status -> open"]
    comments = [name for name, kinds in costs if "GET comments" in kinds]
    assert "timer (nothing changed)" not in comments
    assert "status -> pending" not in comments  # same comment count: remembered


def test_a_ticket_updated_before_our_first_look_reads_its_history(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    created = datetime.now(UTC) - 5 * H
    tid = fake.add_ticket(created_at=created, custom_fields={SEVERITY: "sev_2"})
    fake.set_status(tid, "pending", at=created + H)
    fake.set_status(tid, "open", at=created + 3 * H)
    reconciler, queue = _reconciler(fake, tmp_path, METRICS_POLICY)
    outcome = reconciler.reconcile(tid)
    assert [c.path for c in fake.calls()].count(
        f"/api/v2/tickets/{tid}/audits.json"
    ) == 2
    (resolution,) = [m for m in outcome.plan.metrics if m.name == "resolution"]
    # 24 h from creation, plus the two hours pending.
    assert resolution.due == created.replace(microsecond=0) + 26 * H
    assert resolution.pauses[0].end - resolution.pauses[0].start == 2 * H
    queue.close()


def test_an_older_reconcile_does_not_overwrite_a_newer_history(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    """Two reconciles of one ticket finishing out of order: the memo keeps the later one.

    Else the slower one (read while the ticket was open) would leave "open"
    with a history that lacks the pending period, and once the ticket is open
    again the unchanged status would skip the audits and drop the pause.
    """
    created = datetime.now(UTC).replace(microsecond=0) - 3 * H
    tid = fake.add_ticket(
        created_at=created, status="open", custom_fields={SEVERITY: "sev_2"}
    )
    reconciler, queue = _reconciler(fake, tmp_path, METRICS_POLICY)
    reconciler.reconcile(tid)
    slow = reconciler._plan(tid, reconciler._recall(tid))  # read while open
    fake.set_status(tid, "pending", at=created + H)
    reconciler.reconcile(tid)  # reads the audits, remembers "pending"
    reconciler._remember(slow[0], slow[1], None, wrote=False, version=None)
    fake.set_status(tid, "open", at=created + 2 * H)
    outcome = reconciler.reconcile(tid)
    (resolution,) = [m for m in outcome.plan.metrics if m.name == "resolution"]
    assert resolution.due == created + 25 * H  # the hour pending counted as a pause
    queue.close()
