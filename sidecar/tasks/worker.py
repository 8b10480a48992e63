"""The worker side of the queue: the reconcile and escalate tasks, retries, dead letters.

Two jobs exist, both keyed by ticket id: ``reconcile`` (read, decide, write the
SLA difference) and ``escalate`` (page on-call or resolve the page, then record
it on the ticket). Contract (docs/decisions.md): a job's handler raises sidecar.errors, and the
worker obeys only the error's ``disposition`` (decided once, by the adapter's
``decipher``): RETRY (and any unexpected exception) is retried with bounded
exponential backoff, honouring ``retry_after``, then dead-lettered; DROP ends
the job with a log line; DEAD_LETTER is dead-lettered at once. An error that
proves a service refused our credentials also raises that service's health
flag (``zendesk_auth_failed`` makes /readyz answer 503).
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
    BudgetWait,
    ConfigError,
    Disposition,
    QueueUnavailable,
    UpstreamError,
)
from sidecar.metrics import BUDGET_WAITS

if TYPE_CHECKING:
    from sidecar.config import Config
    from sidecar.tasks.queue import JobQueue

log = logging.getLogger("sidecar.worker")

# A handler takes the job's id; a reconcile may also get the webhook's hint
# (``actor_id``, ``version``: sidecar.tasks.memo.Hint) as keywords.
Handler = Callable[..., None]
# job name ("reconcile", "escalate", "refresh_org", "sweep") -> handler of one id
Handlers = Mapping[str, Handler]
JOBS = ("reconcile", "escalate", "refresh_org")
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 900.0
MAX_ATTEMPTS = 8


def auth_failed_flag(service: str) -> str:
    """Name the flag raised while ``service`` refuses our credentials."""
    return f"{service}_auth_failed"


AUTH_FAILED_FLAG = auth_failed_flag("zendesk")  # /readyz answers 503 while it is up

# Jobs that hold a lease in the queue store while wanted (see Runner.run).
LEASED_JOBS = frozenset({"escalate"})
# A running job's lease: renewed every HEARTBEAT_SECONDS, so a crashed worker's
# job is noticed this long after the crash at most.
RUNNING_LEASE_SECONDS = 20.0
HEARTBEAT_SECONDS = 5.0
# After a dead letter the escalation is tried again this much later.
DEAD_LETTER_HOLD_SECONDS = 30 * 60.0
DEAD_LETTERED = -1.0
WAITED = -2.0  # put back in the queue to wait for Zendesk budget


def escalation_lease(ticket_id: int) -> str:
    """Name the lease of a ticket's escalation (page or resolve)."""
    return f"escalate:{int(ticket_id)}"


