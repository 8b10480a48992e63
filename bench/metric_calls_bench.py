"""Zendesk API calls per event with every metric on, against first response only (issue 21).

Usage: .venv/bin/python bench/metric_calls_bench.py [--tickets 20]

Runs the same event script on --tickets SEV 2 tickets of an entitled
organization through the real Reconciler (its ticket memo in a SQLite queue)
against FakeZendesk over real HTTP, once with the built-in policy (first
response only: today's floor) and once with next reply, periodic update and
resolution (pausable) on, and counts every call at the fake, per event kind.

The incremental ticket metric events stream is not implemented (see
docs/decisions.md, "Metrics on the ticket"); its cost is computed from its
documented page size (100 events) and one poll per minute, for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sidecar.domain.models import Organization, Ticket
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.sla import DEFAULT_POLICY, TWENTY_FOUR_SEVEN, Policy, Target
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.reconcile import Reconciler
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk

H = timedelta(hours=1)
SEVERITY, DUE, NEXT, PERIODIC, RESOLUTION = 360001, 360002, 360003, 360004, 360005
ALL_METRICS = Policy(
    "all-metrics",
    dict(DEFAULT_POLICY.targets),
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

Change = Callable[[FakeZendesk, int, int], object]
SCRIPT: list[tuple[str, Change]] = [
    ("ticket created", lambda zd, tid, agent: None),
    ("timer", lambda zd, tid, agent: None),
    ("agent reply", lambda zd, tid, agent: zd.add_comment(tid, agent)),
    (
        "customer reply",
        lambda zd, tid, agent: zd.add_comment(tid, zd.ticket(tid).requester_id),
    ),
    ("timer", lambda zd, tid, agent: None),
    ("agent reply", lambda zd, tid, agent: zd.add_comment(tid, agent)),
    ("status change", lambda zd, tid, agent: zd.set_status(tid, "pending")),
    (
        "tag change",
        lambda zd, tid, agent: zd.update_ticket(
            tid, tags=sorted(zd.ticket(tid).tags | {"vip"})
        ),
    ),
    (
        "customer reply",
        lambda zd, tid, agent: zd.add_comment(tid, zd.ticket(tid).requester_id),
    ),
    ("status change", lambda zd, tid, agent: zd.set_status(tid, "open")),
    ("agent reply", lambda zd, tid, agent: zd.add_comment(tid, agent)),
    ("status change", lambda zd, tid, agent: zd.set_status(tid, "solved")),
]


class _Entitled:
    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        return None, Entitlement(entitled=True, reason="bench", source="bench")

    def routing_keys(self) -> list[object]:
        return []


class _Timers:
    def enqueue_reconcile(self, ticket_id: int, **kw: object) -> None: ...
    def hold_escalation(self, ticket_id: int) -> bool:
        return False

    def enqueue_escalate(self, ticket_id: int, **kw: object) -> None: ...
    def release_escalation(self, ticket_id: int) -> None: ...
    def claim(self, key: str, **kw: object) -> bool:
        return False

    def release(self, key: str) -> None: ...


def run(policy: Policy, tickets: int) -> dict[str, Counter[str]]:
    """Calls per event kind (summed over the tickets), by call kind."""
    costs: dict[str, Counter[str]] = defaultdict(Counter)
    with (
        tempfile.TemporaryDirectory() as tmp,
        # Counting, not pacing: Zendesk's rate limits are the budget bench's matter.
        FakeZendesk(
            ticket_updates_per_window=10**6,
            account_requests_per_window=10**6,
            count_agent_updates=False,
        ) as zd,
    ):
        zd.add_ticket_field(
            SEVERITY,
            title="Issue Severity",
            type="tagger",
            options=[("SEV 2", "sev_2")],
        )
        for fid in (DUE, NEXT, PERIODIC, RESOLUTION):
            zd.add_ticket_field(fid, title=f"due {fid}", type="text")
        queue = JobQueue.from_url(f"sqlite:///{Path(tmp) / 'queue.db'}")
        reconciler = Reconciler(
            zendesk=ZendeskClient.from_config(zd.config()),
            entitlements=_Entitled(),  # type: ignore[arg-type]
            scheduler=_Timers(),  # type: ignore[arg-type]
            policy=policy,
            fields=Fields(
                severity=SEVERITY,
                due_at=DUE,
                metric_due={
                    "next_reply": NEXT,
                    "periodic_update": PERIODIC,
                    "resolution": RESOLUTION,
                },
            ),
            memory=TicketMemory(queue, account="bench"),
        )
        agent = zd.add_user(role="agent")
        for _ in range(tickets):
            tid = zd.add_ticket(
                created_at=datetime.now(UTC) - H,
                status="open",
                custom_fields={SEVERITY: "sev_2"},
            )
            for kind, change in SCRIPT:
                change(zd, tid, agent)
                zd.reset_calls()
                reconciler.reconcile(tid)
                costs[kind]["events"] += 1
                for call in zd.calls():
                    leaf = call.path.rsplit("/", 1)[-1].removesuffix(".json")
                    name = "ticket" if leaf.isdigit() else leaf
                    costs[kind][f"{call.method} {name}"] += 1
        queue.close()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=20)
    args = parser.parse_args()
    floor = run(DEFAULT_POLICY, args.tickets)
    every = run(ALL_METRICS, args.tickets)
    kinds = list(dict.fromkeys(kind for kind, _ in SCRIPT))
    print(
        "| event | first response only: calls/event (writes) | all metrics: calls/event (writes) "
        "| of which audits | of which comments |"
    )
    print("|---|---|---|---|---|")
    totals = [0, 0, 0]
    for kind in kinds:
        a, b = floor[kind], every[kind]
        calls_a = sum(v for k, v in a.items() if k != "events")
        calls_b = sum(v for k, v in b.items() if k != "events")
        totals[0] += calls_a
        totals[1] += calls_b
        totals[2] += a["events"]
        print(
            f"| {kind} | {calls_a / a['events']:.2f} ({a['PUT ticket'] / a['events']:.2f}) "
            f"| {calls_b / b['events']:.2f} ({b['PUT ticket'] / b['events']:.2f}) "
            f"| {b['GET audits'] / b['events']:.2f} | {b['GET comments'] / b['events']:.2f} |"
        )
    print(
        f"| all {len(SCRIPT)} events of the script | {totals[0] / totals[2]:.2f} "
        f"| {totals[1] / totals[2]:.2f} | | |"
    )
    status_events = sum(1 for kind, _ in SCRIPT if kind == "status change")
    print()
    print(
        "metric events stream (computed): one poll a minute + one page per 100 events; "
        "per hour, an account with S status changes pays 60 + S/100 calls, the audits S: "
        f"break-even at S = {60 / (1 - 1 / 100):.1f} status changes an hour "
        f"(this script: {status_events} status changes per ticket)"
    )


if __name__ == "__main__":
    main()
