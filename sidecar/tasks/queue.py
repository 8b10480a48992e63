"""The durable job queue: Huey on SQLite (embedded default) or Redis (scale-out).

Besides Huey's task queue, the queue owns three small shared stores that every
process (web replicas, workers, the CLI) sees: webhook dedup claims, flags, and
dead letters.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey, Task, TaskWrapper

from sidecar.config import DEFAULT_QUEUE_URL
from sidecar.errors import ConfigError, QueueUnavailable, SidecarError
from sidecar.tasks import slack_jobs
from sidecar.tasks.huey_inside import (
    ReadyJob,
    SidecarRedisHuey,
    SidecarSqliteHuey,
    announce_enqueued,
    ready_job,
    sqlite_enqueue,
)
from sidecar.tasks.inflight import InflightStore, RedisInflight, SqliteInflight
from sidecar.tasks.jobs import (
    ESCALATE,
    JOBS,
    RECONCILE,
    REFRESH_ORG,
    SWEEP,
    TASK_MODULE,
    FailedJob,
    Lane,
    escalation_lease,
    escalation_ticket,
    hint_of,
)
from sidecar.tasks.memo import Hint
from sidecar.tasks.ready import ready_clock
from sidecar.zendesk.budget import Budget, Shares, redis_buckets, sqlite_buckets

__all__ = [
    "FailedJob",
    "JobQueue",
    "QueuedJob",
]  # FailedJob lives in sidecar.tasks.jobs

QUEUE_NAME = "sidecar"
# The urgent lane's queue: same storage, its own name (and worker threads).
URGENT_SUFFIX = "_urgent"
# Zendesk keeps invocations (and may redeliver) for days; 7 days covers manual
# replays from its activity log too.
CLAIM_TTL_SECONDS = 7 * 24 * 3600
_FLAG = "flag:"
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
_DEAD = "dead:"
_DEAD_TOTAL = "dead_letters_total"

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


class _ClaimHeld(Exception):
    """A key of an atomic submit is already claimed (rolls the transaction back)."""


class Taken(enum.Enum):
    """What claiming a submit's keys found."""

    DUPLICATE = "duplicate"  # a dedup key was held: nothing claimed, nothing to do
    ENQUEUE = "enqueue"  # keys claimed: enqueue the job
    COLLAPSED = "collapsed"  # keys claimed; a waiting job of the ticket covers it


# (key, lifetime in seconds, take it when free (True) or only look (False))
_Pending = tuple[str, float, bool]
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


class _SqliteClaims:
    """Claims in a table of the queue's SQLite file, stored with their job."""

    ddl = (
        "create table if not exists sidecar_claim ("
        "key text not null primary key, at real not null) without rowid"
    )

    def __init__(self, huey: SqliteHuey) -> None:
        self._storage = huey.storage
        self._storage.sql(self.ddl, commit=True)
        self._storage.sql(self.memo_ddl, commit=True)

    def take(
        self,
        keys: Sequence[str],
        pending: _Pending | None = None,
        job: ReadyJob | None = None,
    ) -> Taken:
        """Claim every key or none, look at the pending key, store ``job``: one transaction."""
        now = time.time()
        try:
            with self._storage.db(commit=True) as curs:
                # One statement per step: each is a round through SQLite's VM
                # on the webhook's path (issue 19; 8fd57ef, lost in a merge).
                if keys:
                    curs.execute(
                        "insert or ignore into sidecar_claim (key, at) values "
                        + ", ".join(["(?, ?)"] * len(keys)),
                        [value for claim in keys for value in (claim, now)],
                    )
                    if curs.rowcount != len(keys):
                        raise _ClaimHeld  # roll back the keys claimed with it
                if pending is not None:
                    key, ttl, take = pending
                    if take:
                        # Take it when free or lapsed; no change: a live one holds.
                        curs.execute(
                            "insert into sidecar_claim (key, at) values (?, ?) "
                            "on conflict (key) do update set at = excluded.at "
                            "where sidecar_claim.at < ?",
                            (key, now, now - ttl),
                        )
                        held = curs.rowcount != 1
                    else:
                        curs.execute(
                            "select 1 from sidecar_claim where key = ? and at >= ?",
                            (key, now - ttl),
                        )
                        held = curs.fetchone() is not None
                    if held:
                        return Taken.COLLAPSED
                if job is not None:
                    sqlite_enqueue(
                        curs, job
                    )  # the claims and their job commit together
                return Taken.ENQUEUE
        except _ClaimHeld:
            return Taken.DUPLICATE

    def claim(self, key: str, ttl: float) -> bool:
        now = time.time()
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "delete from sidecar_claim where key = ? and at < ?", (key, now - ttl)
            )
            curs.execute(
                "insert or ignore into sidecar_claim (key, at) values (?, ?)",
                (key, now),
            )
            return bool(curs.rowcount == 1)

    def release(self, key: str) -> None:
        self._storage.sql(
            "delete from sidecar_claim where key = ?", (key,), commit=True
        )

    def prune(self, *, older_than: float) -> int:
        with self._storage.db(commit=True) as curs:
            curs.execute("delete from sidecar_claim where at < ?", (older_than,))
            return int(curs.rowcount)

    def ping(self) -> None:
        self._storage.sql("select 1 from sidecar_claim limit 1", results=True)

    # The ticket memo (sidecar.tasks.memo): a value per key that lapses.
    memo_ddl = (
        "create table if not exists sidecar_memo ("
        "key text not null primary key, value text not null, until real not null)"
        " without rowid"
    )

    def get_memo(self, key: str) -> str | None:
        rows = self._storage.sql(
            "select value from sidecar_memo where key = ? and until >= ?",
            (key, time.time()),
            results=True,
        )
        return str(rows[0][0]) if rows else None

    def set_memo(self, key: str, value: str, ttl: float) -> None:
        self._storage.sql(
            "insert or replace into sidecar_memo (key, value, until) values (?, ?, ?)",
            (key, value, time.time() + ttl),
            commit=True,
        )

    def prune_memos(self, now: float) -> int:
        with self._storage.db(commit=True) as curs:
            curs.execute("delete from sidecar_memo where until < ?", (now,))
            return int(curs.rowcount)


