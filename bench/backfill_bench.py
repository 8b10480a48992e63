"""Benchmark `sidecar backfill`: enumeration throughput and Zendesk calls per backfilled ticket.

Usage: .venv/bin/python bench/backfill_bench.py [--quick] [--tickets N] [--seed S]

Runs FakeZendesk in this process (real HTTP on 127.0.0.1, its rate limits
lifted so the fake measures work, not waiting) and a SQLite queue in a temp
dir. N tickets (default 5,000; --quick 1,500) in three organizations (two with
Enterprise Support), 10 % solved, 10 % without a severity, SEV 3-5 (no paging,
so no PagerDuty), created over the last three days.

1. Backfill, as the CLI runs it: the real ``Backfill`` over List Tickets (cursor
   pages of 100), through a budget-metered client in the bulk lane, enqueueing
   into the real queue: tickets/min enumerated + enqueued, calls per ticket.
2. Baselines in the same run, over the same tickets:
   a. Search pages (``type:ticket organization:ID status<solved``, 100 a page):
      calls per ticket, tickets/min, and how many tickets Search can reach at
      all (1,000 results per query);
   b. per-ticket reads (Show Ticket for every id): calls per ticket, tickets/min.
3. The worker drains the backfill's reconciles (the real handlers, in this
   process, budget lifted): Zendesk calls and writes per ticket, tickets/min.
4. What the default shares allow (SIDECAR_ZENDESK_BUDGET_*: 350 requests and 30
   ticket updates a minute, 20 % of each reserved for SEV 1/2 work): the
   budget-bound rates of enumeration and of the reconciles it causes, from the
   measured calls per ticket.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidecar.config import Config  # noqa: E402
from sidecar.tasks.bulk import Backfill, BackfillFilter  # noqa: E402
from sidecar.tasks.handler import build_handler, fields_from  # noqa: E402
from sidecar.tasks.queue import JobQueue  # noqa: E402
from sidecar.tasks.worker import serve_jobs  # noqa: E402
from sidecar.zendesk.budget import BULK, Shares, lane, shares_from  # noqa: E402
from sidecar.zendesk.client import ZendeskClient  # noqa: E402
from tests.fake_zendesk import FakeZendesk  # noqa: E402

SEVERITY_FIELD, DUE_AT_FIELD = 360001, 360002
UNLIMITED = 10**9
OPEN = ("new", "open", "pending", "hold")


def build_account(
    zendesk: FakeZendesk, tickets: int, seed: int
) -> tuple[list[int], list[int]]:
    """Add the organizations and tickets; return (all ticket ids, organization ids)."""
    rng = random.Random(seed)
    zendesk.add_ticket_field(
        SEVERITY_FIELD,
        title="Issue Severity",
        type="tagger",
        options=[(f"SEV {n}", f"sev_{n}") for n in range(1, 6)],
    )
    zendesk.add_ticket_field(DUE_AT_FIELD, title="SLA first response due")
    orgs = [
        zendesk.add_org(
            fields={"support_plan": "enterprise", "enterprise_support": True}
        ),
        zendesk.add_org(fields={"support_plan": "ultra", "enterprise_support": True}),
        zendesk.add_org(fields={"support_plan": "team"}),
    ]
    now = datetime.now(UTC)
    ids = []
    for i in range(tickets):
        kind = i % 10
        custom = {} if kind == 1 else {SEVERITY_FIELD: f"sev_{rng.choice((3, 4, 5))}"}
        ids.append(
            zendesk.add_ticket(
                status="solved" if kind == 0 else rng.choice(OPEN),
                created_at=now - timedelta(minutes=rng.randint(10, 3 * 24 * 60)),
                # Most tickets in one organization, as accounts tend to be.
                organization_id=rng.choices(orgs, weights=(6, 3, 1))[0],
                custom_fields=custom,
            )
        )
    return ids, orgs


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def per_minute(count: int, seconds: float) -> float:
    return count / seconds * 60 if seconds > 0 else float("inf")


def backfill(
    config: Config, queue: JobQueue, *, dry_run: bool = False
) -> tuple[int, int]:
    """Run the backfill as the CLI does; return (tickets read, enqueued)."""
    client = ZendeskClient.from_config(config, budget=queue.budget(shares_from(config)))
    job = Backfill(
        client,
        queue,
        scope=BackfillFilter(),
        fields=fields_from(config),
        dry_run=dry_run,
    )
    job.load(restart=True)
    with lane(BULK):
        while job.step():
            pass
    client.close()
    return job.progress.seen, job.progress.enqueued


def search_pages(zendesk: FakeZendesk, orgs: list[int]) -> int:
    """Baseline a: every organization's unsolved tickets through Search pages."""
    session = requests.Session()
    session.auth = (f"{zendesk.email}/token", zendesk.api_token)
    found: set[int] = set()
    for org in orgs:
        page = 1
        while True:
            answer = session.get(
                f"{zendesk.url}/api/v2/search.json",
                params={
                    "query": f"type:ticket organization:{org} status<solved",
                    "per_page": "100",
                    "page": str(page),
                },
                timeout=10,
            )
            if answer.status_code == 422:  # past 1,000 results: Search stops here
                break
            answer.raise_for_status()
            body = answer.json()
            found.update(r["id"] for r in body["results"])
            if not body.get("next_page"):
                break
            page += 1
    session.close()
    return len(found)


def per_ticket_reads(config: Config, ids: list[int]) -> int:
    """Baseline b: Show Ticket for every id."""
    with ZendeskClient.from_config(config) as client:
        for ticket_id in ids:
            client.get_ticket(ticket_id)
    return len(ids)


