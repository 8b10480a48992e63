"""Redis memory of the sidecar's own keys: after steady load and after 10,000 Slack threads (issue 19).

Usage: .venv/bin/python bench/redis_memory_bench.py [--minutes 10] [--rate 20] [--threads 10000]

Other tests share the Redis server, so ``INFO memory`` says little about us:
each phase runs on a scratch queue name of its own (tests/support.py
``scratch_redis_queue``: every key the queue writes carries the name, and they
are all deleted afterwards) and sums ``MEMORY USAGE <key> SAMPLES 0`` over
that queue's keys, grouped by prefix, with how many keys of each group have
no expiry (``TTL`` -1) and what bounds those (docs/life-of-a-job.md, "Every
key, its owner, its bound, and a crash"). A group with keys without an expiry
and no known bound is printed as UNBOUNDED.

1. Steady load: the app and one worker in this process (tests/inprocess.py
   ``running_sidecar``: 4 normal + 2 urgent threads) against the fake Zendesk
   and PagerDuty over HTTP on 127.0.0.1, the budget window scaled from 60 s to
   2 s (20 updates, 200 requests a window, as the other benches). For
   ``--minutes``, ``--rate`` webhooks a second: an agent changes an open
   ticket of a 1,000-ticket pool (its status) and Zendesk's trigger delivers
   the signed body; one delivery in ten is a new ticket. Severities SEV 1-5
   (2 % SEV 1, 3 % SEV 2: they page). Memory is sampled every minute.
2. 10,000 Slack threads, through sidecar.slack.links.Links on the queue's
   store as the Slack jobs use it: each thread's ticket linked both ways
   (``remember``), its "created" announcement said once (``say_once``), a
   comment from Slack written (``begin_comment`` / ``own_comment`` /
   ``end_comment``).

SIDECAR_TEST_REDIS_URL (default redis://127.0.0.1:6379/15) names the Redis.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidecar.config import Secret  # noqa: E402
from sidecar.slack.blocks import MessageRef  # noqa: E402
from sidecar.slack.links import Links  # noqa: E402
from sidecar.tasks.queue import JobQueue  # noqa: E402
from tests.e2e.conftest import ROUTING_KEY, SEVERITY_FIELD, define_fields  # noqa: E402
from tests.e2e.test_urgent_storm import (  # noqa: E402
    REQUESTS,
    UPDATES,
    WINDOW,
    sidecar_config,
    trigger_body,
)
from tests.fake_pagerduty import FakePagerDuty  # noqa: E402
from tests.fake_zendesk import FakeZendesk  # noqa: E402
from tests.inprocess import running_sidecar  # noqa: E402
from tests.support import REDIS_TEST_URL, scratch_redis_queue  # noqa: E402

POOL = 1000
OPEN = ("open", "pending", "hold")
SEVERITIES = ("sev_1", "sev_2", "sev_3", "sev_4", "sev_5")
WEIGHTS = (2, 3, 35, 35, 25)
# What bounds the groups whose keys carry no expiry (docs/life-of-a-job.md).
BOUNDS = {
    "huey.redis": "drained by workers (the depth gauge)",
    "huey.schedule": "each entry leaves at its instant",
    "sidecar.lease": "one entry per escalation wanted",
    "sidecar.lease_owner": "one entry per escalation wanted",
    "sidecar.inflight": "one entry per running job",
    "sidecar.inflight_until": "one entry per running job",
    "sidecar.inflight_owner": "one entry per running job",
    "sidecar.ready": "one per ready job",
    "sidecar.dead": "50,000 letters at most",
    "sidecar.dead_at": "50,000 letters at most",
    "sidecar.dead_total": "one counter",
    "sidecar.kv_moved": "one key",
    "sidecar.budget": "sliding window, trimmed as it slides",
}


@dataclass
class Group:
    keys: int = 0
    bytes: int = 0
    no_ttl: int = 0
    ttls: list[int] = field(default_factory=list)


def group_of(key: str, name: str) -> str:
    """``sidecar.claim.<q>.zendesk:*``: the queue name masked, per-item tails folded."""
    masked = key.replace(name, "<q>")
    head, colon, _ = masked.partition(":")
    return f"{head}:*" if colon else masked


def family(group: str) -> str:
    """``sidecar.claim`` of ``sidecar.claim.<q>.zendesk:*`` (the BOUNDS key)."""
    return group.split(".<q>")[0]


def snapshot(conn: redis.Redis, name: str) -> dict[str, Group]:
    """Every key of the queue ``name``: count, MEMORY USAGE and keys without TTL, by group."""
    keys = [k.decode() for k in conn.scan_iter(match=f"*{name}*", count=1000)]
    groups: dict[str, Group] = defaultdict(Group)
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        pipe = conn.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
            pipe.ttl(key)
        answers = pipe.execute()
        for i, key in enumerate(batch):
            used, ttl = answers[2 * i], answers[2 * i + 1]
            if used is None:  # gone between SCAN and MEMORY USAGE (expired, taken)
                continue
            group = groups[group_of(key, name)]
            group.keys += 1
            group.bytes += int(used)
            if ttl == -1:
                group.no_ttl += 1
            elif ttl >= 0:
                group.ttls.append(int(ttl))
    return dict(groups)


def total(groups: dict[str, Group]) -> tuple[int, int, int]:
    return (
        sum(g.keys for g in groups.values()),
        sum(g.bytes for g in groups.values()),
        sum(g.no_ttl for g in groups.values()),
    )


def expiry(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def table(groups: dict[str, Group]) -> list[str]:
    lines = [
        "| key group | keys | bytes | keys without TTL | expiry (max TTL left) or bound |",
        "|---|---|---|---|---|",
    ]
    for name, g in sorted(groups.items(), key=lambda item: -item[1].bytes):
        if g.no_ttl:
            bound = BOUNDS.get(family(name), "**UNBOUNDED: no TTL, no known bound**")
        else:
            bound = f"TTL, {expiry(max(g.ttls))}" if g.ttls else "—"
        lines.append(f"| `{name}` | {g.keys} | {g.bytes:,} | {g.no_ttl} | {bound} |")
    keys, used, no_ttl = total(groups)
    lines.append(f"| **all** | {keys} | {used:,} | {no_ttl} | |")
    return lines


def used_memory(conn: redis.Redis) -> int:
    return int(conn.info("memory")["used_memory"])


def steady_load(conn: redis.Redis, minutes: float, rate: float) -> list[str]:
    """Webhooks at ``rate``/s through the app, a worker draining them; memory each minute."""
    lines: list[str] = []
    rng = random.Random(19)
    before = used_memory(conn)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_redis_queue(REDIS_TEST_URL) as url,
        FakeZendesk(rate_window_seconds=WINDOW) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as _pagerduty,
    ):
        name = url.rsplit("queue=", 1)[1]
        define_fields(zendesk)
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )

        def new_ticket() -> int:
            severity = rng.choices(SEVERITIES, WEIGHTS)[0]
            return zendesk.add_ticket(
                organization_id=org, custom_fields={SEVERITY_FIELD: severity}
            )

        pool = [new_ticket() for _ in range(POOL)]
        config = sidecar_config(
            Path(tmp),
            zendesk,
            _pagerduty,
            queue_url=url,
            webhook_secret=Secret("memory-secret"),
        )
        sent = 0
        curve: list[tuple[float, int, int]] = []
        with running_sidecar(config) as sidecar:
            started = time.monotonic()
            next_sample = started + 60
            end = started + minutes * 60
            due = started
            while (now := time.monotonic()) < end:
                if now < due:
                    time.sleep(min(due - now, 0.05))
                    continue
                due += 1 / rate
                if sent % 10 == 9:
                    tid = new_ticket()
                    pool.append(tid)
                else:
                    tid = rng.choice(pool)
                    zendesk.update_ticket(tid, status=rng.choice(OPEN))
                status = sidecar.deliver(
                    trigger_body(zendesk, tid), invocation_id=f"mem-{sent}"
                )
                assert status == 202, status
                sent += 1
                if now >= next_sample:
                    keys, used, _ = total(snapshot(conn, name))
                    curve.append(((now - started) / 60, keys, used))
                    print(
                        f"  {curve[-1][0]:.0f} min: {sent} webhooks, {keys} keys, "
                        f"{used:,} bytes",
                        flush=True,
                    )
                    next_sample += 60
            took = time.monotonic() - started
            groups = snapshot(conn, name)
            calls = len(zendesk.calls())
        after = used_memory(conn)
    keys, used, no_ttl = total(groups)
    lines.append(
        f"steady load: {sent} webhooks in {took:.0f} s ({sent / took:.1f}/s, target {rate:g}/s), "
        f"{len(pool)} tickets, {calls} Zendesk calls; load average "
        f"{os.getloadavg()[0]:.1f}; the queue's keys: {keys}, {used:,} bytes "
        f"({used / max(sent, 1):.0f} bytes a webhook), {no_ttl} without TTL; "
        f"server used_memory {before:,} -> {after:,} (shared server: context only)"
    )
    lines.append(
        "growth by minute (min, keys, bytes): "
        + ", ".join(f"({m:.0f}, {k}, {b:,})" for m, k, b in curve)
    )
    lines += table(groups)
    return lines


def slack_threads(conn: redis.Redis, threads: int) -> list[str]:
    """``threads`` Slack threads through Links on the queue's store; their memory."""
    with scratch_redis_queue(REDIS_TEST_URL) as url:
        name = url.rsplit("queue=", 1)[1]
        queue = JobQueue.from_url(url)
        try:
            empty = total(snapshot(conn, name))
            links = Links(queue, account="acme")
            started = time.monotonic()
            for i in range(threads):
                ts = f"{1765000000 + i}.{i % 1000000:06d}"
                ref = MessageRef(
                    channel="C0123ABCDEF", ts=ts, thread_ts=ts, author="U0123ABCD"
                )
                ticket = 100_000 + i
                links.remember(ticket, ref)
                links.say_once(ticket, "created", lambda: None)
                links.begin_comment(ticket)
                links.own_comment(9_000_000 + i)
                links.end_comment(ticket)
            took = time.monotonic() - started
            groups = snapshot(conn, name)
        finally:
            queue.close()
    keys, used, no_ttl = total(groups)
    lines = [
        f"Slack threads: {threads} in {took:.1f} s; the queue's keys: {keys}, {used:,} bytes "
        f"({(used - empty[1]) / threads:.0f} bytes a thread; an empty queue has {empty[0]} "
        f"keys, {empty[1]:,} bytes), {no_ttl} without TTL"
    ]
    lines += table(groups)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    conn = redis.Redis.from_url(REDIS_TEST_URL)
    print(
        f"redis memory bench: Redis {conn.info('server')['redis_version']}, "
        f"{platform.python_version()}, {os.cpu_count()} cores, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; window {WINDOW:g} s "
        f"({UPDATES} updates, {REQUESTS} requests)",
        flush=True,
    )
    out = slack_threads(conn, args.threads)
    print("\n".join(out), flush=True)
    if not args.skip_load:
        print("\n".join(steady_load(conn, args.minutes, args.rate)), flush=True)
    conn.close()


if __name__ == "__main__":
    main()