class _SqliteLeases:
    """Leases in a table of the queue's SQLite file: key -> the instant it lapses."""

    ddl = (
        "create table if not exists sidecar_lease ("
        "key text not null primary key, until real not null) without rowid"
    )

    def __init__(self, huey: SqliteHuey) -> None:
        self._storage = huey.storage
        self._storage.sql(self.ddl, commit=True)

    def take(self, key: str, seconds: float, now: float) -> bool:
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "insert into sidecar_lease (key, until) values (?, ?) "
                "on conflict (key) do update set until = excluded.until "
                "where sidecar_lease.until < ?",
                (key, now + seconds, now),
            )
            return bool(curs.rowcount == 1)

    def renew(self, key: str, seconds: float, now: float) -> None:
        self._storage.sql(
            "insert or replace into sidecar_lease (key, until) values (?, ?)",
            (key, now + seconds),
            commit=True,
        )

    def end(self, key: str) -> None:
        self._storage.sql(
            "delete from sidecar_lease where key = ?", (key,), commit=True
        )

    def lapsed(self, now: float) -> list[str]:
        rows = self._storage.sql(
            "select key from sidecar_lease where until < ? order by until",
            (now,),
            results=True,
        )
        return [str(row[0]) for row in rows]


# Take every claim or none, then look at the pending key, in one round trip.
# KEYS: the claims, then the pending key (or none), then the lane's Huey list
# (or none). ARGV: claim TTL, pending TTL, "take" or "check" ("" without a
# pending key), the serialized job ("" for none: LPUSHed, as Huey's
# RedisStorage.enqueue does, when the claims are taken). Returns 0 duplicate,
# 1 enqueue (job stored), 2 collapsed.
_TAKE_LUA = """
local claims = #KEYS
if ARGV[3] ~= '' then claims = claims - 1 end
if ARGV[4] ~= '' then
  claims = claims - 1
  -- A script's writes are not undone by a later error: refuse before any write
  -- when the job could not be pushed, so no claim outlives a job never stored.
  local kind = redis.call('TYPE', KEYS[#KEYS])['ok']
  if kind ~= 'none' and kind ~= 'list' then
    return redis.error_reply('WRONGTYPE the queue list holds a ' .. kind)
  end
end
for i = 1, claims do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, claims do
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
end
if ARGV[3] ~= '' then
  local waiting = KEYS[claims + 1]
  if redis.call('EXISTS', waiting) == 1 then return 2 end
  if ARGV[3] == 'take' then
    redis.call('SET', waiting, '1', 'EX', ARGV[2])
  end
end
if ARGV[4] ~= '' then redis.call('LPUSH', KEYS[#KEYS], ARGV[4]) end
return 1
"""


