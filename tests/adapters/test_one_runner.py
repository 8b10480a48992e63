"""One runner for every job kind, Slack's included (SQLite and the real Redis server).

Slack's jobs once had a retry loop of their own: a killed worker lost them, a
budget wait or a 429 spent an attempt, and ``sidecar_jobs_total`` never counted
them. They now run on the worker's Runner like reconcile, escalate and
refresh_org, and a job a worker took is recorded in flight in the same write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sidecar.errors import BudgetWait, RateLimited
from sidecar.metrics import JOB_OUTCOMES
from sidecar.slack.blocks import MessageRef, TicketRequest
from sidecar.tasks.jobs import Lane
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_jobs import COMMENT, CREATE, SYNC
from sidecar.tasks.worker import serve_jobs

REQUEST = TicketRequest(
    message=MessageRef(
        channel="C1", ts="1714550000.000100", thread_ts="1714550000.000100"
    ),
    severity=1,
    subject="Checkout fails",
    description="Since 10:00",
    submitted_by="U42",
    team="T1",
)
REPLY = {"channel": "C1", "ts": "1714550100.000200", "text": "still", "user": "U42"}


class Slack:
    """Slack job handlers that record each run (and can fail the first ones)."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.runs: list[tuple[str, Any]] = []

    def _do(self, what: str, value: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.runs.append((what, value))

    def create_ticket(self, request: TicketRequest) -> None:
        self._do(CREATE, request.message.ts)

    def add_comment(self, message: Mapping[str, Any]) -> None:
        self._do(COMMENT, message["ts"])

    def follow(self, ticket_id: int) -> None:
        self._do(SYNC, ticket_id)


KINDS = [CREATE, COMMENT, SYNC, "reconcile", "refresh_org"]


def _submit(queue: JobQueue, kind: str) -> None:
    if kind == CREATE:
        assert queue.slack.submit_create(REQUEST)
    elif kind == COMMENT:
        assert queue.slack.submit_comment(REPLY)
    elif kind == SYNC:
        assert queue.slack.schedule_sync(7)
    elif kind == "reconcile":
        assert queue.submit_reconcile(7, dedup_key="d-7")
    else:
        queue.enqueue_refresh_org(7)


def _run_all(queue: JobQueue, *, later: bool = False) -> None:
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1 if later else 0)
    huey = queue.huey
    huey.read_schedule(now)
    while (task := huey.dequeue()) is not None:
        huey.execute(task, timestamp=now)


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_workers_job_of_every_kind_runs_again_once(
    queue: JobQueue, kind: str
) -> None:
    """Taken, its worker dead before it ended: the watchdog brings it back; it runs once."""
    slack = Slack()
    ran: list[tuple[str, int]] = []
    queue.slack.use(lambda: slack)
    serve_jobs(
        queue,
        lambda: {
            "reconcile": lambda t, **_: ran.append(("reconcile", t)),
            "refresh_org": lambda t, **_: ran.append(("refresh_org", t)),
        },
    )
    _submit(queue, kind)
    taken = queue.huey.dequeue()  # ...and the worker is SIGKILLed here
    assert taken is not None and queue.depth() == 0
    # Its record lapses (no watchdog of that process renews it any more).
    queue.renew_inflight(queue.held_inflight(), seconds=-1)
    queue.huey.taking.drop(str(taken.id))  # the dead process's memory is gone
    assert queue.recover_inflight() == 1
    _run_all(queue)
    assert len(slack.runs) + len(ran) == 1, (slack.runs, ran)
    assert queue.recover_inflight() == 0 and queue.depth() == 0


