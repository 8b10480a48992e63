"""The durable job queue the application uses: a façade over the queue layer.

``JobQueue`` registers the jobs on both lanes' Huey queues (their bodies call
the worker's runner) and says what each submit, timer, lease or dead letter
means; the storage behind it (claims, leases, in-flight records, the memo,
flags, dead letters, the ready clock) is the store port of sidecar.queue, on
SQLite (embedded default) or Redis (scale-out).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

import redis
from huey import crontab
from huey.api import Huey, Task, TaskWrapper

from sidecar.errors import QueueUnavailable, SidecarError
from sidecar.queue.backend import Backend, open_backend
from sidecar.queue.huey_inside import (
    change_kwargs,
    due_at,
    ready_job,
    register_periodic,
    register_task,
    scheduled_job,
)
from sidecar.queue.inflight import InflightStore, owner_gone, this_owner
from sidecar.queue.store import (
    CLAIM_TTL_SECONDS,
    DEAD_LETTER_LIMIT,
    REPLAY_CLAIM_SECONDS,
    Pending,
    QueueStore,
    Taken,
    flag_ttl,
)
from sidecar.tasks import oncall_jobs, slack_jobs
from sidecar.tasks.jobs import (
    ESCALATE,
    JOBS,
    RECONCILE,
    RECORD_PRIORITY,
    REFRESH_ORG,
    SWEEP,
    TASK_MODULE,
    TIMER_PRIORITY,
    FailedJob,
    Lane,
    escalation_lease,
    escalation_ticket,
    hint_of,
)
from sidecar.tasks.memo import Hint
from sidecar.zendesk.budget import Budget, Shares

__all__ = [
    "CLAIM_TTL_SECONDS",
    "FailedJob",
    "JobQueue",
    "QueuedJob",
    "Taken",
]  # FailedJob lives in sidecar.tasks.jobs; Taken and the TTL in sidecar.queue.store

# An escalate job's lease from its submit on, as long as a running job's. A job
# still waiting in the queue when it lapses has it renewed by the watchdog
# (sidecar.tasks.worker.recover_escalations); one that a worker took off the
# queue and lost before its heartbeat began lets it lapse within these seconds.
ENQUEUE_LEASE_SECONDS = 20.0
# A taken job's in-flight record lapses this long after its last renewal (the
# worker's watchdog renews it every few seconds: sidecar.tasks.worker).
INFLIGHT_LEASE_SECONDS = 20.0
# Jobs taken without an in-flight record: the periodic ones (the next minute
# runs them again) and escalate (its lease brings a lost page back).
_UNTRACKED = frozenset({SWEEP, "prune_claims", ESCALATE})

log = logging.getLogger("sidecar.queue")

P = ParamSpec("P")
R = TypeVar("R")


class NotRetryable(SidecarError):
    """A dead letter that does not hold what re-enqueueing its job needs."""


@dataclass(frozen=True)
class QueuedJob:
    """A job waiting in the queue (ready, or scheduled for ``eta``)."""

    job_id: str
    task: str  # "reconcile", "escalate", "refresh_org", "sweep"...
    subject_id: int | None  # the ticket (or organization) id
    attempt: int
    priority: int
    eta: datetime | None  # aware UTC; None for a ready job
    lane: Lane = Lane.NORMAL


def _queued(task: Any, lane: Lane = Lane.NORMAL) -> QueuedJob:
    args = tuple(task.args or ())
    kwargs = dict(task.kwargs or {})
    subject = args[0] if args and isinstance(args[0], int) else None
    if subject is None and args and isinstance(args[0], dict):
        # A payload job that names its ticket (pagerduty_event).
        named = args[0].get("ticket_id")
        subject = named if isinstance(named, int) else None
    eta = task.eta
    if eta is not None and eta.tzinfo is None:
        eta = eta.replace(tzinfo=UTC)  # Huey keeps naive UTC etas (utc=True)
    return QueuedJob(
        job_id=str(task.id),
        task=str(task.name).rsplit(".", 1)[-1],
        subject_id=subject,
        attempt=int(kwargs.get("attempt", 1)),
        priority=int(task.priority or 0),
        eta=eta,
        lane=lane,
    )


def _unavailable(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Translate storage errors into QueueUnavailable (the web answers 503)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (sqlite3.Error, redis.RedisError, OSError) as exc:
                raise QueueUnavailable(
                    f"queue {what} failed: {exc.__class__.__name__}: {exc}"
                ) from exc

        return wrapper

    return decorate


# A reconcile waiting in the queue holds this claim; later changes to the same
# ticket collapse into it (it reads the ticket when it runs, after them). It is
# freed when the job starts; the lifetime bounds what a lost job can hold up
# (the minute sweep re-reads changed tickets).
PENDING_TTL_SECONDS = 120.0


def pending_key(ticket_id: int, lane: Lane = Lane.NORMAL) -> str:
    """The claim a waiting reconcile of ``ticket_id`` in ``lane`` holds.

    One per lane: an urgent event must not collapse into a reconcile that
    waits behind ordinary jobs.
    """
    if lane is Lane.URGENT:
        return f"pending:urgent:{int(ticket_id)}"
    return f"pending:{int(ticket_id)}"


class JobQueue:
    """The jobs, their claims, leases, flags and dead letters, on one queue backend."""

    def __init__(self, backend: Backend) -> None:
        self.huey = backend.huey
        # The urgent lane: a second Huey queue on the same storage, which
        # `sidecar worker` consumes with threads of its own (docs/decisions.md,
        # "Lanes"): SEV 1/2 work never waits behind ordinary jobs.
        self.urgent_huey = backend.urgent_huey
        self.description = backend.description
        self._backend = backend
        # Claims, leases, in-flight records, memo, flags, dead letters, ready clock.
        self._store: QueueStore = backend.store
        # Every job a worker takes is recorded in flight in the same write that
        # takes it (sidecar.queue.huey_inside), Slack's jobs included.
        for lane, lane_huey in self._hueys().items():
            if hasattr(lane_huey, "track_inflight"):
                lane_huey.track_inflight(
                    self._inflight,
                    lane=lane.value,
                    seconds=INFLIGHT_LEASE_SECONDS,
                    untracked=_UNTRACKED,
                )
        self._executor: Executor | None = None
        self.tasks = self._register_lane(Lane.NORMAL, self.huey)
        self.urgent_tasks = self._register_lane(Lane.URGENT, self.urgent_huey)
        self._register_periodic(self.huey)
        self.slack = slack_jobs.register(
            self
        )  # the Slack app's jobs (sidecar/tasks/slack_jobs.py)
        # PagerDuty's incident events back on their tickets (sidecar/tasks/oncall_jobs.py).
        self.oncall = oncall_jobs.register(self)

    @property
    def _inflight(self) -> InflightStore:
        return self._store.inflight

    def _hueys(self) -> dict[Lane, Huey]:
        return {Lane.NORMAL: self.huey, Lane.URGENT: self.urgent_huey}

    # --- the jobs' Huey tasks -------------------------------------------------

    def run_jobs_with(self, executor: Executor) -> None:
        """Run the jobs this process takes from the queue with ``executor``.

        The worker's wiring calls this (sidecar.tasks.worker.run_worker); the
        web and the CLI only enqueue, and never need one.
        """
        self._executor = executor

    def _run(self) -> Executor:
        if self._executor is None:
            raise RuntimeError("no job handlers in this process")
        return self._executor

    def executor(self) -> Executor | None:
        """The runner of this process's jobs, if it runs any (the worker)."""
        return self._executor

    def lane_huey(self, lane: Lane) -> Huey:
        """The Huey queue of ``lane``."""
        return self.urgent_huey if lane is Lane.URGENT else self.huey

    def lanes(self) -> dict[Lane, LaneTasks]:
        """Each lane's job tasks."""
        return {Lane.NORMAL: self.tasks, Lane.URGENT: self.urgent_tasks}

    def _register_lane(self, lane: Lane, huey: Huey) -> LaneTasks:
        """Register the jobs of one id on ``huey``; their bodies call the executor."""

        def reconcile(
            ticket_id: int,
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
            wake: str | None = None,
            actor_id: int | None = None,
            version: str | None = None,
            severity: int | None = None,
            organization_id: int | None = None,
            bulk: bool = False,
        ) -> None:
            hint = hint_of({"actor_id": actor_id, "version": version})
            if not hint:
                # This job reads the ticket from now on: later changes need a
                # job of their own (only a job without a skip hint holds the claim).
                self._quietly(
                    self.release, pending_key(ticket_id, lane), what="pending claim"
                )
            if wake is not None and attempt == 1:
                # A timer fired: free its claim first, so that if this run finds
                # the moment not yet reached (clock skew) it can set the timer again.
                self._quietly(self.release, wake, what=f"timer claim {wake}")
            # On the urgent lane (a webhook named SEV 1/2 of an organization
            # not known to be plain, or an entitled SEV 1/2's timer) the
            # reconcile's calls, its first read included, spend the reserve.
            urgent: dict[str, Any] = {}
            if lane is Lane.URGENT:
                # What the signed webhook named, for a page while Zendesk
                # cannot be read (sidecar.tasks.reconcile).
                named = {"severity": severity, "organization_id": organization_id}
                urgent = {"urgent": True, **{k: v for k, v in named.items() if v}}
            elif bulk:  # a backfill's or replay's: the budget's bulk part
                urgent = {"bulk": True}
            self._run().run(
                RECONCILE, ticket_id, task=task, lane=lane, attempt=attempt,
                first_failure=first_failure, hint={**hint, **urgent},
            )  # fmt: skip

        def escalate(
            ticket_id: int,
            task: Task,
            attempt: int = 1,
            first_failure: str | None = None,
            page: dict[str, Any] | None = None,
        ) -> None:
            # ``page``: the decision to page, made by a reconcile (or on a
            # webhook's hint): the trigger goes out before any Zendesk call.
            self._run().run(
                ESCALATE, ticket_id, task=task, lane=lane, attempt=attempt,
                first_failure=first_failure, hint={"page": page} if page else {},
            )  # fmt: skip

        def refresh_org(
            org_id: int, task: Task, attempt: int = 1, first_failure: str | None = None
        ) -> None:
            self._run().run(
                REFRESH_ORG, org_id, task=task, lane=lane, attempt=attempt,
                first_failure=first_failure, hint={},
            )  # fmt: skip

        return LaneTasks(
            lane=lane,
            huey=huey,
            reconcile=huey_task(huey, reconcile, name=RECONCILE),
            escalate=huey_task(huey, escalate, name=ESCALATE),
            refresh_org=huey_task(huey, refresh_org, name=REFRESH_ORG),
        )

    def _register_periodic(self, huey: Huey) -> None:
        """The minute sweep and the hourly claim pruning (normal lane only)."""

        def sweep() -> None:
            if self._executor is not None:
                self._executor.sweep(datetime.now(UTC))

        def prune_claims() -> None:
            removed = self.prune_claims()
            if removed:
                log.info("pruned %d old webhook dedup claims", removed)
            lapsed = self.prune_memos()
            if lapsed:
                log.info("pruned %d lapsed memo values and flags", lapsed)

        huey_periodic_task(huey, sweep, crontab(minute="*"), name=SWEEP)
        huey_periodic_task(
            huey, prune_claims, crontab(minute="17"), name="prune_claims"
        )

    def _quietly(self, action: Callable[[Any], object], arg: Any, *, what: str) -> None:
        try:
            action(arg)
        except QueueUnavailable as exc:
            log.warning("could not free the %s: %s", what, exc)

    @classmethod
    def from_url(cls, url: str | None = None) -> JobQueue:
        """Open the queue a ``sqlite:///path`` or ``redis://host:port/db`` URL names."""
        return cls(open_backend(url))

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite queue."""
        return self._backend.is_sqlite

    def budget(self, shares: Shares) -> Budget:
        """The deployment-wide Zendesk budget, kept where this queue keeps its data.

        SQLite: tables in the queue's file (its processes share a file lock);
        Redis: sorted sets named after the queue, so deployments stay apart.
        """
        return self._store.budget(shares)

    # --- jobs ---------------------------------------------------------------

    @_unavailable("enqueue")
    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
        priority: int | None = None,
        lane: Lane = Lane.NORMAL,
        bulk: bool = False,
    ) -> None:
        """Enqueue reconcile(ticket_id) in ``lane``, at ``eta`` (aware) if given.

        A timed job goes straight to the schedule, so it runs within the
        scheduler's one-second tick of ``eta`` (not after a worker first polls it
        off the queue). ``wake_key`` is the claim that kept this timer unique;
        the job releases it when it runs, so that the run can set the next one.
        The timers of a SEV 1/2 ticket of an entitled organization go in the
        urgent lane. ``bulk``: a backfill's or replay's job, whose Zendesk
        calls spend from the budget's bulk part.
        """
        huey = self.lane_huey(lane)
        # ``priority``: higher runs first among ready jobs (Huey; default 0), so
        # a backfill (negative) never holds back live webhooks or timers.
        if priority is None and eta is not None:
            priority = TIMER_PRIORITY
        task = self.lanes()[lane].reconcile.s(
            ticket_id,
            wake=wake_key,
            eta=eta,
            priority=priority,
            **({"bulk": True} if bulk else {}),
        )
        if eta is None:
            huey.enqueue(task)
        else:
            huey.add_schedule(task)

    @_unavailable("enqueue")
    def set_timer(
        self,
        ticket_id: int,
        *,
        eta: datetime,
        wake_key: str,
        lane: Lane = Lane.NORMAL,
    ) -> bool:
        """Claim ``wake_key`` and schedule reconcile(ticket_id) at ``eta`` (aware): one write.

        False (nothing scheduled) when the claim is held: another reconcile set
        this timer. The claim and the schedule entry are one SQLite transaction
        or one Redis script (sidecar.queue.huey_inside.scheduled_job), so a
        crash leaves both or neither: never a claim that keeps the timer from
        being set again while no timer waits. The timer's job frees the claim
        when it runs, so that the run can set the next one.
        """
        huey = self.lane_huey(lane)
        task = self.lanes()[lane].reconcile.s(
            ticket_id, wake=wake_key, eta=eta, priority=TIMER_PRIORITY
        )
        taken = self._store.take([wake_key], None, scheduled_job(huey, task))
        return taken is not Taken.DUPLICATE

    @_unavailable("enqueue")
    def enqueue_escalate(
        self,
        ticket_id: int,
        *,
        page: Mapping[str, Any] | None = None,
        record_only: bool = False,
    ) -> None:
        """Enqueue escalate(ticket_id) in the urgent lane: page on-call (or resolve), record it.

        ``record_only``: the page went out already; the job only writes its
        record, so it waits behind the urgent jobs that may still page.
        """
        kwargs: dict[str, Any] = {"page": dict(page)} if page else {}
        if record_only:
            kwargs["priority"] = RECORD_PRIORITY
        self.urgent_huey.enqueue(self.urgent_tasks.escalate.s(ticket_id, **kwargs))

    @_unavailable("enqueue")
    def submit_escalate(
        self, ticket_id: int, *, page: Mapping[str, Any] | None = None
    ) -> bool:
        """Enqueue escalate(ticket_id) unless a live job holds its lease.

        The lease is the durable "escalation wanted" record: short
        (``ENQUEUE_LEASE_SECONDS``), renewed by the watchdog while the job
        waits in the queue and by the worker while it runs or waits for a
        retry, ended by the job when done. A job lost to a crash, even one
        taken off the queue and lost before its first heartbeat, lets it lapse
        within seconds; then the next reconcile, or the worker's watchdog,
        enqueues the escalation again. ``page``: the decision to page, so the
        job triggers before it reads (a job enqueued again without it reads first).
        """
        key = escalation_lease(ticket_id)
        # Taken short first: a process killed between taking the lease and
        # storing the job leaves a lease that lapses in seconds (the watchdog
        # then enqueues it), not one that would block the page for minutes.
        now = time.time()
        if not self._store.take_lease(key, ENQUEUE_LEASE_SECONDS, now):
            return False
        try:
            self.enqueue_escalate(ticket_id, page=page)
        except Exception:
            self._store.end_lease(key)
            raise
        return True

    @_unavailable("lease")
    def hold_escalation(self, ticket_id: int) -> bool:
        """Take the escalation's lease without enqueueing its job (False: a live one holds it).

        For a caller that pages first and enqueues the job (``enqueue_escalate``)
        right after: if it dies in between, the short lease lapses and the
        watchdog enqueues the escalation.
        """
        return bool(
            self._store.take_lease(
                escalation_lease(ticket_id), ENQUEUE_LEASE_SECONDS, time.time()
            )
        )

    @_unavailable("lease")
    def release_escalation(self, ticket_id: int) -> None:
        """Give the escalation's lease back (its job could not be enqueued)."""
        self._store.end_lease(escalation_lease(ticket_id))

    @_unavailable("lease")
    def renew_lease(self, key: str, *, seconds: float) -> None:
        """Hold ``key`` for ``seconds`` more from now."""
        self._store.renew_lease(key, seconds, time.time())

    @_unavailable("lease")
    def end_lease(self, key: str) -> None:
        """Drop the lease on ``key`` (the work it stood for is done)."""
        self._store.end_lease(key)

    @_unavailable("lease")
    def waiting_escalations(self, *, scheduled: bool = False) -> set[int]:
        """Tickets whose escalate job waits in the urgent lane's queue (not yet taken).

        ``scheduled``: and those waiting for a retry in its schedule.
        """
        tasks = list(self.urgent_huey.pending())
        if scheduled:
            tasks += self.urgent_huey.scheduled()
        return {
            int(task.args[0]) for task in tasks if task.name == ESCALATE and task.args
        }

    @_unavailable("lease")
    def take_orphaned_escalations(self) -> list[int]:
        """Take over the leases of escalations whose worker is gone from this host.

        The caller enqueues each returned ticket's escalation (its lease now
        held by this process, as after :meth:`hold_escalation`).
        """
        taken = []
        now = time.time()
        for key, owner in self._store.orphaned_leases(owner_gone):
            ticket_id = escalation_ticket(key)
            if ticket_id is None:
                continue
            if self._store.steal_lease(key, owner, ENQUEUE_LEASE_SECONDS, now):
                taken.append(ticket_id)
        return taken

    def lapsed_escalations(self) -> list[int]:
        """Tickets whose escalation is wanted but whose job's lease lapsed (a lost job)."""
        lapsed = (
            escalation_ticket(key) for key in self._store.lapsed_leases(time.time())
        )
        return [ticket_id for ticket_id in lapsed if ticket_id is not None]

    # --- jobs in flight (sidecar.queue.inflight) -----------------------------

    @_unavailable("in-flight write")
    def hold_inflight(self, task: Any, lane: Lane, *, seconds: float) -> None:
        """Record a job this process is running, until ``seconds`` from now."""
        data = self.lane_huey(lane).serialize_task(task)
        self._inflight.hold(
            str(task.id), lane.value, data, time.time() + seconds, this_owner()
        )

    def inflight_key(self, task: Any, lane: Lane) -> str | None:
        """The in-flight record this process's worker wrote when it took ``task``."""
        huey = self.lane_huey(lane)
        return (
            huey.inflight_key(str(task.id)) if hasattr(huey, "inflight_key") else None
        )

    def held_inflight(self) -> list[str]:
        """The in-flight records of every job this process took and runs now."""
        return [
            key
            for tasks in self.lanes().values()
            if hasattr(tasks.huey, "held_inflight")
            for key in tasks.huey.held_inflight()
        ]

    @_unavailable("in-flight write")
    def renew_inflight(self, job_ids: Sequence[str], *, seconds: float) -> None:
        """Keep this process's running jobs recorded for ``seconds`` more."""
        self._inflight.renew(list(job_ids), time.time() + seconds)

    @_unavailable("in-flight write")
    def release_inflight(self, job_id: str) -> None:
        """Forget a job that ended (done, dropped, dead-lettered or rescheduled)."""
        self._inflight.release(job_id)

    @_unavailable("in-flight recovery")
    def recover_inflight(self) -> int:
        """Enqueue again every job whose worker is gone; return how many.

        Gone: a process of this host that no longer runs (at once: a worker
        restarted after a SIGKILL recovers its predecessor's jobs in its first
        watchdog round), or any worker that stopped renewing its records.
        """
        recovered = 0
        taken = self._inflight.take_orphans(owner_gone)
        taken += self._inflight.take_lapsed(time.time())
        for lane_name, data in taken:
            huey = self.lane_huey(Lane(lane_name))
            task = huey.deserialize_task(data)
            try:
                huey.enqueue(task)
            except Exception:
                # Put it back, lapsed, so the next watchdog round tries again.
                self._inflight.hold(str(task.id), lane_name, data, 0.0)
                raise
            recovered += 1
        return recovered

    @_unavailable("enqueue")
    def enqueue_refresh_org(self, org_id: int) -> None:
        """Enqueue refresh_org(org_id): reconcile the organization's open tickets."""
        self.huey.enqueue(self.tasks.refresh_org.s(org_id))

    @_unavailable("enqueue")
    def deliver_reconcile(
        self,
        ticket_id: int,
        *,
        dedup_key: str | None,
        replay_key: str | None = None,
        hint: Hint | None = None,
        lane: Lane = Lane.NORMAL,
    ) -> Taken:
        """Claim ``dedup_key`` and ``replay_key``, then enqueue reconcile(ticket_id) in ``lane``.

        DUPLICATE (nothing enqueued, nothing claimed) when either key was
        claimed before; COLLAPSED when a waiting job of the ticket covers it
        (keys claimed, no new job); ENQUEUE when the job was stored. The claims and the job are stored together or not at all (one
        SQLite transaction, one Redis script: sidecar.queue.huey_inside), so a
        crash never leaves a claim without its job, which would answer
        Zendesk's retry "duplicate" and lose the event.

        Several changes to one ticket collapse into one job: while a reconcile
        of the ticket waits in the queue (it holds ``pending:<ticket>``), a new
        event only claims its keys. A job carrying a ``hint`` that could let it
        skip its read never holds that claim, so nothing collapses into it.
        The urgent lane (a webhook that named a SEV 1/2) has a pending claim of
        its own.
        """
        keys = [key for key in (dedup_key, replay_key) if key]
        skippable = hint is not None and hint.may_skip
        waiting = pending_key(ticket_id, lane)
        kwargs = hint.as_kwargs() if hint is not None else {}
        if lane is not Lane.URGENT:
            # Only the urgent lane pages on what the webhook named.
            kwargs.pop("severity", None)
            kwargs.pop("organization_id", None)
        task = self.lanes()[lane].reconcile.s(ticket_id, **kwargs)
        huey = self.lane_huey(lane)
        return self._store.take(
            keys,
            Pending(waiting, PENDING_TTL_SECONDS, not skippable),
            ready_job(huey, task),
        )

    def submit_reconcile(
        self,
        ticket_id: int,
        *,
        dedup_key: str | None,
        replay_key: str | None = None,
        hint: Hint | None = None,
        lane: Lane = Lane.NORMAL,
    ) -> bool:
        """As :meth:`deliver_reconcile`; False when a key was claimed before."""
        taken = self.deliver_reconcile(
            ticket_id, dedup_key=dedup_key, replay_key=replay_key, hint=hint, lane=lane
        )
        return taken is not Taken.DUPLICATE

    @_unavailable("enqueue")
    def submit_task(self, task: Any, *, dedup_key: str) -> bool:
        """Claim ``dedup_key``, then enqueue ``task`` (a Huey signature).

        As :meth:`submit_reconcile`, for any job: False when the key was
        claimed; the claim and the job are one write.
        """
        taken = self._store.take([dedup_key], None, ready_job(self.huey, task))
        return taken is not Taken.DUPLICATE

    @_unavailable("enqueue")
    def submit_unless_waiting(
        self, task: Any, *, waiting_key: str, ttl_seconds: float
    ) -> bool:
        """Store ``task`` (normal lane) and claim ``waiting_key`` for it, unless the key is held.

        The claim says "a job that will see this waits" (the job frees it
        when it starts; it lapses after ``ttl_seconds`` if the job is lost
        otherwise). False, storing nothing, while it is held. The claim and the
        job are one write (one SQLite transaction, one Redis script), as for
        :meth:`submit_task`.
        """
        taken = self._store.take(
            [], Pending(waiting_key, ttl_seconds, True), ready_job(self.huey, task)
        )
        return taken is Taken.ENQUEUE

    @_unavailable("enqueue")
    def wait_for_budget(
        self,
        task: Any,
        ticket_id: int | None,
        *,
        delay: float,
        lane: Lane = Lane.NORMAL,
    ) -> bool:
        """Put a job that waits for Zendesk budget back in its lane, ``delay`` s from now.

        A reconcile becomes the ticket's pending job (later changes collapse
        into it); when another reconcile of the ticket already waits, this one
        is dropped instead (that one reads the ticket after both). Returns
        False when dropped.
        """
        # A bulk job (backfill, replay) never becomes the ticket's pending
        # job: a live change must not collapse into a job that waits for the
        # bulk part of the budget.
        if (
            ticket_id is not None
            and task.name == RECONCILE
            and not task.kwargs.get("bulk")
        ):
            waiting = pending_key(ticket_id, lane)
            if not self._store.claim(waiting, PENDING_TTL_SECONDS + delay):
                return False
            # As the ticket's pending job it always reads: no skip hint.
            change_kwargs(task, drop=hint_of(task.kwargs))
        eta = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=delay)
        self.lane_huey(lane).add_schedule(due_at(task, eta))
        return True

    # --- the ticket memo (sidecar.tasks.memo) -------------------------------

    @_unavailable("memo read")
    def get_memo(self, key: str) -> str | None:
        """A memo value, or None when unset or lapsed."""
        return self._store.get_memo(key)

    @_unavailable("memo write")
    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        """Store a memo value for ``ttl_seconds``."""
        self._store.set_memo(key, value, ttl_seconds)

    @_unavailable("claim")
    def claim(self, key: str, *, ttl_seconds: float = CLAIM_TTL_SECONDS) -> bool:
        """Claim ``key``; False when it is held (claimed within ``ttl_seconds``)."""
        return self._store.claim(key, ttl_seconds)

    @_unavailable("release")
    def release(self, key: str) -> None:
        """Forget a claim, so the key can be claimed again."""
        self._store.release(key)

    @_unavailable("prune")
    def prune_claims(self, *, now: float | None = None) -> int:
        """Drop claims older than the dedup window (SQLite; Redis keys expire)."""
        now = time.time() if now is None else now
        return self._store.prune(
            older_than=now - CLAIM_TTL_SECONDS,
            replay_older_than=now - REPLAY_CLAIM_SECONDS,
        )

    @_unavailable("prune")
    def prune_memos(self, *, now: float | None = None) -> int:
        """Drop lapsed memo values and flags (SQLite; Redis keys expire)."""
        return self._store.prune_memos(time.time() if now is None else now)

    @_unavailable("ping")
    def ping(self) -> None:
        """Raise QueueUnavailable unless the storage answers."""
        self._store.ping()

    @_unavailable("read")
    def depth(self) -> int:
        """Jobs ready to run in both lanes (not counting ones scheduled for later)."""
        return sum(int(t.huey.pending_count()) for t in self.lanes().values())

    @_unavailable("read")
    def oldest_ready(self) -> dict[Lane, float | None]:
        """Per lane, when its oldest ready job became ready (epoch seconds; None: none ready)."""
        oldest = self._store.oldest_ready()
        return {lane: oldest.get(lane.value) for lane in Lane}

    @_unavailable("read")
    def scheduled(self) -> int:
        """Jobs waiting for their eta or a retry delay, in both lanes."""
        return sum(int(t.huey.scheduled_count()) for t in self.lanes().values())

    @_unavailable("read")
    def pending_jobs(self, limit: int | None = None) -> list[QueuedJob]:
        """Jobs ready to run, urgent lane first, each lane in the order its workers take them."""
        jobs = [
            _queued(task, lane)
            for lane in (Lane.URGENT, Lane.NORMAL)
            for task in self.lane_huey(lane).pending(limit)
        ]
        return jobs if limit is None else jobs[:limit]

    @_unavailable("read")
    def scheduled_jobs(self, limit: int | None = None) -> list[QueuedJob]:
        """Jobs waiting for their time (timers, retries), soonest first."""
        jobs = [
            _queued(task, lane)
            for lane, tasks in self.lanes().items()
            for task in tasks.huey.scheduled(limit)
        ]
        jobs.sort(key=lambda job: job.eta or datetime.max.replace(tzinfo=UTC))
        return jobs if limit is None else jobs[:limit]

    # --- flags --------------------------------------------------------------

    @_unavailable("flag write")
    def set_flag(self, name: str, value: str | None) -> None:
        """Set (or with None clear) a flag every process sees.

        Per-ticket and per-thread flags (Slack's links and marks) expire
        (sidecar.queue.store.flag_ttl); the others are one per service,
        organization or scope.
        """
        self._store.set_flag(name, value, flag_ttl(name))

    @_unavailable("flag read")
    def get_flag(self, name: str) -> str | None:
        """Return a flag's value, or None when unset."""
        return self._store.get_flag(name)

    # --- dead letters ---------------------------------------------------------

    @_unavailable("dead-letter write")
    def record_failed(self, job: FailedJob) -> None:
        """Store a dead letter and count it (the oldest go past DEAD_LETTER_LIMIT)."""
        dropped = self._store.put_dead(job.job_id, json.dumps(asdict(job)))
        if dropped:
            log.warning(
                "more than %d dead letters: dropped the %d oldest "
                "(`sidecar jobs failed` lists them, `sidecar jobs retry` runs them)",
                DEAD_LETTER_LIMIT,
                dropped,
            )

    @_unavailable("dead-letter read")
    def failed_count(self) -> int:
        """How many dead letters there are (a count kept as they change: O(1))."""
        return self._store.dead_count()

    @_unavailable("dead-letter read")
    def failed_jobs(self) -> list[FailedJob]:
        """Every dead letter, oldest last failure first."""
        jobs = [_failed_job(raw) for raw in self._store.dead_letters()]
        return sorted(jobs, key=lambda job: (job.last_failure_at, job.job_id))

    @_unavailable("dead-letter read")
    def dead_letters_total(self) -> int:
        """How many jobs were ever dead-lettered (a Prometheus counter)."""
        return self._store.dead_total()

    @_unavailable("retry")
    def retry_failed(self, job_id: str) -> bool:
        """Re-enqueue one dead letter (and remove it); False when there is none."""
        raw = self._store.pop_dead(job_id)  # pop: two retries cannot both win
        if raw is None:
            return False
        job = _failed_job(raw)
        # A page goes back to the urgent lane; everything else to the normal one.
        huey = self.urgent_huey if job.task == ESCALATE else self.huey
        try:
            huey.enqueue(self._retried(job))
        except Exception:
            self._store.restore_dead(job_id, raw)
            raise
        return True

    def _retried(self, job: FailedJob) -> Any:
        """The job a dead letter stands for, ready to enqueue (a first attempt)."""
        args, kwargs = job.args, job.kwargs or {}
        if args is None:
            if job.task in slack_jobs.PAYLOAD_JOBS:
                raise NotRetryable(
                    f"{job.job_id}: this {job.task} job was dead-lettered before "
                    "its payload was kept, so it cannot be re-enqueued; ask the "
                    "person in Slack to submit again"
                )
            args = [job.ticket_id]
        if job.task in slack_jobs.JOB_NAMES:
            return self.slack.by_name(job.task).s(*args, **kwargs)
        if job.task in oncall_jobs.JOB_NAMES:
            return self.oncall.by_name(job.task).s(*args, **kwargs)
        tasks = self.urgent_tasks if job.task == ESCALATE else self.tasks
        return tasks.by_name(job.task).s(*args, **kwargs)

    def retry_all_failed(self) -> int:
        """Re-enqueue every dead letter that can be; return how many.

        One that cannot (:class:`NotRetryable`) stays listed by `jobs failed`.
        """
        retried = 0
        for job in self.failed_jobs():
            try:
                retried += self.retry_failed(job.job_id)
            except NotRetryable as exc:
                log.warning("%s", exc)
        return retried

    def close(self) -> None:
        """Release the storage connection (tests; the process exit does it too)."""
        self._store.close()
        if self.is_sqlite:
            self.urgent_huey.storage.close()


