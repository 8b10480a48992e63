"""The worker side of the queue: the reconcile and escalate tasks, retries, dead letters.

Two jobs exist, both keyed by ticket id: ``reconcile`` (read, decide, write the
SLA difference) and ``escalate`` (page on-call or resolve the page, then record
it on the ticket). Contract (docs/decisions.md): a job's handler raises sidecar.errors. Transient (and
any unexpected exception) is retried with bounded exponential backoff, honouring
``retry_after``, then dead-lettered; NotFound is dropped with a log line; other
Rejected errors are dead-lettered at once, and AuthFailed also sets the
``zendesk_auth_failed`` flag that makes /readyz answer 503.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from huey import crontab
from huey.api import Task, TaskWrapper
from huey.exceptions import RetryTask
from huey.signals import SIGNAL_INTERRUPTED

from sidecar.errors import (
    AuthFailed,
    ConfigError,
    NotFound,
    QueueUnavailable,
    Rejected,
    UpstreamError,
)

if TYPE_CHECKING:
    from sidecar.config import Config
    from sidecar.tasks.queue import JobQueue

log = logging.getLogger("sidecar.worker")

Handler = Callable[[int], None]
# job name ("reconcile", "escalate", "refresh_org", "sweep") -> handler of one id
Handlers = Mapping[str, Handler]
JOBS = ("reconcile", "escalate", "refresh_org")
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 900.0
MAX_ATTEMPTS = 8
AUTH_FAILED_FLAG = "zendesk_auth_failed"


def retry_delay(
    attempt: int, *, retry_after: float | None = None, base: float = BASE_DELAY_SECONDS
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 5, 10, 20 … 900."""
    delay = min(base * 2 ** (attempt - 1), MAX_DELAY_SECONDS)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_DELAY_SECONDS))
    return delay


@dataclass
class Tasks:
    """The Huey tasks registered on one queue."""

    reconcile: TaskWrapper
    escalate: TaskWrapper
    refresh_org: TaskWrapper
    sweep: TaskWrapper
    prune_claims: TaskWrapper
    runner: Runner

    def by_name(self, name: str) -> TaskWrapper:
        """Return the job task called ``name`` ("reconcile" or "escalate")."""
        if name not in JOBS:
            raise KeyError(name)
        task: TaskWrapper = getattr(self, name)
        return task


class Runner:
    """Run jobs with the handlers this process was given, built lazily once."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._factory: Callable[[], Handlers] | None = None
        self._handlers: Handlers | None = None
        self._lock = threading.Lock()
        self.base_delay = BASE_DELAY_SECONDS
        self._auth_checked_at = 0.0

    def use(
        self,
        factory: Callable[[], Handlers],
        *,
        base_delay: float = BASE_DELAY_SECONDS,
    ) -> None:
        """Build handlers with ``factory`` (called on the first job, once)."""
        with self._lock:
            self._factory, self._handlers = factory, None
            self.base_delay = base_delay

    def handlers(self) -> Handlers:
        """Return this process's handlers, building them on first use."""
        with self._lock:
            if self._handlers is None:
                if self._factory is None:
                    raise RuntimeError("no job handlers in this process")
                self._handlers = self._factory()
            return self._handlers

    def run(
        self,
        job: str,
        ticket_id: int,
        *,
        task: Task,
        attempt: int,
        first_failure: str | None,
    ) -> None:
        """Run one job; map the handler's errors to retry or dead letter."""
        context = {
            "job": job, "ticket_id": ticket_id, "job_id": task.id, "attempt": attempt
        }  # fmt: skip
        try:
            self.handlers()[job](ticket_id)
        except NotFound as exc:
            log.info("ticket gone, dropping job: %s", exc, extra=context)
        except (Rejected, ConfigError) as exc:
            # Retrying cannot fix a refused request or a bad setting: an operator must.
            if isinstance(exc, AuthFailed) and getattr(exc, "service", "") == "zendesk":
                self._queue.set_flag(AUTH_FAILED_FLAG, _now())
            self._dead_letter(job, task, ticket_id, exc, attempt, first_failure)
        except Exception as exc:
            first_failure = first_failure or _now()
            if attempt >= MAX_ATTEMPTS:
                self._dead_letter(job, task, ticket_id, exc, attempt, first_failure)
                return
            retry_after = exc.retry_after if isinstance(exc, UpstreamError) else None
            delay = retry_delay(attempt, retry_after=retry_after, base=self.base_delay)
            log.warning(
                "%s failed (%s), retrying in %.1f s",
                job,
                _describe(exc),
                delay,
                extra=context,
            )
            # Huey re-serializes this task object on retry; its kwargs carry our count.
            task.kwargs["attempt"] = attempt + 1
            task.kwargs["first_failure"] = first_failure
            raise RetryTask(delay=delay) from exc
        else:
            self._clear_auth_flag()

    def sweep(self, now: datetime) -> None:
        """Run this minute's sweep, unless another worker process already does."""
        try:
            handler = self.handlers().get("sweep")
            # One sweep a minute across all workers: the first to claim the minute runs it.
            if handler is None or not self._queue.claim(f"sweep:{now:%Y-%m-%dT%H:%M}"):
                return
            handler(0)
        except Exception as exc:
            # The next minute's sweep starts from the same cursor; nothing is lost.
            log.warning("sweep failed (%s); next run retries", _describe(exc))

    def _clear_auth_flag(self) -> None:
        # A job that reached Zendesk proves the credentials work again (an admin
        # rotated the token): /readyz turns green. Checked at most every 10 s.
        now = time.monotonic()
        if now - self._auth_checked_at < 10.0:
            return
        self._auth_checked_at = now
        if self._queue.get_flag(AUTH_FAILED_FLAG) is not None:
            self._queue.set_flag(AUTH_FAILED_FLAG, None)
            log.info("zendesk credentials work again: cleared %s", AUTH_FAILED_FLAG)

    def _dead_letter(
        self,
        job: str,
        task: Task,
        ticket_id: int,
        exc: BaseException,
        attempt: int,
        first_failure: str | None,
    ) -> None:
        from sidecar.tasks.queue import FailedJob

        now = _now()
        failed = FailedJob(
            job_id=task.id,
            task=job,
            ticket_id=ticket_id,
            error=_describe(exc),
            attempts=attempt,
            first_failure_at=first_failure or now,
            last_failure_at=now,
        )
        self._queue.record_failed(failed)
        log.error(
            "%s dead-lettered: %s",
            job,
            failed.error,
            extra={
                "job": job, "ticket_id": ticket_id, "job_id": task.id, "attempt": attempt
            },
        )  # fmt: skip


