"""JobQueue.deliver_reconcile: claims and job stored in one step, on SQLite and on Redis.

The webhook's enqueue (docs/decisions.md, "Ingress front and the webhook's
cost"): one transaction on SQLite, one script on Redis, so a failure leaves
neither a claim without its job nor a job without its claim.
"""

from __future__ import annotations

import time

import pytest
import redis

from sidecar.errors import QueueUnavailable
from sidecar.tasks.jobs import Lane
from sidecar.tasks.memo import Hint
from sidecar.tasks.queue import JobQueue, Taken
from tests.adapters.test_queue import run_next
from tests.support import redis_queue_url

# SQLite's julianday('now') has millisecond precision.
CLOCK_SLACK = 0.01


def test_a_delivery_is_queued_then_collapsed_then_duplicate(queue: JobQueue) -> None:
    """The first change queues a job; a second collapses into it; a redelivery is a duplicate."""
    before = time.time()
    assert queue.deliver_reconcile(7, dedup_key="zendesk:a") is Taken.ENQUEUE
    assert queue.deliver_reconcile(7, dedup_key="zendesk:b") is Taken.COLLAPSED
    assert queue.deliver_reconcile(7, dedup_key="zendesk:b") is Taken.DUPLICATE
    assert queue.deliver_reconcile(8, dedup_key="zendesk:a") is Taken.DUPLICATE
    assert queue.depth() == 1
    # The job's ready instant is kept with it (the queue-age gauge).
    ready = queue.oldest_ready()[Lane.NORMAL]
    assert ready is not None and before - CLOCK_SLACK <= ready <= time.time() + 1
    seen: list[int] = []
    run_next(queue, seen.append, later=False)
    assert seen == [7]
    assert queue.oldest_ready()[Lane.NORMAL] is None


def test_each_lane_gets_its_job_and_the_urgent_one_runs_first(queue: JobQueue) -> None:
    """A SEV 1/2 delivery queues in the urgent lane even while a normal job of the ticket waits."""
    assert queue.deliver_reconcile(9, dedup_key="zendesk:n") is Taken.ENQUEUE
    taken = queue.deliver_reconcile(9, dedup_key="zendesk:u", lane=Lane.URGENT)
    assert taken is Taken.ENQUEUE
    assert [t.args[0] for t in queue.urgent_huey.pending()] == [9]
    seen: list[int] = []
    run_next(queue, lambda ticket, **kwargs: seen.append(ticket), later=False)
    assert seen == [9] and queue.depth() == 1


def test_a_job_that_may_skip_its_read_keeps_its_hint(queue: JobQueue) -> None:
    """A hint that may skip the read goes into the stored job's arguments."""
    hint = Hint(actor_id=5, version="2026-12-01T10:00:00Z")
    if not hint.may_skip:
        pytest.skip("this Hint never skips its read")
    assert (
        queue.deliver_reconcile(11, dedup_key="zendesk:h", hint=hint) is Taken.ENQUEUE
    )
    (task,) = queue.huey.pending()
    assert task.kwargs == hint.as_kwargs()


def test_a_failed_store_keeps_no_claim(queue: JobQueue) -> None:
    """When the job cannot be stored nothing is claimed: Zendesk's retry is queued, not a duplicate."""
    huey = queue.huey
    if queue.description.startswith("sqlite"):
        storage = huey.storage
        storage.sql("alter table task rename to task_gone", commit=True)
        undo = lambda: storage.sql("alter table task_gone rename to task", commit=True)  # noqa: E731
    else:
        conn: redis.Redis = huey.storage.conn
        conn.set(huey.storage.queue_key, b"not a list")
        undo = lambda: conn.delete(huey.storage.queue_key)  # noqa: E731
    try:
        with pytest.raises(QueueUnavailable):
            queue.deliver_reconcile(12, dedup_key="zendesk:f", replay_key="signed:f")
    finally:
        undo()
    assert (
        queue.deliver_reconcile(12, dedup_key="zendesk:f", replay_key="signed:f")
        is Taken.ENQUEUE
    )
    assert [t.args[0] for t in huey.pending()] == [12]


def test_a_redis_delivery_is_one_round_trip_with_its_ready_instant() -> None:
    """An accepted webhook on Redis costs one command: the script stores the job and its ready instant.

    The ready clock's record was a second round trip (a ZADD from Huey's
    ``enqueued`` signal) before issue 19: each round trip is two GIL hand-offs
    in a web thread. MONITOR shows the commands a script runs as ``lua``;
    only this queue's keys are counted (other tests share the server).
    """
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        name = queue.huey.storage.name
        conn = redis.Redis.from_url(url.split("?")[0])
        try:
            queue.ping()
            with conn.monitor() as monitor:
                before = time.time()
                taken = queue.deliver_reconcile(
                    21, dedup_key="zendesk:rt", replay_key="signed:rt"
                )
                after = time.time()
                # A marker of our own ends the listening.
                conn.get(f"{name}.monitor-done")
                sent = []
                for command in monitor.listen():
                    if command["command"] == f"GET {name}.monitor-done":
                        break
                    if name in command["command"] and command["client_type"] != "lua":
                        sent.append(command["command"].split()[0])
            assert taken is Taken.ENQUEUE
            assert sent == ["EVALSHA"]
            ready = queue.oldest_ready()[Lane.NORMAL]
            assert ready is not None and before <= ready <= after
        finally:
            conn.close()
            queue.close()


def test_redis_commands_go_through_the_compiled_parser() -> None:
    """redis-py packs and parses through hiredis when it is installed (the ``hiredis`` extra).

    Measured on the accepted-webhook path (issue 19): about 40 µs of CPU per
    webhook under gunicorn, 0.37–0.41× → 0.42–0.44× bare Flask on Redis.
    """
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE
