"""A real worker process whose jobs only record that they ran (crash tests).

``python -m tests.timer_worker QUEUE_URL RUNS_FILE``: consumes both lanes with
the worker's own consumer, runner, watchdog and in-flight records
(sidecar.tasks.worker.run_worker); each reconcile appends ``<ticket id>`` as a
line to RUNS_FILE (O_APPEND: whole lines, whichever thread writes). The
handlers are the only thing not real: a crash test counts runs, not Zendesk
writes.
"""

from __future__ import annotations

import logging
import os
import sys
from types import SimpleNamespace
from typing import Any

from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import run_worker


def main() -> None:
    url, runs = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.WARNING)
    fd = os.open(runs, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def record(ticket_id: int, **hint: Any) -> None:
        os.write(fd, f"{ticket_id}\n".encode())

    config: Any = SimpleNamespace(zendesk_connected=True, retry_base_seconds=0.05)
    queue = JobQueue.from_url(url)
    print("worker started", flush=True)
    run_worker(
        config,
        queue,
        handlers=lambda: {
            "reconcile": record,
            "escalate": record,
            "refresh_org": record,
        },
        workers=4,
    )


if __name__ == "__main__":
    main()