# Take a lease unless a live one is held (ARGV: lapse instant, now).
_TAKE_LEASE_LUA = """
local lapses = redis.call('HGET', KEYS[1], ARGV[3])
if lapses and tonumber(lapses) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class _RedisLeases:
    """Leases as one Redis hash: key -> the instant (epoch seconds) it lapses."""

    def __init__(self, huey: RedisHuey) -> None:
        self._conn = huey.storage.conn
        self._hash = f"sidecar.lease.{huey.storage.name}"
        self._take = self._conn.register_script(_TAKE_LEASE_LUA)

    def take(self, key: str, seconds: float, now: float) -> bool:
        return bool(
            self._take(keys=[self._hash], args=[repr(now + seconds), repr(now), key])
        )

    def renew(self, key: str, seconds: float, now: float) -> None:
        self._conn.hset(self._hash, key, repr(now + seconds))

    def end(self, key: str) -> None:
        self._conn.hdel(self._hash, key)

    def lapsed(self, now: float) -> list[str]:
        entries = self._conn.hgetall(self._hash)
        return sorted(
            (k.decode() for k, v in entries.items() if float(v) < now),
        )


class _RedisClaims:
    """Claims as plain Redis keys with a TTL (no pruning needed)."""

    def __init__(self, huey: RedisHuey) -> None:
        self._storage = huey.storage
        self._conn = huey.storage.conn
        self._prefix = f"sidecar.claim.{huey.storage.name}."
        self._memo_prefix = f"sidecar.memo.{huey.storage.name}."
        self._take = self._conn.register_script(_TAKE_LUA)

    def take(
        self,
        keys: Sequence[str],
        pending: _Pending | None = None,
        job: ReadyJob | None = None,
    ) -> Taken:
        """Claim every key or none, look at the pending key, store ``job``: one script."""
        names = [self._prefix + k for k in keys]
        mode, pending_ttl = "", 1
        if pending is not None:
            key, ttl, take = pending
            names.append(self._prefix + key)
            mode, pending_ttl = ("take" if take else "check"), max(1, round(ttl))
        data = b""
        if job is not None:
            names.append(job.queue)
            data = job.data
        answer = int(
            self._take(keys=names, args=[CLAIM_TTL_SECONDS, pending_ttl, mode, data])
        )
        return {0: Taken.DUPLICATE, 1: Taken.ENQUEUE, 2: Taken.COLLAPSED}[answer]

    def get_memo(self, key: str) -> str | None:
        value = self._conn.get(self._memo_prefix + key)
        return value.decode() if isinstance(value, bytes) else None

    def set_memo(self, key: str, value: str, ttl: float) -> None:
        self._conn.set(self._memo_prefix + key, value.encode(), ex=max(1, round(ttl)))

    def prune_memos(self, now: float) -> int:
        return 0  # Redis expires them

    def claim(self, key: str, ttl: float) -> bool:
        return bool(
            self._conn.set(self._prefix + key, b"1", nx=True, ex=max(1, round(ttl)))
        )

    def release(self, key: str) -> None:
        self._conn.delete(self._prefix + key)

    def prune(self, *, older_than: float) -> int:
        return 0

    def ping(self) -> None:
        self._conn.ping()


class JobQueue:
    """Reconcile jobs, dedup claims, flags and dead letters on one Huey storage."""

    def __init__(
        self, huey: Huey, *, description: str, urgent: Huey | None = None
    ) -> None:
        self.huey = huey
        # The urgent lane: a second Huey queue on the same storage, which
        # `sidecar worker` consumes with threads of its own (docs/decisions.md,
        # "Lanes"): SEV 1/2 work never waits behind ordinary jobs.
        self.urgent_huey = urgent if urgent is not None else _urgent_huey(huey)
        self.description = description
        if isinstance(huey, RedisHuey):
            self._claims: _SqliteClaims | _RedisClaims = _RedisClaims(huey)
            self._leases: _SqliteLeases | _RedisLeases = _RedisLeases(huey)
            self._inflight: InflightStore = RedisInflight(
                huey.storage.conn, huey.storage.name
            )
        else:
            self._claims = _SqliteClaims(huey)
            self._leases = _SqliteLeases(huey)
            self._inflight = SqliteInflight(huey.storage)
        # Every job a worker takes is recorded in flight in the same write that
        # takes it (sidecar.tasks.huey_inside), Slack's jobs included.
        for lane, lane_huey in ((Lane.NORMAL, huey), (Lane.URGENT, self.urgent_huey)):
            if hasattr(lane_huey, "track_inflight"):
                lane_huey.track_inflight(
                    self._inflight,
                    lane=lane.value,
                    seconds=INFLIGHT_LEASE_SECONDS,
                    untracked=_UNTRACKED,
                )
        # When each lane's oldest ready job became ready (the queue-age gauge).
        self._ready = ready_clock({Lane.NORMAL: huey, Lane.URGENT: self.urgent_huey})
        self._executor: Executor | None = None
        self.tasks = self._register_lane(Lane.NORMAL, huey)
        self.urgent_tasks = self._register_lane(Lane.URGENT, self.urgent_huey)
        self._register_periodic(huey)
        self.slack = slack_jobs.register(
            self
        )  # the Slack app's jobs (sidecar/tasks/slack_jobs.py)

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
        url = (url or DEFAULT_QUEUE_URL).strip()
        scheme = url.split(":", 1)[0].lower()
        if scheme == "sqlite":
            path = sqlite_path(url)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                huey = SidecarSqliteHuey(
                    QUEUE_NAME,
                    filename=str(path),
                    results=False,
                    journal_mode="wal",
                    timeout=5,
                )
            except (sqlite3.Error, OSError) as exc:
                raise ConfigError(
                    f"SIDECAR_QUEUE_URL={url}: cannot open "
                    f"({exc.__class__.__name__}: {exc})"
                ) from None
            # Absolute: a relative file means another one in each directory.
            return cls(huey, description=f"sqlite {path.resolve()}")
        if scheme in {"redis", "rediss"}:
            shown = _redacted(url)
            try:
                parts = urlsplit(url)
                db = parts.path.strip("/") or "0"
                if not parts.hostname or not db.isdigit():
                    raise ValueError("expected redis://host:port/db")
                _ = parts.port  # raises ValueError on a bad port
                url, name = _queue_name(url)
            except ValueError as exc:
                raise ConfigError(f"SIDECAR_QUEUE_URL={shown}: {exc}") from None
            # Results off: reconcile returns nothing, and failures go to dead letters.
            huey = SidecarRedisHuey(name, url=url, results=False)
            described = shown if name == QUEUE_NAME else f"{shown} (queue {name})"
            return cls(huey, description=f"redis {described}")
        raise ConfigError(
            f"SIDECAR_QUEUE_URL={_redacted(url)}: expected sqlite:///path/queue.db "
            "or redis://host:port/db"
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite queue."""
        return isinstance(self._claims, _SqliteClaims)

    def budget(self, shares: Shares) -> Budget:
        """The deployment-wide Zendesk budget, kept where this queue keeps its data.

        SQLite: tables in the queue's file (its processes share a file lock);
        Redis: sorted sets named after the queue, so deployments stay apart.
        """
        if isinstance(self.huey, RedisHuey):
            name = self.huey.storage.name
            return Budget(
                shares,
                bucket=redis_buckets(
                    self.huey.storage.conn, prefix=f"sidecar.budget.{name}"
                ),
            )
        return Budget(shares, bucket=sqlite_buckets(self.huey.storage.filename))

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
        # a backfill (negative) never holds back live webhooks.
        if not huey.storage.priority:
            priority = None  # RedisHuey's list refuses priorities (NotImplementedError)
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
    def enqueue_escalate(
        self,
        ticket_id: int,
        *,
        page: Mapping[str, Any] | None = None,
        record_only: bool = False,
    ) -> None:
        """Enqueue escalate(ticket_id) in the urgent lane: page on-call (or resolve), record it.

        ``record_only``: the page went out already; the job only writes its
        record, so it waits behind the urgent jobs that may still page (SQLite;
        Redis's queue has no priorities).
        """
        kwargs: dict[str, Any] = {"page": dict(page)} if page else {}
        if record_only and self.urgent_huey.storage.priority:
            kwargs["priority"] = -1
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
        if not self._leases.take(key, ENQUEUE_LEASE_SECONDS, now):
            return False
        try:
            self.enqueue_escalate(ticket_id, page=page)
        except Exception:
            self._leases.end(key)
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
            self._leases.take(
                escalation_lease(ticket_id), ENQUEUE_LEASE_SECONDS, time.time()
            )
        )

    @_unavailable("lease")
    def release_escalation(self, ticket_id: int) -> None:
        """Give the escalation's lease back (its job could not be enqueued)."""
        self._leases.end(escalation_lease(ticket_id))

    @_unavailable("lease")
    def renew_lease(self, key: str, *, seconds: float) -> None:
        """Hold ``key`` for ``seconds`` more from now."""
        self._leases.renew(key, seconds, time.time())

    @_unavailable("lease")
    def end_lease(self, key: str) -> None:
        """Drop the lease on ``key`` (the work it stood for is done)."""
        self._leases.end(key)

    @_unavailable("lease")
    def waiting_escalations(self) -> set[int]:
        """Tickets whose escalate job waits in the urgent lane's queue (not yet taken)."""
        return {
            int(task.args[0])
            for task in self.urgent_huey.pending()
            if task.name == ESCALATE and task.args
        }

    def lapsed_escalations(self) -> list[int]:
        """Tickets whose escalation is wanted but whose job's lease lapsed (a lost job)."""
        lapsed = (escalation_ticket(key) for key in self._leases.lapsed(time.time()))
        return [ticket_id for ticket_id in lapsed if ticket_id is not None]

    # --- jobs in flight (sidecar.tasks.inflight) -----------------------------

    @_unavailable("in-flight write")
    def hold_inflight(self, task: Any, lane: Lane, *, seconds: float) -> None:
        """Record a job this process is running, until ``seconds`` from now."""
        data = self.lane_huey(lane).serialize_task(task)
        self._inflight.hold(str(task.id), lane.value, data, time.time() + seconds)

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
        """Enqueue again every job whose worker stopped renewing it; return how many."""
        recovered = 0
        for lane_name, data in self._inflight.take_lapsed(time.time()):
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
        SQLite transaction, one Redis script: sidecar.tasks.huey_inside), so a
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
        taken = self._claims.take(
            keys,
            (waiting, PENDING_TTL_SECONDS, not skippable),
            ready_job(huey, task),
        )
        if taken is Taken.ENQUEUE:
            announce_enqueued(huey, task)
        return taken

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
        if self._claims.take([dedup_key], None, ready_job(self.huey, task)) is (
            Taken.DUPLICATE
        ):
            return False
        announce_enqueued(self.huey, task)
        return True

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
            if not self._claims.claim(waiting, PENDING_TTL_SECONDS + delay):
                return False
            # As the ticket's pending job it always reads: no skip hint.
            for name in hint_of(task.kwargs):
                task.kwargs.pop(name, None)
        eta = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=delay)
        self.lane_huey(lane).add_schedule(_rescheduled(task, eta))
        return True

    # --- the ticket memo (sidecar.tasks.memo) -------------------------------

    @_unavailable("memo read")
    def get_memo(self, key: str) -> str | None:
        """A memo value, or None when unset or lapsed."""
        return self._claims.get_memo(key)

    @_unavailable("memo write")
    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        """Store a memo value for ``ttl_seconds``."""
        self._claims.set_memo(key, value, ttl_seconds)

    @_unavailable("claim")
    def claim(self, key: str, *, ttl_seconds: float = CLAIM_TTL_SECONDS) -> bool:
        """Claim ``key``; False when it is held (claimed within ``ttl_seconds``)."""
        return self._claims.claim(key, ttl_seconds)

    @_unavailable("release")
    def release(self, key: str) -> None:
        """Forget a claim, so the key can be claimed again."""
        self._claims.release(key)

    @_unavailable("prune")
    def prune_claims(self, *, now: float | None = None) -> int:
        """Drop claims older than the dedup window (SQLite; Redis keys expire)."""
        now = time.time() if now is None else now
        return self._claims.prune(older_than=now - CLAIM_TTL_SECONDS)

    @_unavailable("ping")
    def ping(self) -> None:
        """Raise QueueUnavailable unless the storage answers."""
        self._claims.ping()

    @_unavailable("read")
    def depth(self) -> int:
        """Jobs ready to run in both lanes (not counting ones scheduled for later)."""
        return sum(int(t.huey.pending_count()) for t in self.lanes().values())

    @_unavailable("read")
    def oldest_ready(self) -> dict[Lane, float | None]:
        """Per lane, when its oldest ready job became ready (epoch seconds; None: none ready)."""
        return self._ready.oldest()

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
        """Set (or with None clear) a flag every process sees."""
        if value is None:
            self.huey.delete(_FLAG + name)
        else:
            self.huey.put(_FLAG + name, value)

    @_unavailable("flag read")
    def get_flag(self, name: str) -> str | None:
        """Return a flag's value, or None when unset."""
        value = self.huey.get(_FLAG + name, peek=True)
        return value if isinstance(value, str) else None

    # --- dead letters ---------------------------------------------------------

    @_unavailable("dead-letter write")
    def record_failed(self, job: FailedJob) -> None:
        """Store a dead letter and count it."""
        self.huey.put(_DEAD + job.job_id, json.dumps(asdict(job)))
        self.huey.storage.incr(_DEAD_TOTAL, 1)

    @_unavailable("dead-letter read")
    def failed_jobs(self) -> list[FailedJob]:
        """Every dead letter, oldest last failure first."""
        jobs = []
        for key, raw in self.huey.storage.result_items().items():
            if key.startswith(_DEAD):
                jobs.append(_failed_job(self.huey.serializer.deserialize(raw)))
        return sorted(jobs, key=lambda job: (job.last_failure_at, job.job_id))

    @_unavailable("dead-letter read")
    def dead_letters_total(self) -> int:
        """How many jobs were ever dead-lettered (a Prometheus counter)."""
        return int(self.huey.storage.incr(_DEAD_TOTAL, 0))

    @_unavailable("retry")
    def retry_failed(self, job_id: str) -> bool:
        """Re-enqueue one dead letter (and remove it); False when there is none."""
        raw = self.huey.get(_DEAD + job_id)  # pop: two retries cannot both win
        if raw is None:
            return False
        job = _failed_job(raw)
        # A page goes back to the urgent lane; everything else to the normal one.
        huey = self.urgent_huey if job.task == ESCALATE else self.huey
        try:
            huey.enqueue(self._retried(job))
        except Exception:
            self.huey.put(_DEAD + job_id, raw)
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
        if self.is_sqlite:
            self.huey.storage.close()
            self.urgent_huey.storage.close()
        else:
            self.huey.storage.pool.disconnect()  # the urgent lane shares the pool


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


