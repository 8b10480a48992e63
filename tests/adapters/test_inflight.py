"""Jobs in flight: a job whose worker died is enqueued again, once.

Runs against SQLite and the real Redis server (the ``queue`` fixture of test_queue).
"""

from __future__ import annotations

from sidecar.tasks.jobs import Lane
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import RUNNING_LEASE_SECONDS, watch_leases
from tests.adapters.test_queue import run_next


def _taken(q: JobQueue) -> object:
    """Enqueue reconcile(3) and take it off the queue as a worker would."""
    q.enqueue_reconcile(3)
    task = q.huey.dequeue()
    assert task is not None and q.depth() == 0
    return task


def test_a_lapsed_job_is_enqueued_again_once(queue: JobQueue) -> None:
    """A job recorded in flight whose worker stopped renewing it comes back, once."""
    task = _taken(queue)
    queue.hold_inflight(task, Lane.NORMAL, seconds=-1)  # its worker died a while ago
    assert queue.recover_inflight() == 1
    assert queue.recover_inflight() == 0
    (again,) = queue.huey.pending()
    assert (again.id, again.args) == (task.id, (3,))  # type: ignore[attr-defined]


def test_a_renewed_job_is_left_alone(queue: JobQueue) -> None:
    """While its worker renews the record, nobody takes the job."""
    task = _taken(queue)
    queue.hold_inflight(task, Lane.NORMAL, seconds=-1)
    queue.renew_inflight([task.id], seconds=RUNNING_LEASE_SECONDS)  # type: ignore[attr-defined]
    assert queue.recover_inflight() == 0 and queue.depth() == 0


def test_a_released_job_is_never_recovered(queue: JobQueue) -> None:
    """A job that ended is forgotten; a late renewal does not bring it back."""
    task = _taken(queue)
    queue.hold_inflight(task, Lane.URGENT, seconds=-1)
    queue.release_inflight(task.id)  # type: ignore[attr-defined]
    queue.renew_inflight([task.id], seconds=-1)  # type: ignore[attr-defined]
    assert queue.recover_inflight() == 0


def test_the_worker_records_a_running_job_and_forgets_it_after(
    queue: JobQueue,
) -> None:
    """While the handler runs its job is in flight; afterwards nothing is left to recover."""
    seen: list[int] = []

    def handler(ticket_id: int, **hint: object) -> None:
        # Mid-job: the job is recorded; lapse it as if this worker had died.
        running = queue_runner_running(queue)
        assert len(running) == 1
        queue.renew_inflight(list(running), seconds=-1)
        seen.append(ticket_id)

    queue.enqueue_reconcile(8)
    run_next(queue, handler, later=False)
    assert seen == [8]
    assert queue.recover_inflight() == 0


def queue_runner_running(q: JobQueue) -> set[str]:
    """The ids the worker records as running in this process."""
    runner = q._run()  # the Runner serving this queue's jobs
    return set(runner._running)  # type: ignore[attr-defined]


def test_the_watchdog_recovers_lapsed_jobs(queue: JobQueue) -> None:
    """One round of the watchdog brings back a dead worker's job."""
    import threading

    task = _taken(queue)
    queue.hold_inflight(task, Lane.NORMAL, seconds=-1)
    stop = threading.Event()
    stop.set()  # one round, then return
    watch_leases(queue, stop=stop)
    assert queue.depth() == 1
