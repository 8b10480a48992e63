"""The worker side of the queue: run jobs, retries, dead letters, the lanes' consumers.

The queue (sidecar.tasks.queue) stores jobs and registers their Huey tasks;
this module runs them with the handlers the wiring passes in
(sidecar.commands.run builds them with sidecar.tasks.handler). Contract
(docs/decisions.md): a job's handler raises sidecar.errors, and the worker
obeys only the error's ``disposition`` (decided once, by the adapter's
``decipher``): RETRY (and any unexpected exception) is retried with bounded
exponential backoff, honouring ``retry_after``, then dead-lettered; DROP ends
the job with a log line; DEAD_LETTER is dead-lettered at once. An error that
proves a service refused our credentials also raises that service's health
flag (``zendesk_auth_failed`` makes /readyz answer 503).

Every worker process consumes two lanes: the normal queue with ``workers``
threads and the urgent queue (SEV 1/2 of entitled organizations: pages, their
markers, their timers) with threads of its own, so a page never waits for a
thread held by a slow Zendesk read.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from huey.api import Task
from huey.exceptions import RetryTask
from huey.signals import SIGNAL_INTERRUPTED

from sidecar.errors import Disposition, QueueUnavailable, RateLimited, Wait
from sidecar.metrics import BUDGET_WAITS, THROTTLED, count_job
from sidecar.queue.huey_inside import LanesConsumer, change_kwargs
from sidecar.tasks.jobs import (
    AUTH_FAILED_FLAG,
    BASE_DELAY_SECONDS,
    ESCALATE,
    JOBS,
    LEASED_JOBS,
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    SLACK_JOBS,
    FailedJob,
    Handler,
    Handlers,
    Lane,
    LazyHandlers,
    auth_failed_flag,
    escalation_lease,
    retry_delay,
    retry_policy,
)
from sidecar.tasks.outage import OutageFilter, OutageLog, is_storage_error

if TYPE_CHECKING:
    from sidecar.config import Config
    from sidecar.tasks.queue import JobQueue

# Re-exported: these lived here before sidecar.tasks.jobs existed.
__all__ = [
    "AUTH_FAILED_FLAG",
    "BASE_DELAY_SECONDS",
    "JOBS",
    "MAX_ATTEMPTS",
    "MAX_DELAY_SECONDS",
    "Handler",
    "Handlers",
    "Runner",
    "auth_failed_flag",
    "escalation_lease",
    "recover_escalations",
    "retry_delay",
    "run_worker",
    "watch_leases",
]

log = logging.getLogger("sidecar.worker")

# A running job's lease: renewed every HEARTBEAT_SECONDS, so a crashed worker's
# job is noticed this long after the crash at most.
RUNNING_LEASE_SECONDS = 20.0
HEARTBEAT_SECONDS = 5.0
# After a dead letter the escalation is tried again this much later.
DEAD_LETTER_HOLD_SECONDS = 30 * 60.0
# What a retried dead letter must not carry over: the failed run's attempt count.
_RUN_STATE = ("attempt", "first_failure")
# Threads of the urgent lane in each worker process (pages are rare; two let
# one page wait on a slow PagerDuty while another goes out).
URGENT_WORKERS = 2


class Outcome(enum.Enum):
    """How one attempt of a job ended."""

    DONE = "done"  # succeeded
    DROPPED = "dropped"  # nothing to do (the error's disposition was DROP)
    RETRY = "retry"  # failed; try again after ``delay``
    DEAD_LETTERED = "dead_lettered"  # recorded for an operator; not retried
    WAIT_FOR_BUDGET = "wait_for_budget"  # not run: back in the queue for ``delay``
    THROTTLED = "throttled"  # 429: try again after ``delay``; no attempt used


@dataclass(frozen=True)
class Attempt:
    """What one run of a job's handler came to."""

    outcome: Outcome
    delay: float = 0.0  # seconds, for RETRY and WAIT_FOR_BUDGET


DONE = Attempt(Outcome.DONE)
DROPPED = Attempt(Outcome.DROPPED)
DEAD_LETTERED = Attempt(Outcome.DEAD_LETTERED)
# How long 429s may go on before a job's attempts count again (then 8 attempts
# later it is dead-lettered, visible): an hour of rate limiting is an incident.
THROTTLE_PATIENCE_SECONDS = 3600.0


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


