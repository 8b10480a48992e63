"""An urgent job's retries: within seconds, capped, and no sooner dead-lettered than an ordinary one.

Issue 19: an urgent job (a page, its marker, a SEV 1/2 due time) retried with
the ordinary backoff (5, 10, 20, 40, 80 s), and one page came 201 s after its
webhook. On the real queues (SQLite file, Redis) through the worker's Runner.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sidecar.errors import Transient
from sidecar.tasks.jobs import MAX_ATTEMPTS, Lane, retry_policy
from sidecar.tasks.queue import JobQueue
from tests.adapters.test_queue import run_next


def failing(ticket_id: int) -> None:
    raise Transient("zendesk 503", service="zendesk", status=503)


def due_in(queue: JobQueue, lane: Lane) -> tuple[float, int]:
    """Seconds until the one retry waiting in ``lane`` is due, and its attempt."""
    (task,) = queue.lane_huey(lane).scheduled()
    left = (task.eta.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    return left, int(task.kwargs["attempt"])


def test_a_failed_page_is_tried_again_after_one_second(queue: JobQueue) -> None:
    """Escalate fails with a 503: retried in 1 s (the ordinary lane would wait 5 s)."""
    queue.enqueue_escalate(5)
    run_next(queue, failing, later=False)
    left, attempt = due_in(queue, Lane.URGENT)
    assert 0 < left <= 1.2 and attempt == 2


def test_an_urgent_reconcile_retries_fast_an_ordinary_one_as_before(
    queue: JobQueue,
) -> None:
    """The lane decides: an urgent-lane reconcile 1 s, a normal one 5 s."""
    queue.enqueue_reconcile(6, lane=Lane.URGENT)
    queue.enqueue_reconcile(7)
    run_next(queue, failing, later=False)  # the urgent lane first
    run_next(queue, failing, later=False)
    assert 0 < due_in(queue, Lane.URGENT)[0] <= 1.2
    assert 4 <= due_in(queue, Lane.NORMAL)[0] <= 5.2


def test_an_urgent_job_outlasts_the_ordinary_attempts(queue: JobQueue) -> None:
    """Shorter waits, more of them: a page is not dead-lettered after 8 quick failures."""
    policy = retry_policy(Lane.URGENT)
    queue.enqueue_escalate(8)
    for _ in range(MAX_ATTEMPTS + 2):
        run_next(queue, failing)
    assert queue.failed_jobs() == []
    left, attempt = due_in(queue, Lane.URGENT)
    assert attempt == MAX_ATTEMPTS + 3 and left <= policy.cap + 0.2
    for _ in range(policy.attempts - attempt + 1):
        run_next(queue, failing)
    (job,) = queue.failed_jobs()
    assert (job.ticket_id, job.attempts) == (8, policy.attempts)