class Executor(Protocol):
    """Runs the jobs a worker process takes from the queue (sidecar.tasks.worker.Runner)."""

    def run(
        self,
        job: str,
        subject_id: int,
        *,
        task: Task,
        lane: Lane,
        attempt: int,
        first_failure: str | None,
        hint: Mapping[str, Any],
        work: Callable[[], None] | None = None,
    ) -> None: ...

    def sweep(self, now: datetime) -> None: ...


@dataclass(frozen=True)
class LaneTasks:
    """The jobs of one id, registered on one lane's Huey queue."""

    lane: Lane
    huey: Huey
    reconcile: TaskWrapper
    escalate: TaskWrapper
    refresh_org: TaskWrapper

    def by_name(self, name: str) -> TaskWrapper:
        """The task of job ``name`` (one of sidecar.tasks.jobs.JOBS)."""
        if name not in JOBS:
            raise KeyError(name)
        task: TaskWrapper = getattr(self, name)
        return task


def huey_task(huey: Huey, fn: Callable[..., None], *, name: str) -> TaskWrapper:
    """Register ``fn`` as the context task ``name`` on ``huey`` (the names earlier versions stored)."""
    return register_task(huey, fn, name=name, module=TASK_MODULE)


def huey_periodic_task(
    huey: Huey, fn: Callable[[], None], schedule: Callable[..., bool], *, name: str
) -> TaskWrapper:
    """Register ``fn`` as the periodic task ``name`` on ``huey``."""
    return register_periodic(huey, fn, schedule, name=name, module=TASK_MODULE)


def _failed_job(raw: Any) -> FailedJob:
    data = json.loads(raw)
    data.setdefault("task", "reconcile")
    return FailedJob(**data)
