"""Benchmark how long a live webhook's job waits while a backfill is queued.

Usage: .venv/bin/python bench/priority_bench.py [--quick] [--backfill N]

Issue 19 (item 4): on Redis the priority argument was dropped, so a live job
waited behind the whole backfill. This queues N backfill reconciles (default
3,000, priority -10, as `sidecar backfill` does), then lets 4 worker threads
take jobs the way the worker's consumer does (``dequeue``, then run: here a
20 ms sleep standing in for a reconcile's Zendesk round trips), submits a live
webhook's job (``submit_reconcile``) once they are busy, and times from the
submit to the moment a thread takes it. The baseline of the same run is the
same submit with nothing else queued (the threads idle-polling as the
consumer does, every 0.1 s at most). Prints milliseconds and the ratio, per
backend. SIDECAR_TEST_REDIS_URL (default redis://127.0.0.1:6379/15) names the
Redis; only keys carrying a random queue name are written, and deleted after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from sidecar.tasks.queue import JobQueue

REDIS_URL = os.environ.get("SIDECAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
THREADS = 4
JOB_SECONDS = 0.02
LIVE = 7


def live_wait(queue: JobQueue, backfill: int) -> float:
    """Seconds from the live job's submit until a worker thread takes it."""
    for ticket_id in range(100_000, 100_000 + backfill):
        queue.enqueue_reconcile(ticket_id, priority=-10)
    submitted: list[float] = []
    taken = threading.Event()
    took: list[float] = []
    stop = threading.Event()

    def work() -> None:
        delay = 0.01
        while not stop.is_set():
            task = queue.huey.dequeue()
            if task is None:
                time.sleep(delay)  # the consumer's backoff, capped at 0.1 s
                delay = min(delay * 1.5, 0.1)
                continue
            delay = 0.01
            queue.huey.taking.drop(str(task.id))
            if task.args[0] == LIVE:
                took.append(time.perf_counter())
                taken.set()
                continue
            time.sleep(JOB_SECONDS)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # busy with the backfill (or idle-polling)
    submitted.append(time.perf_counter())
    assert queue.submit_reconcile(LIVE, dedup_key=f"zendesk:{uuid.uuid4().hex}")
    done = taken.wait(timeout=backfill * JOB_SECONDS / THREADS + 30)
    stop.set()
    for thread in threads:
        thread.join()
    assert done, "the live job was never taken"
    return took[0] - submitted[0]


@contextmanager
def opened(backend: str) -> Iterator[JobQueue]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            queue = JobQueue.from_url(f"sqlite:///{scratch}/queue.db")
            try:
                yield queue
            finally:
                queue.close()
        return
    name = f"bench{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in REDIS_URL else "?"
    queue = JobQueue.from_url(f"{REDIS_URL}{separator}queue={name}")
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        yield queue
    finally:
        keys = list(conn.scan_iter(match=f"*{name}*"))
        if keys:
            conn.delete(*keys)
        conn.close()
        queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--backfill", type=int, default=3000)
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    print(
        f"live job's wait, {THREADS} threads, {JOB_SECONDS * 1e3:.0f} ms jobs, "
        f"{args.backfill} backfill jobs queued; median of {rounds} (ms)"
    )
    for backend in ("sqlite", "redis"):
        idle, busy = [], []
        for _ in range(rounds):
            with opened(backend) as queue:
                idle.append(live_wait(queue, 0))
            with opened(backend) as queue:
                busy.append(live_wait(queue, args.backfill))
        base, during = statistics.median(idle), statistics.median(busy)
        print(
            f"{backend:7s} idle {base * 1e3:.1f}; during the backfill "
            f"{during * 1e3:.1f}; ratio {during / base:.2f}"
        )


if __name__ == "__main__":
    main()
