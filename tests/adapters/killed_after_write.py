"""A child process for tests/adapters/test_sync_write.py: killed right after its first write.

Run as ``python -m tests.adapters.killed_after_write URL TICKET``. It opens the
queue at URL with its store wrapped (``JobQueue`` takes any store through the
``Backend`` it is given): the first write that changes claims or jobs (``claim``
or ``take``) goes through, then the process says so on stdout and waits for the
SIGKILL the test sends. What is left in the store is what a worker killed at
that instant would leave.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Any

from sidecar.queue.backend import open_backend
from sidecar.tasks.queue import JobQueue

WRITES = frozenset({"claim", "take"})


class KilledAfterFirstWrite:
    """The store, whose first claim or take is this process's last act."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name not in WRITES:
            return found

        def write_then_wait(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            print(f"wrote {name}", flush=True)
            time.sleep(60)  # the test kills us here
            return result

        return write_then_wait


def main(url: str, ticket_id: int) -> None:
    backend = open_backend(url)
    queue = JobQueue(replace(backend, store=KilledAfterFirstWrite(backend.store)))
    queue.slack.schedule_sync(ticket_id)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
