"""Live work first, on SQLite and on the real Redis server: live, timers, replay, backfill.

Issue 19 (item 4): on Redis the priority argument was dropped (Huey's
RedisHuey keeps a list and refuses priorities), so a live webhook waited
behind a whole backfill. The Redis lanes now use Huey's PriorityRedisStorage
(a sorted set: score minus the priority, members prefixed by their enqueue
instant), and every write of ours keeps that shape.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from sidecar.tasks.bulk import BACKFILL_PRIORITY, REPLAY_PRIORITY
from sidecar.tasks.jobs import Lane
from sidecar.tasks.queue import JobQueue
from tests.support import redis_queue_url

BACKFILL = 3000


def _take_all(queue: JobQueue, lane: Lane = Lane.NORMAL) -> list[int]:
    huey = queue.lane_huey(lane)
    taken = []
    while (task := huey.dequeue()) is not None:
        taken.append(task.args[0])
        huey.taking.drop(str(task.id))
    return taken


def test_a_live_webhook_runs_before_a_queued_backfill(queue: JobQueue) -> None:
    backfill = range(100_000, 100_000 + BACKFILL)
    for ticket_id in backfill:
        queue.enqueue_reconcile(ticket_id, priority=BACKFILL_PRIORITY)
    queue.enqueue_reconcile(50, priority=REPLAY_PRIORITY)
    # A timer that fell due while the backfill was queued.
    due = datetime.now(UTC) - timedelta(seconds=1)
    assert queue.set_timer(40, eta=due, wake_key="wake:acme:40:due")
    queue.huey.read_schedule(datetime.now(UTC).replace(tzinfo=None))
    # The webhook arrives last.
    assert queue.submit_reconcile(7, dedup_key="zendesk:live-7")
    order = _take_all(queue)
    assert order[:3] == [7, 40, 50]
    assert order[3:] == list(backfill)  # and the backfill in the order it came


def test_jobs_of_one_priority_run_in_the_order_they_came(queue: JobQueue) -> None:
    for ticket_id in (5, 3, 9, 1):
        queue.enqueue_reconcile(ticket_id)
    assert queue.submit_reconcile(4, dedup_key="zendesk:4")
    assert _take_all(queue) == [5, 3, 9, 1, 4]


def test_the_urgent_lanes_record_only_escalate_waits_behind_its_timers(
    queue: JobQueue,
) -> None:
    queue.enqueue_escalate(1, record_only=True)
    due = datetime.now(UTC) - timedelta(seconds=1)
    assert queue.set_timer(2, eta=due, wake_key="wake:acme:2:due", lane=Lane.URGENT)
    queue.urgent_huey.read_schedule(datetime.now(UTC).replace(tzinfo=None))
    queue.enqueue_escalate(3)
    assert _take_all(queue, Lane.URGENT) == [3, 2, 1]


def test_a_ready_list_an_earlier_version_left_becomes_the_sorted_set() -> None:
    """Upgrading: jobs in RedisHuey's list keep their order, and are taken first-in first."""
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        conn = redis.Redis.from_url(url.split("?")[0])
        try:
            key = queue.huey.storage.queue_key
            conn.delete(key)
            for ticket_id in (11, 12, 13):  # RedisStorage.enqueue: LPUSH
                task = queue.tasks.reconcile.s(ticket_id)
                conn.lpush(key, queue.huey.serialize_task(task))
            upgraded = JobQueue.from_url(url)
            try:
                assert conn.type(key) == b"zset"
                assert upgraded.depth() == 3
                upgraded.enqueue_reconcile(14)
                assert _take_all(upgraded) == [11, 12, 13, 14]
            finally:
                upgraded.close()
        finally:
            conn.close()
            queue.close()