# Huey's decorators are untyped (huey ships no type information): these typed
# calls register a function without making it untyped for mypy.
def huey_task(huey: Huey, fn: Callable[..., None], *, name: str) -> TaskWrapper:
    """Register ``fn`` as the context task ``name`` on ``huey``."""
    # Huey stores "<module>.<name>": keep the name earlier versions stored.
    fn.__module__ = TASK_MODULE
    wrapper: TaskWrapper = huey.task(context=True, name=name)(fn)
    return wrapper


def huey_periodic_task(
    huey: Huey, fn: Callable[[], None], schedule: Callable[..., bool], *, name: str
) -> TaskWrapper:
    """Register ``fn`` as the periodic task ``name`` on ``huey``."""
    fn.__module__ = TASK_MODULE
    wrapper: TaskWrapper = huey.periodic_task(schedule, name=name)(fn)
    return wrapper


def _urgent_huey(huey: Huey) -> Huey:
    """The urgent lane's Huey: a queue of its own name on ``huey``'s storage."""
    name = huey.storage.name + URGENT_SUFFIX
    if isinstance(huey, RedisHuey):
        return SidecarRedisHuey(name, connection_pool=huey.storage.pool, results=False)
    return SidecarSqliteHuey(
        name,
        filename=huey.storage.filename,
        results=False,
        journal_mode="wal",
        timeout=5,
    )


