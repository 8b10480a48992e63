"""The dashboard's queue and job metrics, on SQLite and on the real Redis server.

- ``sidecar_jobs_total{job, outcome}`` moves as the worker's Runner runs jobs
  taken from a real queue: done, dropped, retried, dead_lettered, budget_wait.
- ``sidecar_queue_age_seconds{lane}``: when the oldest ready job of each lane
  became ready (sidecar.queue.ready), kept by triggers on SQLite and by Huey's
  signals on Redis, read at scrape time by any process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY

from sidecar.errors import BudgetWait, NotFound, RateLimited, Rejected, Transient
from sidecar.queue.ready import LEFTOVER_MARGIN_SECONDS
from sidecar.scrape import queue_registry
from sidecar.tasks.jobs import MAX_ATTEMPTS, Lane
from sidecar.tasks.queue import JobQueue
from tests.adapters.test_queue import run_next
from tests.support import redis_queue_url

# SQLite's julianday('now') has millisecond precision.
CLOCK_SLACK = 0.01


# --- jobs by outcome -------------------------------------------------------------


def jobs(job: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "sidecar_jobs_total", {"job": job, "outcome": outcome}
    )
    assert value is not None  # every job x outcome is exported from the start
    return value


def raising(error: Exception | None) -> Callable[[int], None]:
    def handler(ticket_id: int) -> None:
        if error is not None:
            raise error

    return handler


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, "done"),
        (NotFound("ticket 3 not found", service="zendesk", status=404), "dropped"),
        (Transient("zendesk 503", service="zendesk", status=503), "retried"),
        (
            RateLimited("429", service="zendesk", status=429, retry_after=30),
            "throttled",
        ),
        (Rejected("422 invalid field", service="zendesk", status=422), "dead_lettered"),
        (
            BudgetWait("our requests share is used", service="zendesk", retry_after=5),
            "budget_wait",
        ),
    ],
)
def test_each_attempt_counts_once_by_its_outcome(
    queue: JobQueue, error: Exception | None, outcome: str
) -> None:
    """One reconcile attempt through the Runner moves exactly its outcome's count by one."""
    labels = ("done", "dropped", "retried", "throttled", "dead_lettered", "budget_wait")
    before = {label: jobs("reconcile", label) for label in labels}
    queue.enqueue_reconcile(3)
    run_next(queue, raising(error), later=False)
    after = {label: jobs("reconcile", label) for label in labels}
    assert after == {**before, outcome: before[outcome] + 1}


def test_an_escalation_counts_under_its_own_job(queue: JobQueue) -> None:
    before = jobs("escalate", "done"), jobs("reconcile", "done")
    queue.submit_escalate(8)
    run_next(queue, raising(None), later=False)
    assert (jobs("escalate", "done"), jobs("reconcile", "done")) == (
        before[0] + 1,
        before[1],
    )


def test_retries_then_a_dead_letter_count_each_attempt(queue: JobQueue) -> None:
    """A job failing every attempt: MAX_ATTEMPTS - 1 retries, then one dead letter."""
    before = jobs("reconcile", "retried"), jobs("reconcile", "dead_lettered")
    queue.enqueue_reconcile(9)
    for _ in range(MAX_ATTEMPTS):
        run_next(queue, raising(ValueError("unexpected payload shape")))
    assert (jobs("reconcile", "retried"), jobs("reconcile", "dead_lettered")) == (
        before[0] + MAX_ATTEMPTS - 1,
        before[1] + 1,
    )


# --- queue age -------------------------------------------------------------------


def ages(queue: JobQueue) -> dict[str, float]:
    registry = queue_registry(queue)
    found = {}
    for lane in ("normal", "urgent"):
        value = registry.get_sample_value("sidecar_queue_age_seconds", {"lane": lane})
        assert value is not None
        found[lane] = value
    return found


def test_an_empty_queue_has_no_oldest_job_and_age_zero(queue: JobQueue) -> None:
    assert queue.oldest_ready() == {Lane.NORMAL: None, Lane.URGENT: None}
    assert ages(queue) == {"normal": 0.0, "urgent": 0.0}


