"""Benchmark the web's /metrics scrape with 10 and with 10,000 dead letters.

Usage: .venv/bin/python bench/scrape_bench.py [--quick]

Issue 19 (item 6): the scrape counted dead letters by reading every value of
Huey's key-value store (an HGETALL on Redis), so its cost grew with history.
The count is now kept as dead letters come and go (SQLite: a row kept by
triggers; Redis: HLEN). This builds a queue with 10 dead letters (the
baseline of the same run) and one with 10,000 (plus 10,000 Slack link flags,
which shared Huey's store), and times GET /metrics through the app (Flask's
test client: the same registry and collectors as the served endpoint). Prints
the median and p95 in milliseconds and the ratio. SIDECAR_TEST_REDIS_URL
(default redis://127.0.0.1:6379/15) names the Redis; only keys carrying a
random queue name are written, and deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from sidecar.app import create_app
from sidecar.config import Config, Secret
from sidecar.tasks.jobs import FailedJob
from sidecar.tasks.queue import JobQueue

REDIS_URL = os.environ.get("SIDECAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def fill(queue: JobQueue, dead: int, flags: int) -> None:
    for n in range(dead):
        queue.record_failed(
            FailedJob(
                job_id=f"job-{n}",
                task="reconcile",
                ticket_id=n,
                error="Transient: 503",
                attempts=5,
                first_failure_at="2026-01-01T00:00:00+00:00",
                last_failure_at="2026-01-01T00:05:00+00:00",
            )
        )
    for n in range(flags):
        queue.set_flag(f"slack_ticket:acme:{n}", json.dumps({"channel": "C1"}))


def scrape_ms(queues: list[tuple[JobQueue, str]], scrapes: int) -> list[list[float]]:
    """Time GET /metrics on each queue's app, the queues' scrapes interleaved.

    Interleaving puts both under the same load from moment to moment (the
    machine is shared), so their ratio holds when the absolute times wander.
    """
    clients = []
    for queue, url in queues:
        config = Config(webhook_secret=Secret("x" * 32), queue_url=url)
        client = create_app(config, queue=queue).test_client()
        assert client.get("/metrics").status_code == 200  # warm
        clients.append(client)
    times: list[list[float]] = [[] for _ in clients]
    for _ in range(scrapes):
        for client, spent in zip(clients, times, strict=True):
            started = time.perf_counter()
            answer = client.get("/metrics")
            spent.append((time.perf_counter() - started) * 1e3)
            assert answer.status_code == 200
    return times


@contextmanager
def sqlite_queue() -> Iterator[tuple[JobQueue, str]]:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/queue.db"
        queue = JobQueue.from_url(url)
        try:
            yield queue, url
        finally:
            queue.close()


@contextmanager
def redis_queue() -> Iterator[tuple[JobQueue, str]]:
    name = f"bench{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in REDIS_URL else "?"
    url = f"{REDIS_URL}{separator}queue={name}"
    queue = JobQueue.from_url(url)
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        yield queue, url
    finally:
        keys = list(conn.scan_iter(match=f"*{name}*"))
        if keys:
            conn.delete(*keys)
        conn.close()
        queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer scrapes")
    args = parser.parse_args()
    scrapes = 30 if args.quick else 200
    print(f"GET /metrics, {scrapes} scrapes each (ms)")
    for label, opened in (("sqlite", sqlite_queue), ("redis", redis_queue)):
        with opened() as few, opened() as many:
            fill(few[0], 10, 0)
            fill(many[0], 10_000, 10_000)
            assert few[0].failed_count() == 10
            assert many[0].failed_count() == 10_000
            rows = [sorted(t) for t in scrape_ms([few, many], scrapes)]
        (base, base95), (more, more95) = (
            (statistics.median(t), t[int(len(t) * 0.95) - 1]) for t in rows
        )
        print(
            f"{label:7s} 10 dead letters: median {base:.2f} p95 {base95:.2f}; "
            f"10,000 (+10,000 Slack flags): median {more:.2f} p95 {more95:.2f}; "
            f"ratio {more / base:.2f}"
        )


if __name__ == "__main__":
    main()
