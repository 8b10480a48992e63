"""`sidecar jobs retry` for every job kind that can be dead-lettered, Slack's included.

A dead-lettered ``slack_create`` / ``slack_comment`` job is its payload (the
modal submission, the thread reply): the dead letter keeps it, and a retry
enqueues the same job again. Runs against SQLite and the real Redis server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.errors import Rejected
from sidecar.slack.blocks import MessageRef, TicketRequest
from sidecar.tasks.queue import JobQueue, NotRetryable
from sidecar.tasks.slack_jobs import COMMENT, CREATE, SYNC
from tests.support import sidecar_env

REQUEST = TicketRequest(
    message=MessageRef(
        channel="C0123", ts="1714550000.000100", thread_ts="1714550000.000100"
    ),
    severity=1,
    subject="Checkout fails",
    description="Since 10:00 every checkout fails",
    submitted_by="U42",
    team="T1",
)
REPLY = {
    "channel": "C0123",
    "ts": "1714550100.000200",
    "text": "still broken",
    "user": "U42",
}


class Recorder:
    """Slack job handlers that fail (refused: dead letter at once) or record what they got."""

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.seen: list[tuple[str, Any]] = []

    def _do(self, what: str, value: Any) -> None:
        if self.fail:
            raise Rejected(f"{what} refused", service="zendesk", status=422)
        self.seen.append((what, value))

    def create_ticket(self, request: TicketRequest) -> None:
        self._do(CREATE, request)

    def add_comment(self, message: Mapping[str, Any]) -> None:
        self._do(COMMENT, dict(message))

    def follow(self, ticket_id: int) -> None:
        self._do(SYNC, ticket_id)


def run_all(queue: JobQueue) -> None:
    """Run every ready job (and the due retries) here, in this process."""
    huey = queue.huey
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    for task in huey.read_schedule(now):
        huey.enqueue(task)
    while (task := huey.dequeue()) is not None:
        huey.execute(task, timestamp=now)


def dead_letter_all_three(queue: JobQueue) -> None:
    queue.slack.use(lambda: Recorder(fail=True))
    assert queue.slack.submit_create(REQUEST)
    assert queue.slack.submit_comment(REPLY)
    assert queue.slack.schedule_sync(77)
    run_all(queue)


def test_slack_jobs_are_retried_with_their_payload(queue: JobQueue) -> None:
    """Dead-lettered create, comment and sync jobs run again with what they carried."""
    dead_letter_all_three(queue)
    failed = {job.task: job for job in queue.failed_jobs()}
    assert set(failed) == {CREATE, COMMENT, SYNC}
    assert failed[SYNC].ticket_id == 77
    recorder = Recorder(fail=False)
    queue.slack.use(lambda: recorder)
    for job in failed.values():
        assert queue.retry_failed(job.job_id) is True
    assert queue.failed_jobs() == []
    run_all(queue)
    assert sorted(recorder.seen, key=lambda seen: seen[0]) == [
        (COMMENT, REPLY),
        (CREATE, REQUEST),
        (SYNC, 77),
    ]


def test_a_retried_job_starts_over_at_attempt_one(queue: JobQueue) -> None:
    """The re-enqueued job is a first attempt: it gets the full retry budget again."""
    dead_letter_all_three(queue)
    (create,) = [job for job in queue.failed_jobs() if job.task == CREATE]
    assert create.kwargs == {} and create.args is not None
    assert queue.retry_failed(create.job_id)
    (task,) = [t for t in queue.huey.pending() if t.name.endswith(CREATE)]
    assert "attempt" not in (task.kwargs or {})


def test_a_payload_job_dead_lettered_without_its_payload_says_so(
    queue: JobQueue,
) -> None:
    """A dead letter from before payloads were kept is refused with a reason and stays listed."""
    old = {
        "job_id": "old-1",
        "task": CREATE,
        "ticket_id": 0,
        "error": "Rejected: refused",
        "attempts": 1,
        "first_failure_at": "2026-11-27T10:00:00+00:00",
        "last_failure_at": "2026-11-27T10:00:00+00:00",
    }
    queue.huey.put("dead:old-1", json.dumps(old))
    with pytest.raises(NotRetryable, match="before its payload was kept"):
        queue.retry_failed("old-1")
    assert [job.job_id for job in queue.failed_jobs()] == ["old-1"]
    assert queue.retry_all_failed() == 0
    assert [job.job_id for job in queue.failed_jobs()] == ["old-1"]


def test_jobs_retry_all_from_the_cli(tmp_path: Path) -> None:
    """`sidecar jobs retry --all` re-enqueues the Slack jobs; `jobs failed` names them."""
    env = sidecar_env(tmp_path)
    queue = JobQueue.from_url(env["SIDECAR_QUEUE_URL"])
    try:
        dead_letter_all_three(queue)
        listed = CliRunner().invoke(main, ["jobs", "failed"], env=env)
        assert listed.exit_code == 0, listed.output
        assert f"{SYNC} ticket 77" in listed.output
        assert f"{CREATE}  attempts" in listed.output  # no "ticket 0"
        retried = CliRunner().invoke(main, ["jobs", "retry", "--all"], env=env)
        assert retried.exit_code == 0, retried.output
        assert "re-enqueued 3 jobs" in retried.output
        assert queue.failed_jobs() == []
        names = sorted(t.name.rsplit(".", 1)[-1] for t in queue.huey.pending())
        assert names == [COMMENT, CREATE, SYNC]
    finally:
        queue.close()
