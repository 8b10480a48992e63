"""A worker SIGKILLed while its scheduler moves due timers: every timer still runs.

Huey's scheduler reads the due jobs off the schedule (deleting them) and then
enqueues them one by one; a worker killed in between lost every job it had not
enqueued yet. The queue now moves due jobs to the ready queue in one
transaction (SQLite) or one script (Redis), and a worker takes a job and
records it in flight in one step, so there is no moment at which a timer is
nowhere.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.tasks.jobs import Lane
from sidecar.tasks.queue import JobQueue
from tests.support import Process, redis_queue_url, wait_for

pytestmark = pytest.mark.e2e

TIMERS = 1000


def _runs(path: Path) -> set[int]:
    if not path.exists():
        return set()
    return {int(line) for line in path.read_text().split()}


def _start(url: str, runs: Path, cwd: Path) -> Process:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = Process(
        [sys.executable, "-m", "tests.timer_worker", url, str(runs)], env=env, cwd=cwd
    )
    wait_for(lambda: "worker started" in proc.output(), timeout=20)
    return proc


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_sigkill_during_the_scheduler_tick_loses_no_timer(
    tmp_path: Path, backend: str
) -> None:
    """1,000 timers due at one instant; the worker dies as its scheduler takes them."""
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'queue.db'}"
            if backend == "sqlite"
            else stack.enter_context(redis_queue_url())
        )
        queue = JobQueue.from_url(url)
        stack.callback(queue.close)
        runs = tmp_path / "runs.txt"
        due = datetime.now(UTC) + timedelta(seconds=4)
        for ticket_id in range(1, TIMERS + 1):
            queue.enqueue_reconcile(ticket_id, eta=due, lane=Lane.NORMAL)
        worker = _start(url, runs, tmp_path)
        try:
            # Kill the worker the moment its scheduler has taken the timers.
            deadline = time.monotonic() + 30
            while queue.scheduled() == TIMERS and time.monotonic() < deadline:
                time.sleep(0.001)
            assert queue.scheduled() < TIMERS, "the scheduler never took the timers"
        finally:
            worker.stop(sig=signal.SIGKILL)
        ran_before = len(_runs(runs))
        assert ran_before < TIMERS, "the kill came too late to test anything"
        restarted = _start(url, runs, tmp_path)
        try:
            wait_for(lambda: len(_runs(runs)) == TIMERS, timeout=60)
        except TimeoutError:
            missing = TIMERS - len(_runs(runs))
            raise AssertionError(
                f"{missing} of {TIMERS} timers never ran after the restart "
                f"({ran_before} ran before the kill; "
                f"{queue.depth()} ready, {queue.scheduled()} scheduled)"
            ) from None
        finally:
            restarted.stop()
        assert _runs(runs) == set(range(1, TIMERS + 1))