class Runner:
    """Run jobs with the handlers this process was given, built lazily once."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._handlers: LazyHandlers[Handlers] = LazyHandlers(
            lambda: RuntimeError("no job handlers in this process")
        )
        self._lock = threading.Lock()
        self.base_delay = BASE_DELAY_SECONDS
        self._auth_checked_at: dict[str, float] = {}
        self._running: set[str] = set()  # ids of the jobs this process runs now

    def use(
        self,
        factory: Callable[[], Handlers],
        *,
        base_delay: float = BASE_DELAY_SECONDS,
    ) -> None:
        """Build handlers with ``factory`` (called on the first job, once)."""
        self._handlers.use(factory)
        self.base_delay = base_delay

    def handlers(self) -> Handlers:
        """Return this process's handlers, building them on first use."""
        return self._handlers.get()

    def run(
        self,
        job: str,
        ticket_id: int,
        *,
        task: Task,
        lane: Lane = Lane.NORMAL,
        attempt: int,
        first_failure: str | None,
        hint: Mapping[str, Any] | None = None,
        work: Callable[[], None] | None = None,
    ) -> None:
        """Run one job; map the handler's errors to retry, drop or dead letter.

        ``work`` runs instead of this process's handler for ``job`` (the Slack
        jobs bring their own: sidecar.tasks.slack_jobs); the rules are the same.

        An escalate job holds its lease (the durable "escalation wanted"
        record) while it runs, renewed by a heartbeat; a retry keeps it until
        the retry is due; success or a drop ends it. So a job lost to a crash
        leaves a lease that lapses within seconds, and the watchdog re-enqueues.
        """
        context = {
            "job": job, "ticket_id": ticket_id, "job_id": task.id, "attempt": attempt,
            "lane": lane.value,
        }  # fmt: skip
        lease = escalation_lease(ticket_id) if job in LEASED_JOBS else None
        # Every other job is recorded as in flight while it runs, so a worker
        # killed mid-job has it enqueued again (sidecar.queue.inflight). A job
        # a worker took from the queue was recorded in the same write that took
        # it, and its record is dropped only after Huey put the job where it
        # goes next (sidecar.queue.huey_inside); one run another way (a test,
        # a direct call) is recorded here.
        taken = None if lease is not None else self._queue.inflight_key(task, lane)
        tracked = lease is None and taken is None and self._hold_inflight(task, lane)
        if taken is not None:
            with self._lock:
                self._running.add(taken)
        try:
            with _Heartbeat(self._queue, lease):
                result = self._attempt(
                    job,
                    ticket_id,
                    task,
                    attempt,
                    first_failure,
                    context,
                    hint or {},
                    work,
                )
        finally:
            if tracked:
                self._release_inflight(str(task.id))
            elif taken is not None:
                with self._lock:
                    self._running.discard(taken)
        if lease is not None:
            self._settle_lease(lease, result)
        count_job(job, result.outcome.value)  # sidecar_jobs_total{job, outcome}
        if result.outcome is Outcome.WAIT_FOR_BUDGET:
            self._wait_for_budget(task, ticket_id, result.delay, lane, context)
        elif result.outcome in (Outcome.RETRY, Outcome.THROTTLED):
            # Huey re-serializes this task object on retry; its kwargs carry our count.
            carried: dict[str, Any] = {"first_failure": first_failure or _now()}
            if result.outcome is Outcome.RETRY:
                carried["attempt"] = attempt + 1
            change_kwargs(task, put=carried)
            raise RetryTask(delay=result.delay)

    def _hold_inflight(self, task: Task, lane: Lane) -> bool:
        try:
            self._queue.hold_inflight(task, lane, seconds=RUNNING_LEASE_SECONDS)
        except QueueUnavailable as exc:
            # Run it anyway: the job matters more than its crash insurance.
            log.warning("could not record job %s in flight: %s", task.id, exc)
            return False
        with self._lock:
            self._running.add(str(task.id))
        return True

    def _release_inflight(self, job_id: str) -> None:
        with self._lock:
            self._running.discard(job_id)
        try:
            self._queue.release_inflight(job_id)
        except QueueUnavailable as exc:
            # Its record lapses; at worst the job runs once more (idempotent).
            log.warning("could not release in-flight job %s: %s", job_id, exc)

    def keep_inflight(self) -> None:
        """Renew the in-flight records of the jobs this process is running."""
        with self._lock:
            mine = set(self._running)
        # Every job this process took, whichever code runs it (Slack's too).
        running = sorted(mine | set(self._queue.held_inflight()))
        if running:
            self._queue.renew_inflight(running, seconds=RUNNING_LEASE_SECONDS)

    def _attempt(
        self,
        job: str,
        ticket_id: int,
        task: Task,
        attempt: int,
        first_failure: str | None,
        context: Mapping[str, Any],
        hint: Mapping[str, Any],
        work: Callable[[], None] | None = None,
    ) -> Attempt:
        """Run the handler once and say how it ended (dead letters are recorded here)."""
        try:
            if work is not None:
                work()
            else:
                self.handlers()[job](ticket_id, **hint)
        except Exception as exc:
            return self._decide(
                job, task, ticket_id, exc, attempt, first_failure, context
            )
        self._clear_auth_flags(job)
        return DONE

    def _decide(
        self,
        job: str,
        task: Task,
        ticket_id: int,
        exc: Exception,
        attempt: int,
        first_failure: str | None,
        context: Mapping[str, Any],
    ) -> Attempt:
        """What the error's disposition says: the one thing read (sidecar.errors).

        DROP ends the job; DEAD_LETTER records it for an operator (raising the
        service's flag when it proved our credentials refused); RETRY backs
        off, unless it is a wait: for our budget (no attempt spent, no thread
        held) or a 429 (no attempt spent for an hour of them). An error
        without a disposition (a bug, an unforeseen failure) is a RETRY.
        """
        disposition = getattr(exc, "disposition", Disposition.RETRY)
        wait = getattr(exc, "wait", None)
        retry_after = getattr(exc, "retry_after", None)
        if disposition is Disposition.DROP:
            log.info("nothing to do, dropping job: %s", exc, extra=context)
            return DROPPED
        if disposition is Disposition.DEAD_LETTER:
            # Retrying cannot fix a refused request or a bad setting: an operator must.
            if getattr(exc, "credentials_refused", False):
                service = str(getattr(exc, "service", "zendesk"))
                self._queue.set_flag(auth_failed_flag(service), _now())
            self._dead_letter(job, task, ticket_id, exc, attempt, first_failure)
            return DEAD_LETTERED
        if wait is Wait.BUDGET:
            pool = str(getattr(exc, "pool", "requests"))
            # The kind of work that waited (a backfill's job waits as "bulk").
            lane = getattr(exc, "lane", None) or context.get("lane", "normal")
            BUDGET_WAITS.labels(pool, lane).inc()
            return Attempt(Outcome.WAIT_FOR_BUDGET, retry_after or 1.0)
        if wait is Wait.THROTTLE:
            service = str(getattr(exc, "service", "zendesk"))
            THROTTLED.labels(service).inc()
            # How long: the upstream's Retry-After, else its own documented
            # backoff (PagerDuty: minutes), else the usual base delay.
            if isinstance(exc, RateLimited):
                retry_after = exc.delay(
                    throttled_for=_failing_for(first_failure), default=self.base_delay
                )
            if _patient(first_failure):
                # A 429 asks us to wait, not to give up: it uses no attempt, so a
                # rate-limit storm cannot dead-letter a page. Past an hour of
                # failing, attempts count again, so nothing retries forever.
                delay = min(max(retry_after or self.base_delay, 1.0), MAX_DELAY_SECONDS)
                # A delayed page is the operator's business; Zendesk's 429s are routine.
                log.log(
                    logging.WARNING if job == ESCALATE else logging.INFO,
                    "%s rate limited by %s, again in %.1f s",
                    job,
                    service,
                    delay,
                    extra={**context, "service": service, "delay": delay},
                )
                return Attempt(Outcome.THROTTLED, delay)
            if isinstance(exc, RateLimited):
                exc.retry_after = retry_after
        return self._retry(job, task, exc, attempt, first_failure, context)

    def _wait_for_budget(
        self,
        task: Task,
        ticket_id: int,
        delay: float,
        lane: Lane,
        context: Mapping[str, Any],
    ) -> None:
        """Put the job back in its lane for ``delay`` s (no attempt counted, no thread held)."""
        try:
            kept = self._queue.wait_for_budget(task, ticket_id, delay=delay, lane=lane)
        except QueueUnavailable as exc:
            # Cannot park it: retry as a failure would (bounded backoff).
            log.warning("could not park job waiting for budget: %s", exc, extra=context)
            raise RetryTask(delay=delay) from None
        log.debug(
            "waiting for Zendesk budget" if kept else "collapsed into a waiting job",
            extra={**context, "delay": round(delay, 2)},
        )

    def _settle_lease(self, lease: str, result: Attempt) -> None:
        try:
            if result.outcome in (Outcome.DONE, Outcome.DROPPED):
                self._queue.end_lease(lease)
            elif result.outcome is Outcome.DEAD_LETTERED:
                # A failed page is tried again after a while (visible meanwhile
                # in `sidecar jobs failed`), not on every event of the ticket.
                self._queue.renew_lease(lease, seconds=DEAD_LETTER_HOLD_SECONDS)
            else:  # a retry or a wait for budget: held until it is due
                self._queue.renew_lease(
                    lease, seconds=result.delay + RUNNING_LEASE_SECONDS
                )
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
    ) -> Attempt:
        """The backoff before the next attempt, or a dead letter when out of attempts."""
        ticket_id = int(context["ticket_id"])
        # An urgent job (a page, its marker, a SEV 1/2 due time) retries within
        # seconds, capped, with more attempts (sidecar.tasks.jobs.retry_policy).
        policy = retry_policy(Lane(context["lane"]), base=self.base_delay)
        if attempt >= policy.attempts:
            self._dead_letter(
                job, task, ticket_id, exc, attempt, first_failure or _now()
            )
            return DEAD_LETTERED
        retry_after = getattr(exc, "retry_after", None)
        delay = policy.delay(attempt, retry_after=retry_after)
        log.warning(
            "%s failed (%s), retrying in %.1f s",
            job,
            _describe(exc),
            delay,
            extra=context,
        )
        return Attempt(Outcome.RETRY, delay)

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
        services: tuple[str, ...] = ("zendesk",)
        if job == "escalate":
            services = ("zendesk", "pagerduty")
        elif job in SLACK_JOBS:
            services = ("zendesk", "slack")
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
        now = _now()
        # A job whose argument is a payload (a Slack modal submission, a thread
        # reply), not an id, is its payload: the dead letter keeps it, so
        # `sidecar jobs retry` can enqueue the same job again.
        args = list(task.args or ())
        keep = bool(args) and not isinstance(args[0], int)
        failed = FailedJob(
            job_id=task.id,
            task=job,
            ticket_id=ticket_id,
            error=_describe(exc),
            attempts=attempt,
            first_failure_at=first_failure or now,
            last_failure_at=now,
            args=args if keep else None,
            kwargs={k: v for k, v in (task.kwargs or {}).items() if k not in _RUN_STATE}
            if keep
            else None,
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


def serve_jobs(
    queue: JobQueue,
    handlers: Callable[[], Handlers],
    *,
    base_delay: float = BASE_DELAY_SECONDS,
) -> Runner:
    """Run the jobs this process takes from ``queue`` with the handlers ``handlers()`` builds."""
    runner = Runner(queue)
    runner.use(handlers, base_delay=base_delay)
    queue.run_jobs_with(runner)
    return runner


def run_worker(
    config: Config,
    queue: JobQueue,
    *,
    handlers: Callable[[], Handlers],
    workers: int = 4,
    urgent_workers: int = URGENT_WORKERS,
    **consumer_options: Any,
) -> None:
    """Consume both lanes in this process until SIGINT/SIGTERM.

    ``handlers`` builds the job handlers (the wiring passes
    sidecar.tasks.handler.build_handler); it runs once, before any job.
    """
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
    # While the queue's storage is down: one line with backoff, not a traceback
    # per poll (sidecar.tasks.outage); at start, wait for it the same way.
    outage = OutageLog(queue.description)
    for handler in logging.getLogger().handlers:
        handler.addFilter(OutageFilter(outage))
    if not wait_for_queue(queue, outage):
        return  # stopped while waiting
    runner = serve_jobs(queue, handlers, base_delay=config.retry_base_seconds)
    # Build the handlers now: a missing field id or a bad policy file stops the
    # worker at once with its reason, instead of failing every job later.
    runner.handlers()
    for huey in (queue.huey, queue.urgent_huey):
        _requeue_interrupted(huey)

    watchdog = threading.Thread(
        target=watch_leases,
        args=(queue,),
        kwargs={"runner": runner, "outage": outage},
        name="lease-watchdog",
        daemon=True,
    )
    watchdog.start()
    options: dict[str, Any] = {
        "workers": workers,
        "worker_type": "thread",
        "periodic": True,  # the minute sweep, hourly pruning of SQLite dedup claims
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
    # The urgent lane: its own threads and scheduler (its retries and timers),
    # no periodic jobs (the normal lane runs those once per process).
    urgent = queue.urgent_huey.create_consumer(
        **{**options, "workers": max(1, urgent_workers), "periodic": False}
    )
    log.info(
        "worker started",
        extra={
            "queue": queue.description,
            "workers": options["workers"],
            "urgent_workers": max(1, urgent_workers),
        },
    )
    LanesConsumer(queue.huey, others=[urgent], **options).run()


def _requeue_interrupted(huey: Any) -> None:
    def requeue(signal: str, task: Task) -> None:
        # A hard stop abandoned this job mid-run; jobs are idempotent, run it again.
        huey.enqueue(task)

    huey.signal(SIGNAL_INTERRUPTED)(requeue)


def recover_escalations(queue: JobQueue) -> int:
    """Enqueue again every escalation whose job's lease lapsed; return how many.

    A lapsed lease whose job still waits in the queue (a backlog, not a loss)
    is renewed instead: only a job no longer in the queue, and no longer
    renewed by a running worker, is lost.
    """
    recovered = 0
    # A lease whose holder, a process of this host, is gone (killed,
    # restarted): at once, unless its job waits in the queue or for a retry
    # (then the lease, ours now, is kept as any waiting job's).
    orphaned = queue.take_orphaned_escalations()
    queued = queue.waiting_escalations(scheduled=True) if orphaned else set()
    for ticket_id in orphaned:
        if ticket_id in queued:
            continue
        queue.enqueue_escalate(ticket_id)
        recovered += 1
        log.warning(
            "escalation job of a stopped worker: enqueued again",
            extra={"ticket_id": ticket_id},
        )
    lapsed = queue.lapsed_escalations()
    waiting = queue.waiting_escalations() if lapsed else set()
    for ticket_id in lapsed:
        if ticket_id in waiting:
            queue.renew_lease(
                escalation_lease(ticket_id), seconds=RUNNING_LEASE_SECONDS
            )
            continue
        # submit takes the lease atomically: of several watchdogs, one enqueues.
        if queue.submit_escalate(ticket_id):
            recovered += 1
            log.warning(
                "escalation job lost (worker crashed?): enqueued again",
                extra={"ticket_id": ticket_id},
            )
    return recovered


def watch_leases(
    queue: JobQueue,
    *,
    runner: Runner | None = None,
    stop: threading.Event | None = None,
    outage: OutageLog | None = None,
) -> None:
    """Every HEARTBEAT_SECONDS: renew our running jobs, recover dead workers' (forever)."""
    stop = stop or threading.Event()
    outage = outage or OutageLog(queue.description)
    while True:
        try:
            if runner is not None:
                runner.keep_inflight()
            recover_escalations(queue)
            recovered = queue.recover_inflight()
            outage.recovered()  # the queue answered
            if recovered:
                log.warning("%d job(s) of a stopped worker enqueued again", recovered)
        except Exception as exc:  # the queue may be briefly down; try again
            if is_storage_error(exc):
                outage.failed(exc)
            else:
                log.warning("lease watchdog: %s", _describe(exc))
        if stop.wait(HEARTBEAT_SECONDS):
            return


def wait_for_queue(queue: JobQueue, outage: OutageLog) -> bool:
    """Wait, with backoff, until the queue answers; False if SIGINT/SIGTERM came first.

    A worker started before its Redis (compose, Kubernetes) waits for it with
    one line per attempt instead of crashing into a restart loop.
    """
    stop = threading.Event()
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    except ValueError:  # not the main thread (tests): no signals to catch
        pass
    try:
        while True:
            try:
                queue.ping()
            except QueueUnavailable as exc:
                outage.failed(exc)
                if stop.wait(outage.interval):
                    return False
                continue
            outage.recovered()
            return True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for_stop() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    while not stop.wait(1.0):
        pass


def _describe(exc: BaseException) -> str:
    # Class and message only: our errors never carry credentials (errors.py).
    return f"{exc.__class__.__name__}: {exc}"[:500]


def _patient(first_failure: str | None) -> bool:
    """True while a job has been failing for less than THROTTLE_PATIENCE_SECONDS."""
    if first_failure is None:
        return True
    try:
        since = datetime.fromisoformat(first_failure)
    except ValueError:
        return False
    return (datetime.now(UTC) - since).total_seconds() < THROTTLE_PATIENCE_SECONDS


def _failing_for(first_failure: str | None) -> float:
    """Seconds since the job's first failure (0 for its first)."""
    if first_failure is None:
        return 0.0
    try:
        since = datetime.fromisoformat(first_failure)
    except ValueError:
        return 0.0
    return max(0.0, (datetime.now(UTC) - since).total_seconds())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
