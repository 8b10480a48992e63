"""Benchmark webhook-to-write and webhook-to-page latency through real `sidecar serve`.

Usage: .venv/bin/python bench/reconcile_bench.py [--rate 20 --seconds 15]
       [--page-rate 5 --page-seconds 10] [--idle-events 8 --idle-gap 3]
       [--worker-threads 1] [--redis]

Runs FakeZendesk and FakePagerDuty in this process (real HTTP on 127.0.0.1) and
`sidecar serve --workers N` (gunicorn WEB_CONCURRENCY=2 + one Huey worker process)
on a SQLite queue in a temp dir, or Redis db 14 with --redis (a queue name of
its own; only its keys are deleted after). Every write the fake accepts fires the echo webhook, as in tests/e2e.

1. Signed trigger webhooks for distinct SEV 3 tickets of an entitled org, paced
   open-loop at --rate/s: POST -> the fake's PUT of that ticket (p50/p90/p99/max),
   and every 202 must become exactly one write.
2. Zendesk API calls per event and per echo (the write's own webhook).
3. SEV 1 tickets at --page-rate/s: POST -> FakePagerDuty receiving the trigger;
   then --idle-events SEV 1 events, each after 3-4 s of an idle worker (the usual
   case for a real account, where the SQLite poller has backed off).
4. Same-run baselines: one direct in-process reconcile, and a bare POST -> 202;
   end-to-end p50 is printed as a ratio of each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidecar.config import Config  # noqa: E402
from sidecar.errors import BudgetWait  # noqa: E402
from sidecar.oncall.pagerduty import dedup_key  # noqa: E402
from sidecar.tasks.handler import ReconcilerFactory  # noqa: E402
from sidecar.tasks.queue import JobQueue  # noqa: E402
from tests.e2e.conftest import SEVERITY_FIELD, connected_env, handled_in  # noqa: E402
from tests.fake_pagerduty import FakePagerDuty  # noqa: E402
from tests.fake_zendesk import SUBDOMAIN, Call, FakeZendesk, WriteEvent  # noqa: E402
from tests.support import (  # noqa: E402
    SIDECAR,
    Process,
    free_port,
    post_webhook,
    scratch_redis_queue,
    wait_for,
    wait_for_url,
)

REDIS_URL = "redis://127.0.0.1:6379/14"
BUDGET_WINDOW = 0.5  # seconds: the 60 s rate-limit and budget windows, scaled
TICKET_PATH = re.compile(r"^/api/v2/tickets/(\d+)(?:/comments)?\.json$")
MISSING_TICKET = 900_000_000  # ids the fake has never heard of: the job is a 404 read
DRAIN_TIMEOUT = 60.0
TARGET_WRITE_P50_MS = 100.0
TARGET_PAGE_P50_MS = 250.0


def pct(values: Sequence[float], p: float) -> float:
    """Return the nearest-rank ``p``th percentile of ``values`` (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    """Convert seconds to milliseconds."""
    return seconds * 1000.0


class TimedPagerDuty(FakePagerDuty):
    """FakePagerDuty that also notes when each trigger's dedup key first arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.triggered_at: dict[str, float] = {}

    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        status, body = super()._answer(path, headers, raw)
        if status == 202:
            event = json.loads(raw)
            if event.get("event_action") == "trigger":
                with self._lock:
                    self.triggered_at.setdefault(event["dedup_key"], time.monotonic())
        return status, body


@dataclass
class Stack:
    """The fakes, the running `sidecar serve`, and what the benchmark recorded."""

    zendesk: FakeZendesk
    pagerduty: TimedPagerDuty
    serve: Process
    env: dict[str, str]
    org: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    echo_statuses: list[int] = field(default_factory=list)
    no_echo: set[int] = field(default_factory=set)

    def ticket(self, severity: str) -> int:
        """Create a ticket of the entitled org."""
        return self.zendesk.add_ticket(
            organization_id=self.org, custom_fields={SEVERITY_FIELD: severity}
        )

    def notify(self, ticket_id: int) -> int:
        """POST the signed trigger webhook for ``ticket_id``; return the status."""
        # Each delivery its own body: Zendesk signs every delivery, and the same
        # body signed in the same second is dropped as a replay.
        body = {
            "ticket_id": str(ticket_id),
            "event": "ticket.changed",
            "delivery": uuid.uuid4().hex,
        }
        status, _ = post_webhook(
            self.serve.url,
            json.dumps(body).encode(),
            secret=self.env["SIDECAR_WEBHOOK_SECRET"],
            invocation_id=f"bench-{uuid.uuid4()}",
        )
        return status

    def on_write(self, event: WriteEvent) -> None:
        """Time each changing ticket write, then send its echo webhook."""
        if event.resource != "ticket" or not event.changed:
            return
        with self.lock:
            self.writes[event.id].append(time.monotonic())
        # Zendesk runs triggers after every update, the sidecar's own included.
        if event.id not in self.no_echo:
            status = self.notify(event.id)
            with self.lock:
                self.echo_statuses.append(status)

    def logs(self, msg: str) -> dict[int, list[dict[str, Any]]]:
        """The serve log lines with message ``msg``, by ticket id."""
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.serve.json_logs():
            if entry.get("msg") == msg and isinstance(entry.get("ticket_id"), int):
                found[entry["ticket_id"]].append(entry)
        return found

    def settle(self, tickets: Sequence[int], reconciles: int) -> None:
        """Wait until every ticket's events made ``reconciles`` jobs (read, or skipped as known)."""

        def done() -> bool:
            logs = self.serve.json_logs()
            return all(len(handled_in(logs, t)) >= reconciles for t in tickets)

        wait_for(done, timeout=DRAIN_TIMEOUT, interval=0.2)

    def paged_and_quiet(self, tickets: Sequence[int]) -> None:
        """Wait for each SEV 1's two writes (due time, page marker), then for the echoes.

        The echoes of one ticket may collapse into one job (a reconcile still
        waiting takes later events), so their number is not known: wait until
        the worker has logged nothing new for a second.
        """
        wait_for(
            lambda: all(len(self.writes.get(t, [])) >= 2 for t in tickets),
            timeout=DRAIN_TIMEOUT,
            interval=0.1,
        )
        lines = [-1]

        def quiet() -> bool:
            now = len(self.serve.json_logs())
            still, lines[0] = now == lines[0], now
            return still

        wait_for(quiet, timeout=DRAIN_TIMEOUT, interval=1.0)


@contextlib.contextmanager
def running_stack(
    workdir: Path, queue_url: str, worker_threads: int
) -> Iterator[Stack]:
    """Start the fakes and `sidecar serve --workers N`; stop everything afterwards."""
    # Zendesk's limits and our budget, both over a window scaled from 60 s to
    # BUDGET_WINDOW: the bench's rates (20 SEV 3 + 5 SEV 1 events a second) fit
    # the shares at that scale, as a real account's minute does at 1/120 of them.
    with (
        FakeZendesk(rate_window_seconds=BUDGET_WINDOW) as zendesk,
        TimedPagerDuty() as pagerduty,
    ):
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        env = connected_env(
            workdir,
            zendesk,
            pagerduty,
            SIDECAR_QUEUE_URL=queue_url,
            SIDECAR_ZENDESK_BUDGET_WINDOW=str(BUDGET_WINDOW),
        )
        port = free_port()
        args = [
            *SIDECAR, "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(worker_threads),
        ]  # fmt: skip
        serve = Process(args, env=env, cwd=workdir)
        serve.url = f"http://127.0.0.1:{port}"
        try:
            wait_for_url(
                serve.url + "/healthz", alive=lambda: serve.popen.poll() is None
            )
            serve.wait_for_log(lambda e: e.get("msg") == "worker started")
            stack = Stack(zendesk, pagerduty, serve, env, org)
            zendesk.on_write(stack.on_write)
            yield stack
        finally:
            serve.stop()
        if zendesk.errors:
            raise RuntimeError(f"fake Zendesk errors: {zendesk.errors[:3]}")


@dataclass
class Sent:
    """One paced POST: when it was due, when it went out, how long, what status."""

    ticket_id: int
    due: float
    sent: float
    took: float
    status: int


def paced(
    tickets: Sequence[int], rate: float, send: Callable[[int], int]
) -> list[Sent]:
    """POST one webhook per ticket at ``rate``/s on a fixed schedule (open loop)."""
    results: list[Sent] = []
    lock = threading.Lock()

    def fire(ticket_id: int, due: float) -> None:
        sent = time.monotonic()
        status = send(ticket_id)
        with lock:
            results.append(Sent(ticket_id, due, sent, time.monotonic() - sent, status))

    # Enough threads that slow answers never hold back the schedule.
    with ThreadPoolExecutor(max_workers=32) as pool:
        start = time.monotonic() + 0.05
        for i, ticket_id in enumerate(tickets):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, ticket_id, due)
    return results