def drain(config: Config, queue: JobQueue) -> int:
    """Run every queued job here with the worker's real handlers; return jobs run."""
    serve_jobs(queue, lambda: build_handler(config, queue=queue))
    huey = queue.huey
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def kind_of(method: str, path: str) -> str:
    if method == "PUT":
        return "ticket write"
    if path.startswith("/api/v2/tickets.json") or "/tickets.json" in path:
        return "list page"
    if path.endswith("/comments.json"):
        return "comments"
    if path.startswith("/api/v2/tickets/"):
        return "ticket read"
    if path.startswith("/api/v2/organizations/"):
        return "organization"
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,500 tickets")
    parser.add_argument("--tickets", type=int)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    tickets = args.tickets or (1500 if args.quick else 5000)
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeZendesk(
            account_requests_per_window=UNLIMITED,
            ticket_updates_per_window=UNLIMITED,
            ticket_updates_per_user_ticket=UNLIMITED,
        ) as zendesk,
    ):
        ids, orgs = build_account(zendesk, tickets, args.seed)
        # The budget lifted: the fake measures the work, step 4 applies the shares.
        config = zendesk.config(
            severity_field_id=SEVERITY_FIELD,
            due_at_field_id=DUE_AT_FIELD,
            queue_url=f"sqlite:///{Path(tmp) / 'queue.db'}",
            budget_requests=UNLIMITED,
            budget_updates=UNLIMITED,
        )
        queue = JobQueue.from_url(config.queue_url)
        unsolved = sum(1 for t in ids if zendesk.ticket(t).status != "solved")

        zendesk.reset_calls()
        _, t_dry = timed(lambda: backfill(config, queue, dry_run=True))
        zendesk.reset_calls()
        (seen, enqueued), t_backfill = timed(lambda: backfill(config, queue))
        backfill_calls = len(zendesk.calls())

        zendesk.reset_calls()
        reached, t_search = timed(lambda: search_pages(zendesk, orgs))
        search_calls = len(zendesk.calls())

        zendesk.reset_calls()
        _, t_reads = timed(lambda: per_ticket_reads(config, ids))
        read_calls = len(zendesk.calls())

        zendesk.reset_calls()
        ran, t_drain = timed(lambda: drain(config, queue))
        drain_calls = Counter(kind_of(c.method, c.path) for c in zendesk.calls())
        queue.close()

    drained = sum(drain_calls.values())
    writes = drain_calls["ticket write"]
    print(
        f"backfill bench: {tickets} tickets ({unsolved} unsolved), "
        f"{platform.python_version()}, {platform.machine()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    rows = [
        ("backfill (List Tickets, cursor 100)", seen, backfill_calls, t_backfill),
        ("  same, --dry-run (nothing enqueued)", seen, backfill_calls, t_dry),
        ("baseline a: Search pages", reached, search_calls, t_search),
        ("baseline b: Show Ticket per id", len(ids), read_calls, t_reads),
    ]
    print(
        f"{'enumeration':38} {'tickets':>8} {'calls':>6} {'calls/ticket':>13} {'tickets/min':>12}"
    )
    for name, count, calls, seconds in rows:
        print(
            f"{name:38} {count:>8} {calls:>6} {calls / count:>13.4f} "
            f"{per_minute(count, seconds):>12,.0f}"
        )
    print(f"backfill enqueued {enqueued} reconcile(s) (open, with a severity)")
    b_cpt = backfill_calls / seen
    print(
        f"ratios: calls/ticket, Search / backfill = {(search_calls / reached) / b_cpt:.2f}x "
        f"(but Search reached {reached} of {unsolved} unsolved: 1,000 per query); "
        f"per-ticket reads / backfill = {(read_calls / len(ids)) / b_cpt:.0f}x; "
        f"tickets/min, backfill / per-ticket reads = "
        f"{per_minute(seen, t_backfill) / per_minute(len(ids), t_reads):.1f}x, "
        f"backfill / Search = {per_minute(seen, t_backfill) / per_minute(reached, t_search):.1f}x"
    )
    print(
        f"drain: {ran} job(s) in {t_drain:.1f} s ({per_minute(ran, t_drain):,.0f}/min), "
        f"{drained} call(s) = {drained / enqueued:.2f} per backfilled ticket "
        f"({', '.join(f'{k} {v / enqueued:.2f}' for k, v in sorted(drain_calls.items()))}); "
        f"writes {writes / enqueued:.2f} per ticket"
    )
    shares = Shares()
    requests_min = shares.ordinary_limit("requests") * 60 / shares.window_seconds
    updates_min = shares.ordinary_limit("updates") * 60 / shares.window_seconds
    enumerate_min = requests_min / b_cpt
    reconcile_min = min(
        requests_min / (drained / enqueued),
        updates_min / (writes / enqueued) if writes else float("inf"),
    )
    print(
        f"at the default shares ({shares.requests} requests, {shares.updates} updates per "
        f"{shares.window_seconds:.0f} s; ordinary {requests_min:.0f} and {updates_min:.0f}/min): "
        f"enumeration {enumerate_min:,.0f} tickets/min; reconciles of backfilled tickets "
        f"{reconcile_min:,.0f} tickets/min (bound by "
        f"{'ticket updates' if writes and updates_min / (writes / enqueued) < requests_min / (drained / enqueued) else 'requests'}"
        f"), so {enqueued} take {enqueued / reconcile_min:.0f} min if backfill had the whole "
        "ordinary share"
    )


if __name__ == "__main__":
    main()
