"""Jobs registered beside the reconcile (Slack's, PagerDuty's): their handlers and the one runner.

A family registers its Huey tasks in every process (web and worker alike, so
the web can store them), but only a worker is given the handlers that do the
work. Every job of a family runs on the worker's one runner
(sidecar.tasks.worker.Runner), as reconcile and escalate do: the error's
disposition decides (retry, wait for budget, drop, dead-letter), a killed
worker's job comes back from its in-flight record, and each attempt counts in
``sidecar_jobs_total``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from huey.api import Task

from sidecar.tasks.jobs import Lane, LazyHandlers

if TYPE_CHECKING:
    from sidecar.tasks.queue import Executor, JobQueue

H = TypeVar("H")


class JobFamily(Generic[H]):
    """The handlers this process runs a family's jobs with, and the runner they run on."""

    def __init__(self, queue: JobQueue, *, missing: Callable[[], Exception]) -> None:
        self._queue = queue
        self._handlers: LazyHandlers[H] = LazyHandlers(missing)
        self.base_delay = 5.0
        self._runner: Executor | None = None

    def use(self, factory: Callable[[], H], *, base_delay: float = 5.0) -> None:
        """Run jobs with the handlers ``factory`` builds (on the first job, once)."""
        self._handlers.use(factory)
        self.base_delay = base_delay
        self._runner = None

    def handlers(self) -> H:
        """This process's handlers; the family's ``missing`` error where none were given."""
        return self._handlers.get()

    def run(
        self,
        name: str,
        work: Callable[[H], None],
        *,
        task: Task,
        attempt: int,
        first_failure: str | None,
        ticket_id: int = 0,
    ) -> None:
        """Run one job on the worker's runner: its retries, budget waits, dead letters."""
        runner = self._queue.executor() or self._own_runner()
        runner.run(
            name,
            ticket_id,
            task=task,
            lane=Lane.NORMAL,
            attempt=attempt,
            first_failure=first_failure,
            hint={},
            work=lambda: work(self.handlers()),
        )

    def _own_runner(self) -> Executor:
        """A runner for a process that runs the jobs without the worker's (tests, tools)."""
        if self._runner is None:
            # Imported here: the worker module imports the queue, which imports the families.
            from sidecar.tasks.worker import Runner

            runner = Runner(self._queue)
            runner.base_delay = self.base_delay
            self._runner = runner
        return self._runner