def ticket_of(call: Call) -> int | None:
    """The ticket a ticket or comments call is about (None for other calls)."""
    match = TICKET_PATH.match(call.path)
    return int(match.group(1)) if match else None


def split_calls(calls: Sequence[Call], ticket_id: int) -> tuple[list[str], list[str]]:
    """Split one ticket's calls into those up to its first PUT and those after."""
    own = {
        f"/api/v2/tickets/{ticket_id}.json",
        f"/api/v2/tickets/{ticket_id}/comments.json",
    }
    mine = [
        (
            "PUT"
            if c.method == "PUT"
            else "comments"
            if "comments" in c.path
            else "ticket"
        )
        for c in calls
        if c.path in own
    ]
    cut = mine.index("PUT") + 1 if "PUT" in mine else len(mine)
    return mine[:cut], mine[cut:]


def measure_writes(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    """Phase 1 + 2: SEV 3 webhooks at ``rate``/s; latency to the write; API calls."""
    tickets = [stack.ticket("sev_3") for _ in range(round(rate * seconds))]
    stack.zendesk.reset_calls()
    echoes_before = len(stack.echo_statuses)
    sent = paced(tickets, rate, stack.notify)
    accepted = [s for s in sent if s.status == 202]
    stack.settle([s.ticket_id for s in accepted], reconciles=2)  # event + echo
    calls = stack.zendesk.calls()
    latencies, wrong = [], []
    for s in accepted:
        writes = stack.writes.get(s.ticket_id, [])
        puts = [
            c
            for c in calls
            if c.method == "PUT" and c.path == f"/api/v2/tickets/{s.ticket_id}.json"
        ]
        if len(writes) != 1 or len(puts) != 1:
            wrong.append(s.ticket_id)
        if writes:
            latencies.append(writes[0] - s.sent)
    per_event: dict[str, int] = defaultdict(int)
    per_echo: dict[str, int] = defaultdict(int)
    for s in accepted:
        event, echo = split_calls(calls, s.ticket_id)
        for kind in event:
            per_event[kind] += 1
        for kind in echo:
            per_echo[kind] += 1
    reconciled = stack.logs("reconciled")
    echo_writes = sum(
        1 for s in accepted for e in reconciled[s.ticket_id][1:] if e.get("wrote")
    )
    n = len(accepted)
    echo_statuses = stack.echo_statuses[echoes_before:]
    return {
        "events": len(sent),
        "accepted": n,
        "non_202": len(sent) - n,
        "echoes": len(echo_statuses),
        "echo_non_202": sum(1 for s in echo_statuses if s != 202),
        "wrong_write_count": wrong,
        "echo_writes": echo_writes,
        "lat": [ms(x) for x in latencies],
        "post": [ms(s.took) for s in sent],
        "late_max": ms(max((s.sent - s.due for s in sent), default=0.0)),
        "per_event": {k: v / n for k, v in per_event.items()} if n else {},
        "per_echo": {k: v / n for k, v in per_echo.items()} if n else {},
        "org_reads": sum(1 for c in calls if "/organizations/" in c.path),
        "me_reads": sum(1 for c in calls if c.path.endswith("/users/me.json")),
        "all_calls": sum(1 for c in calls if "/incremental/" not in c.path),
        "export_reads": sum(1 for c in calls if "/incremental/" in c.path),
    }


def measure_pages(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    """Phase 3: SEV 1 webhooks at ``rate``/s; latency to the PagerDuty trigger."""
    tickets = [stack.ticket("sev_1") for _ in range(round(rate * seconds))]
    stack.zendesk.reset_calls()
    sent = paced(tickets, rate, stack.notify)
    accepted = [s for s in sent if s.status == 202]
    keys = {s.ticket_id: dedup_key(SUBDOMAIN, s.ticket_id) for s in accepted}

    def all_paged() -> bool:
        return set(keys.values()) <= set(stack.pagerduty.triggered_at)

    wait_for(all_paged, timeout=DRAIN_TIMEOUT, interval=0.1)
    # Each SEV 1 event: reconcile (write) + escalate (write) + their echoes.
    stack.paged_and_quiet([s.ticket_id for s in accepted])
    triggers: dict[str, int] = defaultdict(int)
    for e in stack.pagerduty.triggers():
        triggers[e["dedup_key"]] += 1
    page, first_write, tagged = [], [], []
    for s in accepted:
        page.append(stack.pagerduty.triggered_at[keys[s.ticket_id]] - s.sent)
        writes = stack.writes.get(s.ticket_id, [])
        if writes:
            first_write.append(writes[0] - s.sent)
        if len(writes) >= 2:
            tagged.append(writes[1] - s.sent)
    own = {s.ticket_id for s in accepted}
    calls = [c for c in stack.zendesk.calls() if ticket_of(c) in own]
    n = len(accepted)
    return {
        "events": len(sent),
        "accepted": n,
        "page": [ms(x) for x in page],
        "first_write": [ms(x) for x in first_write],
        "tagged": [ms(x) for x in tagged],
        "triggers_not_one": [k for k in keys.values() if triggers[k] != 1],
        "calls_per_event": len(calls) / n if n else math.nan,
        "late_max": ms(max((s.sent - s.due for s in sent), default=0.0)),
    }


def measure_idle_pages(stack: Stack, n: int, gap: float) -> dict[str, Any]:
    """SEV 1 webhooks each after ``gap``-``gap``+1 s of an idle worker: latency to page."""
    rng = random.Random(2026)
    page, first_write = [], []
    for _ in range(n):
        ticket_id = stack.ticket("sev_1")
        # A random phase against the consumer's polling cycle, not a fixed one.
        time.sleep(gap + rng.random())
        sent = time.monotonic()
        assert stack.notify(ticket_id) == 202
        key = dedup_key(SUBDOMAIN, ticket_id)
        wait_for(
            lambda key=key, t=ticket_id: (
                key in stack.pagerduty.triggered_at and stack.writes.get(t)
            ),
            timeout=30,
        )
        page.append(ms(stack.pagerduty.triggered_at[key] - sent))
        first_write.append(ms(stack.writes[ticket_id][0] - sent))
        stack.paged_and_quiet([ticket_id])  # idle again before the next one
    return {"page": page, "first_write": first_write}


def direct_reconcile(stack: Stack, queue_url: str, n: int) -> list[float]:
    """Baseline: reconcile fresh SEV 3 tickets in this process, one at a time (ms)."""
    config = Config.from_env(stack.env)
    queue = JobQueue.from_url(queue_url)
    try:
        reconciler = ReconcilerFactory(config, queue=queue).reconciler()
        tickets = [stack.ticket("sev_3") for _ in range(n + 1)]
        # No echo: the served worker stays idle while the baseline runs.
        stack.no_echo.update(tickets)
        reconciler.reconcile(tickets[0])  # warm: client, org cache, users/me
        took = []
        for ticket_id in tickets[1:]:
            while True:
                started = time.monotonic()
                try:
                    reconciler.reconcile(ticket_id)
                except BudgetWait as wait:  # the governor's share: wait, time it again
                    time.sleep(wait.retry_after or 0.05)
                    continue
                took.append(ms(time.monotonic() - started))
                break
        return took
    finally:
        queue.close()


def bare_posts(stack: Stack, n: int) -> list[float]:
    """Baseline: sequential POST -> 202 for tickets the fake does not have (ms)."""
    took = []
    for i in range(n):
        started = time.monotonic()
        status = stack.notify(MISSING_TICKET + i)
        took.append(ms(time.monotonic() - started))
        assert status == 202, status
    # Let the worker drop those jobs (one 404 read each) before the next phase.
    wait_for(
        lambda: (
            sum(
                1
                for e in stack.serve.json_logs()
                if str(e.get("msg", "")).startswith("nothing to do, dropping job")
            )
            >= n
        ),
        timeout=DRAIN_TIMEOUT,
        interval=0.2,
    )
    return took


def warm_up(stack: Stack) -> None:
    """Run a few events through, so lazily built handlers and caches exist."""
    tickets = [stack.ticket("sev_3") for _ in range(3)]
    for ticket_id in tickets:
        assert stack.notify(ticket_id) == 202
    stack.settle(tickets, reconciles=2)


def describe(values: Sequence[float]) -> str:
    """Format latencies (ms) as p50 / p90 / p99 / max."""
    return " / ".join(f"{pct(values, p):.0f}" for p in (50, 90, 99, 100))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase against one queue; print and return the results."""
    with (
        contextlib.ExitStack() as scratch,
        tempfile.TemporaryDirectory(prefix="sidecar-rbench-") as tmp,
    ):
        workdir = Path(tmp)
        # Redis: a queue name of its own, and only its keys deleted after.
        queue_url = (
            scratch.enter_context(scratch_redis_queue(REDIS_URL))
            if args.redis
            else f"sqlite:///{workdir / 'queue.db'}"
        )
        with running_stack(workdir, queue_url, args.worker_threads) as stack:
            warm_up(stack)
            direct = direct_reconcile(stack, queue_url, args.baseline_n)
            bare = bare_posts(stack, args.baseline_n)
            writes = measure_writes(stack, args.rate, args.seconds)
            pages = measure_pages(stack, args.page_rate, args.page_seconds)
            idle = measure_idle_pages(stack, args.idle_events, args.idle_gap)
            swept = sum(
                e.get("tickets", 0)
                for e in stack.serve.json_logs()
                if e.get("msg") == "sweep enqueued reconciles"
            )
    result = {
        "queue": "redis" if args.redis else "sqlite",
        "swept": swept,
        "direct": direct,
        "bare": bare,
        "writes": writes,
        "pages": pages,
        "idle": idle,
    }
    report(args, result)
    return result


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    """Print the results as Markdown (tables ready for docs/benchmarks.md)."""
    w, p = r["writes"], r["pages"]
    direct50, bare50 = pct(r["direct"], 50), pct(r["bare"], 50)
    write50, page50 = pct(w["lat"], 50), pct(p["page"], 50)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"\n### {r['queue']} queue, `sidecar serve --workers {args.worker_threads}`"
        f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {cpu},"
        f" Python {platform.python_version()})\n"
    )
    print("| measure | n | p50 / p90 / p99 / max (ms) | target |")
    print("|---|---|---|---|")
    print(
        f"| webhook → ticket write, SEV 3 at {args.rate:g}/s for {args.seconds:g} s"
        f" | {len(w['lat'])} | {describe(w['lat'])} | p50 < {TARGET_WRITE_P50_MS:.0f}:"
        f" {'met' if write50 < TARGET_WRITE_P50_MS else 'missed'} |"
    )
    print(
        f"| webhook → PagerDuty trigger, SEV 1 at {args.page_rate:g}/s for"
        f" {args.page_seconds:g} s | {len(p['page'])} | {describe(p['page'])}"
        f" | p50 < {TARGET_PAGE_P50_MS:.0f}:"
        f" {'met' if page50 < TARGET_PAGE_P50_MS else 'missed'} |"
    )
    print(
        f"| SEV 1: webhook → due-time write | {len(p['first_write'])}"
        f" | {describe(p['first_write'])} | |"
    )
    print(
        f"| SEV 1: webhook → `oncall_paged` write | {len(p['tagged'])}"
        f" | {describe(p['tagged'])} | |"
    )
    idle = r["idle"]
    print(
        f"| idle worker ({args.idle_gap:g}–{args.idle_gap + 1:g} s quiet), SEV 1:"
        f" webhook → due-time write | {len(idle['first_write'])}"
        f" | {describe(idle['first_write'])} | |"
    )
    print(
        "| idle worker, SEV 1: webhook → PagerDuty trigger"
        f" | {len(idle['page'])} | {describe(idle['page'])}"
        f" | p50 < {TARGET_PAGE_P50_MS:.0f}:"
        f" {'met' if pct(idle['page'], 50) < TARGET_PAGE_P50_MS else 'missed'} |"
    )
    print(
        f"| POST → 202 during the SEV 3 run | {len(w['post'])} | {describe(w['post'])} | |"
    )
    print(
        f"| baseline: direct in-process reconcile | {len(r['direct'])} | {describe(r['direct'])} | |"
    )
    print(
        f"| baseline: bare POST → 202 (idle) | {len(r['bare'])} | {describe(r['bare'])} | |"
    )
    print(
        f"\nRatios (p50 / baseline p50): write {write50 / direct50:.1f}× direct reconcile,"
        f" {write50 / bare50:.1f}× bare POST; page {page50 / direct50:.1f}× direct"
        f" reconcile, {page50 / bare50:.1f}× bare POST."
        f" Queue overhead ≈ write p50 − direct p50 − bare p50 ="
        f" {write50 - direct50 - bare50:.0f} ms."
    )

    def calls(d: dict[str, float]) -> str:
        return ", ".join(
            f"{name} {d.get(name, 0.0):.2f}" for name in ("ticket", "comments", "PUT")
        )

    n = w["accepted"]
    print(
        f"\nZendesk API calls per SEV 3 event: {calls(w['per_event'])};"
        f" per echo: {calls(w['per_echo'])} (echo writes: {w['echo_writes']});"
        f" org reads {w['org_reads']} and users/me {w['me_reads']} in total over"
        f" {n} events + {w['echoes']} echoes ({w['all_calls']} calls,"
        f" {w['all_calls'] / max(n, 1):.2f} per event)."
        f" SEV 1: {p['calls_per_event']:.2f} calls per event (reconcile, escalate,"
        " two echoes)."
        f" The once-a-minute sweep read the export {w['export_reads']} times during"
        f" the SEV 3 run and enqueued {r['swept']} reconciles in the whole run."
    )
    lost = len(w["wrong_write_count"])
    print(
        f"Loss check: {w['events']} SEV 3 POSTs, {n} answered 202 ({w['non_202']} not),"
        f" {n - lost} became exactly one write ({lost} did not:"
        f" {w['wrong_write_count'][:5]}); {w['echoes']} echoes"
        f" ({w['echo_non_202']} not 202). SEV 1: {p['accepted']} answered 202,"
        f" {len(p['page'])} paged, {len(p['triggers_not_one'])} not exactly one trigger."
        f" Pacing: worst send lag {w['late_max']:.1f} / {p['late_max']:.1f} ms."
    )


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="SEV 3 events/s")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--page-rate", type=float, default=5.0, help="SEV 1 events/s")
    parser.add_argument("--page-seconds", type=float, default=10.0)
    parser.add_argument(
        "--worker-threads", type=int, default=1, help="`sidecar serve --workers`"
    )
    parser.add_argument(
        "--idle-events", type=int, default=8, help="SEV 1 events after idle gaps"
    )
    parser.add_argument("--idle-gap", type=float, default=3.0, help="min idle s")
    parser.add_argument("--baseline-n", type=int, default=30)
    parser.add_argument(
        "--redis",
        action="store_true",
        help=f"queue on {REDIS_URL} (a queue name of its own, its keys deleted after)",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