class _Heartbeat:
    """Renew a lease every HEARTBEAT_SECONDS while a job runs (no-op without one)."""

    def __init__(self, queue: JobQueue, lease: str | None) -> None:
        self._queue = queue
        self._lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if self._lease is not None:
            self._beat()
            self._thread = threading.Thread(
                target=self._loop, name=f"lease-{self._lease}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._beat()

    def _beat(self) -> None:
        assert self._lease is not None
        try:
            self._queue.renew_lease(self._lease, seconds=RUNNING_LEASE_SECONDS)
        except QueueUnavailable as exc:
            log.warning("could not renew lease %s: %s", self._lease, exc)


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
        self._auth_checked_at: dict[str, float] = {}

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
        hint: Mapping[str, Any] | None = None,
    ) -> None:
        """Run one job; map the handler's errors to retry, drop or dead letter.

        An escalate job holds its lease (the durable "escalation wanted"
        record) while it runs, renewed by a heartbeat; a retry keeps it until
        the retry is due; success or a drop ends it. So a job lost to a crash
        leaves a lease that lapses within seconds, and the watchdog re-enqueues.
        """
        context = {
            "job": job, "ticket_id": ticket_id, "job_id": task.id, "attempt": attempt
        }  # fmt: skip
        lease = escalation_lease(ticket_id) if job in LEASED_JOBS else None
        with _Heartbeat(self._queue, lease):
            delay = self._attempt(
                job, ticket_id, task, attempt, first_failure, context, hint or {}
            )
        if delay is not None and delay < 0 and delay != DEAD_LETTERED:
            waited = -delay - 2.0
            if lease is not None:
                self._settle_lease(lease, waited)
            self._wait_for_budget(job, task, ticket_id, waited, context)
            return
        if lease is not None:
            self._settle_lease(lease, delay)
        if delay is not None and delay > 0:
            # Huey re-serializes this task object on retry; its kwargs carry our count.
            task.kwargs["attempt"] = attempt + 1
            task.kwargs["first_failure"] = first_failure or _now()
            raise RetryTask(delay=delay)

    def _attempt(
        self,
        job: str,
        ticket_id: int,
        task: Task,
        attempt: int,
        first_failure: str | None,
        context: Mapping[str, Any],
        hint: Mapping[str, Any],
    ) -> float | None:
        """Run the handler once: None when done, -1 when dead-lettered, else the retry delay.

        A wait for budget is returned as ``-2 - seconds`` (not a failure).
        """
        try:
            self.handlers()[job](ticket_id, **hint)
        except BudgetWait as exc:
            BUDGET_WAITS.labels("updates" if "updates" in str(exc) else "requests").inc()
            return WAITED - (exc.retry_after or 1.0)
        except UpstreamError as exc:
            if exc.disposition is Disposition.DROP:
                log.info("nothing to do, dropping job: %s", exc, extra=context)
                return None
            if exc.disposition is Disposition.RETRY:
                return self._retry(job, task, exc, attempt, first_failure, context)
            # Retrying cannot fix a refused request: an operator must.
            if exc.credentials_refused:
                self._queue.set_flag(auth_failed_flag(exc.service), _now())
            self._dead_letter(job, task, ticket_id, exc, attempt, first_failure)
            return DEAD_LETTERED
        except ConfigError as exc:
            # A bad setting: retrying cannot fix it either.
            self._dead_letter(job, task, ticket_id, exc, attempt, first_failure)
            return DEAD_LETTERED
        except Exception as exc:  # a bug or an unforeseen failure: bounded retries
            return self._retry(job, task, exc, attempt, first_failure, context)
        self._clear_auth_flags(job)
        return None

    def _wait_for_budget(
        self,
        job: str,
        task: Task,
        ticket_id: int,
        delay: float,
        context: Mapping[str, Any],
    ) -> None:
        """Put the job back in the queue for ``delay`` s (no attempt counted, no thread held)."""
        try:
            kept = self._queue.wait_for_budget(task, ticket_id, delay=delay)
        except QueueUnavailable as exc:
            # Cannot park it: retry as a failure would (bounded backoff).
            log.warning("could not park job waiting for budget: %s", exc, extra=context)
            raise RetryTask(delay=delay) from None
        log.debug(
            "waiting for Zendesk budget" if kept else "collapsed into a waiting job",
            extra={**context, "delay": round(delay, 2)},
        )

    def _settle_lease(self, lease: str, delay: float | None) -> None:
        try:
            if delay is None:
                self._queue.end_lease(lease)
            elif delay == DEAD_LETTERED:
                # A failed page is tried again after a while (visible meanwhile
                # in `sidecar jobs failed`), not on every event of the ticket.
                self._queue.renew_lease(lease, seconds=DEAD_LETTER_HOLD_SECONDS)
            else:
                self._queue.renew_lease(lease, seconds=delay + RUNNING_LEASE_SECONDS)
        except QueueUnavailable as exc:
            # The lease lapses by itself; at worst the escalation runs once more.
            log.warning("could not settle lease %s: %s", lease, exc)

    def _retry(
        self,
        job: str,
        task: Task,
        exc: Exception,
        attempt: int,
        first_failure: str | None,
        context: Mapping[str, Any],
    ) -> float:
        """Return the backoff before the next attempt, or dead-letter when out of attempts."""
        ticket_id = int(context["ticket_id"])
        if attempt >= MAX_ATTEMPTS:
            self._dead_letter(
                job, task, ticket_id, exc, attempt, first_failure or _now()
            )
            return DEAD_LETTERED
        retry_after = exc.retry_after if isinstance(exc, UpstreamError) else None
        delay = retry_delay(attempt, retry_after=retry_after, base=self.base_delay)
        log.warning(
            "%s failed (%s), retrying in %.1f s",
            job,
            _describe(exc),
            delay,
            extra=context,
        )
        return delay

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

    def _clear_auth_flags(self, job: str) -> None:
        # A job that succeeded proves the credentials it used work again (an
        # admin rotated the token): /readyz turns green. Every job reads
        # Zendesk; only escalate reaches PagerDuty. Checked at most every 10 s.
        now = time.monotonic()
        services = ("zendesk", "pagerduty") if job == "escalate" else ("zendesk",)
        for service in services:
            if now - self._auth_checked_at.get(service, 0.0) < 10.0:
                continue
            self._auth_checked_at[service] = now
            flag = auth_failed_flag(service)
            if self._queue.get_flag(flag) is not None:
                self._queue.set_flag(flag, None)
                log.info("%s credentials work again: cleared %s", service, flag)

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
        actor_id: int | None = None,
        version: str | None = None,
    ) -> None:
        hint = {
            k: v for k, v in (("actor_id", actor_id), ("version", version)) if v
        }
        if not hint:
            # This job reads the ticket from now on: later changes need a job
            # of their own (only a job without a skip hint holds the claim).
            try:
                queue.start_reconcile(ticket_id)
            except QueueUnavailable as exc:
                log.warning("could not free the pending claim: %s", exc)
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
            hint=hint,
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

    watchdog = threading.Thread(
        target=watch_leases, args=(queue,), name="lease-watchdog", daemon=True
    )
    watchdog.start()
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


def recover_escalations(queue: JobQueue) -> int:
    """Enqueue again every escalation whose job's lease lapsed; return how many."""
    recovered = 0
    for ticket_id in queue.lapsed_escalations():
        # submit takes the lease atomically: of several watchdogs, one enqueues.
        if queue.submit_escalate(ticket_id):
            recovered += 1
            log.warning(
                "escalation job lost (worker crashed?): enqueued again",
                extra={"ticket_id": ticket_id},
            )
    return recovered


def watch_leases(queue: JobQueue, *, stop: threading.Event | None = None) -> None:
    """Every HEARTBEAT_SECONDS, recover escalations whose job was lost (forever)."""
    stop = stop or threading.Event()
    while True:
        try:
            recover_escalations(queue)
        except Exception as exc:  # the queue may be briefly down; try again
            log.warning("lease watchdog: %s", _describe(exc))
        if stop.wait(HEARTBEAT_SECONDS):
            return


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