def register_tasks(queue: JobQueue) -> Tasks:
    """Register the reconcile, escalate and claim-pruning tasks on the queue's Huey."""
    runner = Runner(queue)
    huey = queue.huey

    @huey.task(context=True, name="reconcile")
    def reconcile(
        ticket_id: int,
        task: Task,
        attempt: int = 1,
        first_failure: str | None = None,
        wake: str | None = None,
    ) -> None:
        if wake is not None and attempt == 1:
            # A timer fired: free its claim first, so that if this run finds
            # the moment not yet reached (clock skew) it can set the timer again.
            try:
                queue.release(wake)
            except QueueUnavailable as exc:
                log.warning("could not free timer claim %s: %s", wake, exc)
        runner.run(
            "reconcile",
            ticket_id,
            task=task,
            attempt=attempt,
            first_failure=first_failure,
        )

    @huey.task(context=True, name="escalate")
    def escalate(
        ticket_id: int,
        task: Task,
        attempt: int = 1,
        first_failure: str | None = None,
    ) -> None:
        runner.run(
            "escalate",
            ticket_id,
            task=task,
            attempt=attempt,
            first_failure=first_failure,
        )

    @huey.task(context=True, name="refresh_org")
    def refresh_org(
        org_id: int,
        task: Task,
        attempt: int = 1,
        first_failure: str | None = None,
    ) -> None:
        runner.run(
            "refresh_org",
            org_id,
            task=task,
            attempt=attempt,
            first_failure=first_failure,
        )

    @huey.periodic_task(crontab(minute="*"), name="sweep")
    def sweep() -> None:
        runner.sweep(datetime.now(UTC))

    @huey.periodic_task(crontab(minute="17"), name="prune_claims")
    def prune_claims() -> None:
        removed = queue.prune_claims()
        if removed:
            log.info("pruned %d old webhook dedup claims", removed)

    return Tasks(
        reconcile=reconcile,
        escalate=escalate,
        refresh_org=refresh_org,
        sweep=sweep,
        prune_claims=prune_claims,
        runner=runner,
    )


def run_worker(
    config: Config, queue: JobQueue, *, workers: int = 4, **consumer_options: Any
) -> None:
    """Run the Huey consumer in this process until SIGINT/SIGTERM."""
    from sidecar.tasks.handler import build_handler

    if not config.zendesk_connected:
        # Without credentials every job would fail; keep them queued instead, so
        # they run as soon as the worker is started with credentials.
        log.warning(
            "not connected to Zendesk (set SIDECAR_ZENDESK_SUBDOMAIN and "
            "SIDECAR_ZENDESK_EMAIL + SIDECAR_ZENDESK_API_TOKEN, or "
            "SIDECAR_ZENDESK_OAUTH_TOKEN): jobs stay queued, none is run",
            extra={"queue": queue.description},
        )
        _wait_for_stop()
        return
    queue.tasks.runner.use(
        lambda: build_handler(config, queue=queue),
        base_delay=config.retry_base_seconds,
    )
    # Build the handlers now: a missing field id or a bad policy file stops the
    # worker at once with its reason, instead of failing every job later.
    queue.tasks.runner.handlers()
    huey = queue.huey

    @huey.signal(SIGNAL_INTERRUPTED)
    def requeue(signal: str, task: Task) -> None:
        # A hard stop abandoned this job mid-run; reconcile is idempotent, run it again.
        huey.enqueue(task)

    options: dict[str, Any] = {
        "workers": workers,
        "worker_type": "thread",
        "periodic": True,  # hourly pruning of SQLite dedup claims
        "initial_delay": 0.01,
        "backoff": 1.5,
        # An idle SQLite poller notices a job (a page after a quiet spell) within
        # 100 ms; the poll is one cheap query. Redis blocks on BRPOP instead.
        "max_delay": 0.1,
        "scheduler_interval": 1,
        "graceful_signal": "TERM",  # SIGTERM (deploys) lets running jobs finish
        "shutdown_timeout": 25.0,
    }
    options.update(consumer_options)
    log.info(
        "worker started",
        extra={"queue": queue.description, "workers": options["workers"]},
    )
    queue.huey.create_consumer(**options).run()


def _wait_for_stop() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    while not stop.wait(1.0):
        pass


def _describe(exc: BaseException) -> str:
    # Class and message only: our errors never carry credentials (errors.py).
    return f"{exc.__class__.__name__}: {exc}"[:500]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