def _rescheduled(task: Any, eta: datetime) -> Any:
    """The same task (same id and arguments) due at ``eta`` (naive UTC, as Huey keeps it)."""
    task.eta = eta
    return task


def _failed_job(raw: Any) -> FailedJob:
    data = json.loads(raw)
    data.setdefault("task", "reconcile")
    return FailedJob(**data)


def _queue_name(url: str) -> tuple[str, str]:
    """Split ``?queue=NAME`` off a Redis URL: (URL for redis-py, queue name).

    Every Redis key the queue writes carries the name, so deployments (or test
    runs) with different names share one Redis database without touching each
    other's keys. Huey drops other characters from a name, which would merge
    two names silently, so they are refused.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [value for key, value in query if key == "queue"]
    if not names:
        return url, QUEUE_NAME
    name = names[-1]
    if not re.fullmatch(r"[a-z0-9_]{1,64}", name):
        raise ValueError(
            f"queue={name!r}: use 1-64 lower-case letters, digits and underscores"
        )
    rest = urlencode([(key, value) for key, value in query if key != "queue"])
    return urlunsplit(parts._replace(query=rest)), name


def sqlite_path(url: str) -> Path:
    """Return the file a ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise ConfigError(f"SIDECAR_QUEUE_URL={url}: expected sqlite:///path/queue.db")
    return Path(url.removeprefix("sqlite:///"))


def _redacted(url: str) -> str:
    """Hide a password in a URL, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "<unparseable URL>"
    return url
