"""The escalation lease: the durable "page wanted" record that outlives a lost job.

Runs against SQLite and the real Redis server (the ``queue`` fixture of test_queue).
"""

from __future__ import annotations

import pytest

from sidecar.errors import Rejected, TicketClosed, Transient
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import (
    DEAD_LETTER_HOLD_SECONDS,
    escalation_lease,
    recover_escalations,
)
from tests.adapters.test_queue import run_next


def lapse(q: JobQueue, ticket_id: int) -> None:
    """Make the ticket's lease look like its holder died a while ago."""
    q.renew_lease(escalation_lease(ticket_id), seconds=-1)


def test_submit_enqueues_once_while_the_lease_is_live(queue: JobQueue) -> None:
    """A second submit while the job waits (or runs) enqueues nothing."""
    assert queue.submit_escalate(7) is True
    assert queue.submit_escalate(7) is False
    assert queue.submit_escalate(8) is True
    assert queue.depth() == 2


def test_a_lapsed_lease_is_recovered_once(queue: JobQueue) -> None:
    """A job lost to a crash (lease lapsed, job gone) is enqueued again by one watchdog."""
    assert queue.submit_escalate(7)
    assert queue.urgent_huey.dequeue() is not None  # a worker took it, then died
    assert queue.depth() == 0
    lapse(queue, 7)
    assert queue.lapsed_escalations() == [7]
    assert recover_escalations(queue) == 1
    assert recover_escalations(queue) == 0  # the new lease is live
    assert queue.depth() == 1
    assert queue.urgent_huey.pending_count() == 1, "recovered into the urgent lane"


def test_success_ends_the_lease(queue: JobQueue) -> None:
    """After the escalate job succeeded, the next wanted page can be submitted again."""
    seen: list[int] = []
    assert queue.submit_escalate(5)
    run_next(queue, seen.append, later=False)
    assert seen == [5]
    assert queue.lapsed_escalations() == []
    assert queue.submit_escalate(5) is True


def test_a_drop_ends_the_lease(queue: JobQueue) -> None:
    """A ticket closed meanwhile ends the job quietly, and its lease with it."""

    def closed(ticket_id: int) -> None:
        raise TicketClosed("closed", service="zendesk", status=422)

    assert queue.submit_escalate(5)
    run_next(queue, closed, later=False)
    assert queue.failed_jobs() == [] and queue.submit_escalate(5) is True


def test_a_retry_keeps_the_lease_until_it_is_due(queue: JobQueue) -> None:
    """While PagerDuty is down the retry holds the lease: no duplicate job piles up."""

    def down(ticket_id: int) -> None:
        raise Transient("503", service="pagerduty", status=503)

    assert queue.submit_escalate(6)
    run_next(queue, down, later=False)
    assert queue.scheduled() == 1
    assert queue.submit_escalate(6) is False
    assert queue.lapsed_escalations() == []


def test_a_dead_letter_holds_the_lease_for_a_while(
    queue: JobQueue,
) -> None:
    """A refused page is visible in failed jobs and tried again only after the hold."""

    def refused(ticket_id: int) -> None:
        raise Rejected("400 invalid routing key", service="pagerduty", status=400)

    assert queue.submit_escalate(4)
    run_next(queue, refused, later=False)
    assert [job.task for job in queue.failed_jobs()] == ["escalate"]
    assert queue.submit_escalate(4) is False
    assert DEAD_LETTER_HOLD_SECONDS >= 600


@pytest.mark.parametrize("ticket_id", [1, 123456789])
def test_lease_names_round_trip(queue: JobQueue, ticket_id: int) -> None:
    """Lapsed leases name the ticket they stand for."""
    queue.submit_escalate(ticket_id)
    lapse(queue, ticket_id)
    assert queue.lapsed_escalations() == [ticket_id]


def test_a_crash_between_lease_and_job_costs_seconds_not_minutes(
    queue: JobQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process killed after taking the lease but before storing the job: the lease lapses soon."""
    import time as clock

    def killed(ticket_id: int, **page: object) -> None:
        raise SystemExit("killed")  # not an Exception: nothing gives the lease back

    monkeypatch.setattr(queue, "enqueue_escalate", killed)
    with pytest.raises(SystemExit):
        queue.submit_escalate(9)
    monkeypatch.undo()
    assert queue.depth() == 0 and queue.submit_escalate(9) is False  # held, for now
    later = clock.time() + 21  # past the short lease
    monkeypatch.setattr(clock, "time", lambda: later)
    assert queue.lapsed_escalations() == [9]


def test_a_job_taken_off_the_queue_and_lost_before_its_heartbeat_comes_back_in_seconds(
    queue: JobQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed between Huey's dequeue and the first heartbeat: the page is back within the short lease.

    The lease used to be extended to 10 minutes once the job was stored, to
    cover its wait in the queue; a worker killed in that window lost the page
    for 10 minutes (a crash fault run under load lost one).
    """
    import time as clock

    from sidecar.tasks.worker import RUNNING_LEASE_SECONDS

    assert queue.submit_escalate(11)
    assert queue.urgent_huey.dequeue() is not None  # taken, then the worker died
    later = clock.time() + RUNNING_LEASE_SECONDS + 1
    monkeypatch.setattr(clock, "time", lambda: later)
    assert queue.lapsed_escalations() == [11]
    assert recover_escalations(queue) == 1
    assert queue.urgent_huey.pending_count() == 1


def test_a_job_still_waiting_in_the_queue_keeps_its_lease_and_is_not_doubled(
    queue: JobQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog is not a loss: the watchdog renews the lease of a job still in the queue."""
    import time as clock

    from sidecar.tasks.worker import RUNNING_LEASE_SECONDS

    assert queue.submit_escalate(12)
    later = clock.time() + RUNNING_LEASE_SECONDS + 1
    monkeypatch.setattr(clock, "time", lambda: later)
    assert queue.lapsed_escalations() == [12]
    assert recover_escalations(queue) == 0
    assert queue.lapsed_escalations() == []  # renewed from "now"
    assert queue.urgent_huey.pending_count() == 1
