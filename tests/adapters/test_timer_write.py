"""A timer's claim and its schedule entry are one write (SQLite and the real Redis server).

Before, a reconcile claimed ``wake:…`` and then added the timer to the schedule:
a worker killed between the two left the claim without its timer, and every
later reconcile skipped that instant for the claim's 7 days. The store failing
the schedule write stands in for the kill here: nothing may be claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis

from sidecar.errors import QueueUnavailable
from sidecar.tasks.jobs import Lane
from sidecar.tasks.queue import JobQueue

KEY = "wake:acme:7:2030-01-01T00:00:00Z"


def _break_schedule(queue: JobQueue, lane: Lane) -> Callable[[], None]:
    """Make the lane's schedule refuse writes; return the undo."""
    huey = queue.lane_huey(lane)
    if queue.is_sqlite:
        storage = huey.storage
        storage.sql("alter table schedule rename to schedule_gone", commit=True)
        return lambda: storage.sql(
            "alter table schedule_gone rename to schedule", commit=True
        )
    conn: redis.Redis = huey.storage.conn
    conn.set(huey.storage.schedule_key, b"not a sorted set")
    return lambda: conn.delete(huey.storage.schedule_key)


@pytest.mark.parametrize("lane", list(Lane))
def test_a_timer_is_claimed_and_scheduled_together(queue: JobQueue, lane: Lane) -> None:
    eta = datetime.now(UTC) + timedelta(minutes=5)
    assert queue.set_timer(7, eta=eta, wake_key=KEY, lane=lane)
    # A racing reconcile of the same instant sets nothing.
    assert not queue.set_timer(7, eta=eta, wake_key=KEY, lane=lane)
    (job,) = queue.scheduled_jobs()
    assert (job.task, job.subject_id, job.lane) == ("reconcile", 7, lane)
    assert job.eta is not None and abs((job.eta - eta).total_seconds()) < 0.001
    assert queue.depth() == 0


def test_the_timer_is_due_at_its_eta_and_frees_its_claim(queue: JobQueue) -> None:
    eta = datetime.now(UTC) + timedelta(minutes=5)
    assert queue.set_timer(7, eta=eta, wake_key=KEY)
    before = (eta - timedelta(seconds=1)).replace(tzinfo=None)
    queue.huey.read_schedule(before)
    assert queue.depth() == 0
    queue.huey.read_schedule(eta.replace(tzinfo=None))
    (ready,) = queue.huey.pending()
    assert ready.kwargs["wake"] == KEY
    # Held until the timer's job runs and frees it (sidecar.tasks.queue).
    assert not queue.claim(KEY)


@pytest.mark.parametrize("lane", list(Lane))
def test_a_failed_schedule_write_keeps_no_claim(queue: JobQueue, lane: Lane) -> None:
    """The crash between claim and schedule, as a failed write: nothing claimed."""
    eta = datetime.now(UTC) + timedelta(minutes=5)
    undo = _break_schedule(queue, lane)
    try:
        with pytest.raises(QueueUnavailable):
            queue.set_timer(7, eta=eta, wake_key=KEY, lane=lane)
    finally:
        undo()
    # The recovered reconcile sets the timer again.
    assert queue.set_timer(7, eta=eta, wake_key=KEY, lane=lane)
    assert len(queue.scheduled_jobs()) == 1
