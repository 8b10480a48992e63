"""A Slack thread sync's claim and its job are one write (SQLite and the real Redis server).

Before, ``schedule_sync`` claimed ``slack_sync:<ticket>`` (600 s) and then
enqueued the sync: a process SIGKILLed between the two left the claim without
its job, and every change of the ticket for the next ten minutes was skipped
("a sync is already waiting"). Here a real child process is killed right after
its first write to the store: the claim and the job must both be there, or
neither.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_jobs import SYNC, SYNC_QUEUED_KEY

ROOT = Path(__file__).resolve().parents[2]
TICKET = 5


def _kill_after_first_write(url: str) -> str:
    """Run the child until its first write, SIGKILL it; return what it said."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.killed_after_write", url, str(TICKET)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        said = child.stdout.readline().strip()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    return said


def test_a_sync_killed_after_its_first_write_left_claim_and_job_together(
    queue: JobQueue, queue_url: str
) -> None:
    said = _kill_after_first_write(queue_url)
    assert said.startswith("wrote"), said
    syncs = [job for job in queue.pending_jobs() if job.task == SYNC]
    claim_held = not queue.claim(
        SYNC_QUEUED_KEY.format(ticket_id=TICKET), ttl_seconds=600
    )
    # Both or neither; with the old two writes: the claim alone.
    assert claim_held == bool(syncs), (said, claim_held, syncs)
    assert [job.subject_id for job in syncs] == [TICKET]


def test_a_second_sync_while_one_waits_stores_nothing(queue: JobQueue) -> None:
    assert queue.slack.schedule_sync(TICKET)
    assert not queue.slack.schedule_sync(TICKET)
    assert [job.task for job in queue.pending_jobs()] == [SYNC]