@pytest.mark.parametrize("error", [BudgetWait, RateLimited])
def test_a_slack_job_waiting_for_budget_or_a_429_spends_no_attempt(
    queue: JobQueue, error: type[Exception]
) -> None:
    """Budget waits and 429s put the job back without counting an attempt; each is counted."""
    waits = [error("wait", service="zendesk", retry_after=1.0) for _ in range(10)]
    slack = Slack(failures=waits)
    queue.slack.use(lambda: slack, base_delay=0.01)
    before = _jobs_total(CREATE)
    assert queue.slack.submit_create(REQUEST)
    for _ in range(11):  # more waits than MAX_ATTEMPTS (8) allows failures
        _run_all(queue, later=True)
    assert slack.runs == [(CREATE, REQUEST.message.ts)]
    assert queue.failed_jobs() == []
    assert _jobs_total(CREATE) - before == 11


def test_a_lane_name_is_kept_on_recovery(queue: JobQueue) -> None:
    """A job taken from the urgent lane comes back to the urgent lane."""
    queue.enqueue_reconcile(3, lane=Lane.URGENT)
    task = queue.urgent_huey.dequeue()
    assert task is not None
    queue.renew_inflight(queue.held_inflight(), seconds=-1)
    assert queue.recover_inflight() == 1
    assert [job.lane for job in queue.pending_jobs()] == [Lane.URGENT]


def _jobs_total(job: str) -> float:
    return sum(
        REGISTRY.get_sample_value(
            "sidecar_jobs_total", {"job": job, "outcome": outcome}
        )
        or 0.0
        for outcome in JOB_OUTCOMES.values()
    )


def test_a_slack_refusal_raises_a_flag_that_metrics_read_and_the_next_job_clears(
    queue: JobQueue,
) -> None:
    """Slack answers 401: the job is dead-lettered, slack_auth_failed is up; a later job clears it."""
    from sidecar.errors import AuthFailed
    from sidecar.scrape import QueueCollector

    slack = Slack(failures=[AuthFailed("invalid_auth", service="slack", status=401)])
    queue.slack.use(lambda: slack)
    assert queue.slack.schedule_sync(7)
    _run_all(queue)
    assert queue.get_flag("slack_auth_failed") is not None
    assert _auth_gauge(QueueCollector(queue), "slack") == 1
    assert queue.slack.schedule_sync(8)
    _run_all(queue)
    assert slack.runs == [(SYNC, 8)]
    assert queue.get_flag("slack_auth_failed") is None
    assert _auth_gauge(QueueCollector(queue), "slack") == 0


def _auth_gauge(collector: Any, service: str) -> float:
    for family in collector.collect():
        if family.name == "sidecar_upstream_auth_failed":
            for sample in family.samples:
                if sample.labels == {"service": service}:
                    return float(sample.value)
    raise AssertionError("no sidecar_upstream_auth_failed sample")


def test_the_disposition_alone_decides(queue: JobQueue) -> None:
    """An error of no known class is dropped, dead-lettered or waited on by its disposition and wait."""
    from sidecar.errors import Disposition, SidecarError, Wait
    from sidecar.metrics import BUDGET_WAITS

    class Odd(SidecarError):
        def __init__(self, disposition: Disposition, wait: Wait | None = None) -> None:
            super().__init__(f"odd {disposition.value}")
            self.disposition, self.wait, self.retry_after = disposition, wait, 0.5
            self.pool = "updates"

    slack = Slack(failures=[Odd(Disposition.RETRY, Wait.BUDGET)])
    queue.slack.use(lambda: slack, base_delay=0.01)
    waits = BUDGET_WAITS.labels("updates", "normal")._value.get()
    assert queue.slack.submit_create(REQUEST)
    _run_all(queue)  # waits for budget (no attempt), then runs
    assert BUDGET_WAITS.labels("updates", "normal")._value.get() == waits + 1
    _run_all(queue, later=True)
    slack.failures = [Odd(Disposition.DROP)]
    assert queue.slack.submit_comment(REPLY)
    _run_all(queue)  # dropped
    slack.failures = [Odd(Disposition.DEAD_LETTER)]
    assert queue.slack.schedule_sync(9)
    _run_all(queue)  # dead-lettered at once
    assert slack.runs == [(CREATE, REQUEST.message.ts)]
    assert [job.task for job in queue.failed_jobs()] == [SYNC]
    assert queue.failed_jobs()[0].attempts == 1