def test_the_oldest_ready_job_of_each_lane_is_reported(queue: JobQueue) -> None:
    """Each lane reports when its oldest ready job was enqueued; taking it moves to the next."""
    t0 = time.time()
    queue.enqueue_reconcile(1)
    t1 = time.time()
    queue.enqueue_reconcile(2)
    # Well apart: the two lanes' stamps may come from Redis's clock and ours,
    # which differ by a few milliseconds (this flaked about 1 run in 4).
    time.sleep(0.1)
    apart = time.time()
    queue.submit_escalate(3)
    t2 = time.time()
    oldest = queue.oldest_ready()
    first, urgent = oldest[Lane.NORMAL], oldest[Lane.URGENT]
    assert first is not None and urgent is not None
    assert t0 - CLOCK_SLACK <= first <= t1 + CLOCK_SLACK
    assert apart - CLOCK_SLACK <= urgent <= t2 + CLOCK_SLACK
    published = ages(queue)
    assert published["normal"] >= published["urgent"] - CLOCK_SLACK
    assert published["urgent"] >= 0

    run_next(queue, raising(None), later=False)  # the urgent lane goes first
    assert queue.oldest_ready()[Lane.URGENT] is None
    assert queue.oldest_ready()[Lane.NORMAL] == first
    run_next(queue, raising(None), later=False)  # ticket 1
    second = queue.oldest_ready()[Lane.NORMAL]
    assert second is not None and t0 - CLOCK_SLACK <= second <= t2 + CLOCK_SLACK
    assert second >= first
    run_next(queue, raising(None), later=False)
    assert queue.oldest_ready() == {Lane.NORMAL: None, Lane.URGENT: None}


def test_a_retried_job_is_ready_again_from_its_retry(queue: JobQueue) -> None:
    """A job back from its retry delay counts its age from then, not from its first enqueue."""
    queue.enqueue_reconcile(5)
    first = queue.oldest_ready()[Lane.NORMAL]
    run_next(
        queue, raising(Transient("503", service="zendesk", status=503)), later=False
    )
    assert queue.oldest_ready()[Lane.NORMAL] is None  # waiting for its delay
    assert queue.scheduled() == 1
    before = time.time()
    # What the scheduler does when the delay is over.
    for task in queue.huey.read_schedule(
        datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    ):
        queue.huey.enqueue(task)
    again = queue.oldest_ready()[Lane.NORMAL]
    assert first is not None and again is not None
    assert again >= before - CLOCK_SLACK > first - 1


def test_every_process_reads_the_same_age(queue_url: str, queue: JobQueue) -> None:
    """A second process's queue object (another web worker) sees the first one's job."""
    queue.enqueue_reconcile(1)
    other = JobQueue.from_url(queue_url)
    try:
        assert other.oldest_ready() == queue.oldest_ready()
    finally:
        other.close()


def test_sqlite_jobs_queued_before_the_triggers_are_ready_since_first_seen(
    tmp_path: Path,
) -> None:
    """Upgrading: jobs already in the file get a record when the queue opens (a lower bound)."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    queue = JobQueue.from_url(url)
    queue.enqueue_reconcile(1)
    storage = queue.huey.storage
    for statement in (
        "drop trigger sidecar_ready_in",
        "drop trigger sidecar_ready_out",
        "drop table sidecar_ready",
    ):
        storage.sql(statement, commit=True)
    queue.close()
    before = time.time()
    reopened = JobQueue.from_url(url)
    try:
        since = reopened.oldest_ready()[Lane.NORMAL]
        assert since is not None and since >= before - CLOCK_SLACK
    finally:
        reopened.close()


def redis_key(queue: JobQueue, lane: Lane) -> str:
    return f"sidecar.ready.{queue.lane_huey(lane).storage.name}"


def test_redis_job_without_a_record_is_recorded_when_first_seen() -> None:
    """A job an earlier version queued (no record) is ready since the first scrape that saw it."""
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        try:
            task = queue.tasks.reconcile.s(7)
            # Straight into Huey's list, as a version without records did.
            queue.huey.storage.enqueue(queue.huey.serialize_task(task))
            before = time.time()
            since = queue.oldest_ready()[Lane.NORMAL]
            assert since is not None and since >= before
            assert queue.oldest_ready()[Lane.NORMAL] == since  # kept, not renewed
        finally:
            queue.close()


def test_redis_leftovers_of_a_crash_are_never_read_and_are_pruned() -> None:
    """A job popped without running (a crash) leaves a record: the tail decides, the leftover goes."""
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        conn = redis.Redis.from_url(url.split("?")[0])
        try:
            key = redis_key(queue, Lane.NORMAL)
            conn.zadd(key, {"lost-job": time.time() - 2 * LEFTOVER_MARGIN_SECONDS})
            queue.enqueue_reconcile(1)
            queue.enqueue_reconcile(2)
            first = queue.oldest_ready()[Lane.NORMAL]
            assert first is not None and first > time.time() - 60
            assert conn.zscore(key, "lost-job") is None  # older than the tail: pruned
            queue.huey.storage.dequeue()  # popped, then the worker died: no signal
            second = queue.oldest_ready()[Lane.NORMAL]
            assert second is not None and second >= first
            assert (
                conn.zcard(key) == 2
            )  # the crashed job's record stays until it is old
        finally:
            conn.close()
            queue.close()
