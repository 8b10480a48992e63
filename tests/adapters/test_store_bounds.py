"""Every key of the queue store has an expiry or a bound, and counts are kept, not scanned.

SQLite and the real Redis server. Issue 19 (item 6): /metrics counted dead
letters by reading every value of Huey's key-value store, Slack's link flags
never expired, and the SQLite ticket memo was never pruned.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import redis

from sidecar.queue.store import SLACK_FLAG_SECONDS
from sidecar.tasks.jobs import FailedJob
from sidecar.tasks.queue import JobQueue


def _dead(job_id: str, ticket_id: int = 1) -> FailedJob:
    return FailedJob(
        job_id=job_id,
        task="reconcile",
        ticket_id=ticket_id,
        error="boom",
        attempts=5,
        first_failure_at="2026-01-01T00:00:00+00:00",
        last_failure_at=f"2026-01-01T00:00:0{ticket_id % 10}+00:00",
    )


def test_the_dead_letter_count_follows_each_change(queue: JobQueue) -> None:
    for n in range(3):
        queue.record_failed(_dead(f"job-{n}", n))
    queue.record_failed(_dead("job-1", 1))  # the same job again: one letter
    assert queue.failed_count() == 3 == len(queue.failed_jobs())
    assert queue.dead_letters_total() == 4  # a counter: every dead-lettering
    assert queue.retry_failed("job-0")
    assert not queue.retry_failed("job-0")
    assert queue.failed_count() == 2 == len(queue.failed_jobs())
    assert queue.retry_all_failed() == 2
    assert queue.failed_count() == 0 and queue.dead_letters_total() == 4


def test_dead_letters_are_bounded_oldest_first(queue: JobQueue) -> None:
    store = queue._store
    for n in range(5):
        dropped = store.put_dead(
            f"job-{n}", json.dumps(asdict(_dead(f"job-{n}"))), limit=3
        )
        assert dropped == (1 if n >= 3 else 0)
        time.sleep(0.002)  # distinct instants on any clock
    assert queue.failed_count() == 3
    assert sorted(job.job_id for job in queue.failed_jobs()) == [
        "job-2",
        "job-3",
        "job-4",
    ]


def test_slack_link_flags_expire_and_service_flags_do_not(
    queue: JobQueue, queue_url: str
) -> None:
    queue.set_flag("slack_thread:acme:C1:1.0", "7")
    queue.set_flag("zendesk_auth_failed", "2026-01-01T00:00:00+00:00")
    assert queue.get_flag("slack_thread:acme:C1:1.0") == "7"
    if queue.is_sqlite:
        rows = dict(
            queue.huey.storage.sql("select name, until from sidecar_flag", results=True)
        )
        assert rows["zendesk_auth_failed"] is None
        left = rows["slack_thread:acme:C1:1.0"] - time.time()
        assert SLACK_FLAG_SECONDS - 60 < left <= SLACK_FLAG_SECONDS
        # The hourly pruning drops it once lapsed.
        assert queue.prune_memos(now=time.time() + SLACK_FLAG_SECONDS + 1) == 1
        assert queue.get_flag("slack_thread:acme:C1:1.0") is None
    else:
        conn = redis.Redis.from_url(queue_url.split("?")[0])
        name = queue.huey.storage.name
        try:
            ttl = conn.ttl(f"sidecar.flag.{name}.slack_thread:acme:C1:1.0")
            assert SLACK_FLAG_SECONDS - 60 < ttl <= SLACK_FLAG_SECONDS
            assert conn.ttl(f"sidecar.flag.{name}.zendesk_auth_failed") == -1
        finally:
            conn.close()
    assert queue.get_flag("zendesk_auth_failed") is not None


def test_the_sqlite_memo_is_pruned(queue: JobQueue) -> None:
    queue.set_memo("seen:acme:1", "x", ttl_seconds=60)
    queue.set_memo("seen:acme:2", "y", ttl_seconds=3600)
    pruned = queue.prune_memos(now=time.time() + 120)
    assert pruned == (1 if queue.is_sqlite else 0)  # Redis expires its own
    assert queue.get_memo("seen:acme:2") == "y"


def test_flags_and_dead_letters_an_earlier_version_kept_are_moved_once(
    queue_url: str, queue: JobQueue
) -> None:
    """Upgrading: values in Huey's key-value store move to the store's own keys."""
    huey = queue.huey
    huey.put("dead:old-1", json.dumps(asdict(_dead("old-1"))))
    huey.put("flag:slack_ticket:acme:5", '{"channel": "C1"}')
    huey.put("flag:sweep_cursor", "abc")
    huey.storage.incr("dead_letters_total", 7)
    if queue.is_sqlite:
        huey.storage.sql(
            "delete from sidecar_count where name = 'kv_moved'", commit=True
        )
    else:
        huey.storage.conn.delete(f"sidecar.kv_moved.{huey.storage.name}")
    upgraded = JobQueue.from_url(queue_url)
    try:
        assert [job.job_id for job in upgraded.failed_jobs()] == ["old-1"]
        assert upgraded.failed_count() == 1
        assert upgraded.dead_letters_total() == 7
        assert upgraded.get_flag("slack_ticket:acme:5") == '{"channel": "C1"}'
        assert upgraded.get_flag("sweep_cursor") == "abc"
        assert not any(
            key.startswith(("dead:", "flag:")) for key in huey.storage.result_items()
        )
        again = JobQueue.from_url(queue_url)  # once: nothing moves twice
        assert again.failed_count() == 1 and again.dead_letters_total() == 7
        again.close()
    finally:
        upgraded.close()
