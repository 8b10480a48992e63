"""Benchmark what keeping the queue age costs on the enqueue and dequeue paths.

Usage: .venv/bin/python bench/queue_age_bench.py [--quick]

The queue age (sidecar.queue.ready) keeps a record per ready job: SQLite
triggers on Huey's task table, or a Redis sorted set kept by Huey's signals.
This times `submit_reconcile` (the webhook's enqueue) and a dequeue followed
by the `executing` signal (what the worker does first), N jobs each, with the
records on and, as the baseline from the same run, off (triggers dropped /
signal receivers removed). Prints microseconds per job and the ratio.
SIDECAR_TEST_REDIS_URL (default redis://127.0.0.1:6379/15) names the Redis;
only keys carrying a random queue name are written and deleted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

import redis

from sidecar.tasks.queue import JobQueue

REDIS_URL = os.environ.get("SIDECAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def timed(queue: JobQueue, jobs: int) -> tuple[float, float]:
    """Microseconds per submit, per dequeue + executing signal."""
    started = time.perf_counter()
    for i in range(jobs):
        queue.submit_reconcile(i, dedup_key=f"bench:{i}")
    submit = (time.perf_counter() - started) / jobs * 1e6
    started = time.perf_counter()
    while (task := queue.huey.dequeue()) is not None:
        queue.huey._emit("executing", task)  # as Huey's execute() does
    dequeue = (time.perf_counter() - started) / jobs * 1e6
    return submit, dequeue


def sqlite_run(records: bool, jobs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        queue = JobQueue.from_url(f"sqlite:///{scratch}/queue.db")
        if not records:
            for trigger in ("sidecar_ready_in", "sidecar_ready_out"):
                queue.huey.storage.sql(f"drop trigger {trigger}", commit=True)
        try:
            return timed(queue, jobs)
        finally:
            queue.close()


def redis_run(records: bool, jobs: int) -> tuple[float, float]:
    name = f"bench{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in REDIS_URL else "?"
    queue = JobQueue.from_url(f"{REDIS_URL}{separator}queue={name}")
    if not records:
        for huey in (queue.huey, queue.urgent_huey):
            huey._signal.receivers = {"any": []}
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        return timed(queue, jobs)
    finally:
        keys = list(conn.scan_iter(match=f"*{name}*"))
        if keys:
            conn.delete(*keys)
        conn.close()
        queue.close()


def compare(
    label: str, run: Callable[[bool, int], tuple[float, float]], jobs: int, rounds: int
) -> None:
    base = [run(False, jobs) for _ in range(rounds)]
    kept = [run(True, jobs) for _ in range(rounds)]
    for i, what in enumerate(("submit_reconcile", "dequeue + executing")):
        b = statistics.median(r[i] for r in base)
        k = statistics.median(r[i] for r in kept)
        print(
            f"{label:7} {what:20} baseline {b:6.0f} us  with age records {k:6.0f} us  ratio {k / b:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds")
    args = parser.parse_args()
    jobs, rounds = (300, 3) if args.quick else (2000, 5)
    compare("sqlite", sqlite_run, jobs, rounds)
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError:
        print(f"redis   skipped: nothing answers at {REDIS_URL}")
        return
    compare("redis", redis_run, jobs, rounds)


if __name__ == "__main__":
    main()
