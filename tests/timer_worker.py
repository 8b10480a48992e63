"""A real worker process whose jobs only record that they ran (crash tests).

``python -m tests.timer_worker QUEUE_URL RUNS_FILE [HOLD_FILE]``: consumes both
lanes with the worker's own consumer, runner, watchdog and in-flight records
(sidecar.tasks.worker.run_worker). Each reconcile appends ``<ticket id>`` as a
line to RUNS_FILE (O_APPEND: whole lines, whichever thread writes). With
HOLD_FILE, every job kind (Slack's too) appends ``start <kind>`` and, while
HOLD_FILE exists, waits there (the moment a test kills the worker), then
appends ``done <kind>``. The handlers are the only thing not real: a crash test
counts runs, not Zendesk writes.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import run_worker


def main() -> None:
    url, runs = sys.argv[1], sys.argv[2]
    hold = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    logging.basicConfig(level=logging.WARNING)
    fd = os.open(runs, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def held(kind: str) -> Callable[..., None]:
        def run(*_: Any, **__: Any) -> None:
            os.write(fd, f"start {kind}\n".encode())
            while hold is not None and hold.exists():
                time.sleep(0.05)
            os.write(fd, f"done {kind}\n".encode())

        return run

    def record(ticket_id: int, **hint: Any) -> None:
        os.write(fd, f"{ticket_id}\n".encode())

    config: Any = SimpleNamespace(zendesk_connected=True, retry_base_seconds=0.05)
    queue = JobQueue.from_url(url)
    jobs: dict[str, Callable[..., None]] = {
        "reconcile": record,
        "escalate": record,
        "refresh_org": record,
    }
    if hold is not None:
        jobs = {kind: held(kind) for kind in jobs}
        slack = SimpleNamespace(
            create_ticket=held("slack_create"),
            add_comment=held("slack_comment"),
            follow=held("slack_sync"),
        )
        queue.slack.use(lambda: slack)
    print("worker started", flush=True)
    run_worker(config, queue, handlers=lambda: jobs, workers=6)


if __name__ == "__main__":
    main()
