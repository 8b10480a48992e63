"""Where the queue reaches inside Huey: the two steps at which a job could be nowhere.

Huey moves a job between its stores in two steps that a SIGKILL can split:

- **The scheduler's tick** (``Scheduler.loop``): ``read_schedule`` deletes every
  due job from the schedule, then the consumer enqueues them one by one. A
  worker killed in between loses every due job not yet enqueued (measured:
  1,000 timers due at one instant, all lost).
- **A worker taking a job** (``Worker.loop``): ``dequeue`` deletes the job from
  the queue, and only the job's body could record it in flight, several round
  trips later.

The Huey classes below close both gaps with storage writes of our own, each
one transaction (SQLite) or one script (Redis): due jobs go from the schedule
to the ready queue together (``read_schedule`` then hands the consumer nothing
to enqueue), and a job leaves the ready queue into an in-flight record
(sidecar.queue.inflight) that ``execute`` deletes only once Huey has put the
job where it goes next (done, or back in the schedule for a retry). These
reach Huey's table names, key names, ``_emit``, the consumer's loop order and,
on Redis, the member shape of ``PriorityRedisStorage`` (the lanes' storage, so
priorities hold there as on SQLite; tests/adapters/test_huey_inside.py pins
each against the installed version). The submit path (sidecar.queue.sqlite_store,
sidecar.queue.redis_store) stores ready and scheduled jobs in that shape too
(:func:`ready_job`, :func:`scheduled_job`), inside its claims' write.

The application's other reaches past Huey's public API live here too, each
pinned by the same tests: the name Huey stores for a task
(:func:`register_task`), a task object's ``eta`` and ``kwargs`` changed before
Huey stores it again (:func:`due_at`, :func:`change_kwargs`), and a consumer
that stops its sibling lanes' consumers through their ``stop_flag`` and
``shutdown_timeout`` (:class:`LanesConsumer`).
"""

from __future__ import annotations

import logging
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from huey import RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer
from huey.signals import SIGNAL_ENQUEUED
from huey.storage import PriorityRedisStorage, SqliteStorage

from sidecar.queue.checkpoint import AUTOCHECKPOINT_PAGES
from sidecar.queue.inflight import InflightStore, this_owner

log = logging.getLogger("sidecar.queue")


# huey ships no type information, so its storage class is Any to mypy.
class SidecarSqliteStorage(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage with WAL + synchronous=NORMAL, checkpointed aside.

    In WAL mode NORMAL commits survive a crash of any process (the write is in
    the WAL before commit returns) and skip the per-commit fsync, which halves
    ingest latency; only an OS crash or power loss can drop the last commits,
    which the periodic sweep re-reads (docs/decisions.md). The automatic
    checkpoint's threshold is raised so that no commit of ours pays for one:
    sidecar.queue.checkpoint runs them from a thread of its own.
    """

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        conn.execute(f"pragma wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        return conn


@dataclass(frozen=True)
class ReadyJob:
    """A job as Huey's storage keeps a ready (or scheduled) one, to store inside a write of ours.

    ``queue`` is the queue's name (SQLite's ``task.queue``/``schedule.queue``
    column) or its list's (its schedule's) key (Redis); ``data`` Huey's
    serialized task; ``due`` None for a ready job, else the instant the
    schedule keeps for it, in the storage's own scale (what Huey's
    ``add_to_schedule`` would store); ``task_id`` the task's id, which the
    Redis store records in the lane's ready clock in the same script
    (sidecar.queue.ready; SQLite's triggers need none).
    """

    queue: str
    data: bytes
    priority: int = 0
    due: float | None = None
    task_id: str = ""


def ready_job(huey: Any, task: Any) -> ReadyJob:
    """``task`` serialized for ``huey``'s ready queue (what Huey's enqueue would store).

    On Redis that is ``PriorityRedisStorage.enqueue``'s sorted-set member: the
    enqueue instant (8 bytes, big-endian microseconds) before the task, so jobs
    of one priority run in the order they came (score: minus the priority).
    """
    storage = huey.storage
    data = bytes(huey.serialize_task(task))
    priority = int(task.priority or 0)
    if isinstance(huey, RedisHuey):
        return ReadyJob(
            storage.queue_key, redis_member(data), priority, task_id=str(task.id)
        )
    return ReadyJob(storage.name, data, priority, task_id=str(task.id))


def redis_member(data: bytes, at: float | None = None) -> bytes:
    """A ready job's member in the Redis sorted set, as PriorityRedisStorage.enqueue writes it."""
    micros = int((time.time() if at is None else at) * 1e6)
    return struct.pack(">Q", micros) + data


# The bytes before the task in a ready job's member (PriorityRedisStorage).
REDIS_MEMBER_PREFIX = 8


def scheduled_job(huey: Any, task: Any) -> ReadyJob:
    """``task`` (with its naive-UTC ``eta``) as Huey's ``add_schedule`` would store it.

    The instant is converted as each storage does (``SqliteStorage``:
    ``ts.timestamp()``; ``RedisStorage.convert_ts``), so the tick's
    comparison with Huey's own naive-UTC "now" stays the same.
    """
    storage = huey.storage
    data = bytes(huey.serialize_task(task))
    if isinstance(huey, RedisHuey):
        return ReadyJob(storage.schedule_key, data, 0, storage.convert_ts(task.eta))
    return ReadyJob(storage.name, data, 0, float(task.eta.timestamp()))


def sqlite_enqueue(curs: sqlite3.Cursor, job: ReadyJob) -> None:
    """Insert ``job`` into Huey's ``task`` (or ``schedule``) table within the caller's transaction."""
    if job.due is not None:
        curs.execute(
            "insert into schedule (queue, data, timestamp) values (?, ?, ?)",
            (job.queue, sqlite3.Binary(job.data), job.due),
        )
        return
    curs.execute(
        "insert into task (queue, data, priority) values (?, ?, ?)",
        (job.queue, sqlite3.Binary(job.data), job.priority),
    )


def sqlite_enqueue_many(curs: sqlite3.Cursor, jobs: Sequence[ReadyJob]) -> None:
    """Insert ``jobs`` in order, as :func:`sqlite_enqueue` one by one would: a statement per table.

    One statement each for the ready and the scheduled ones (the group
    commit of accepted webhooks, sidecar.queue.sqlite_store), so a batch
    costs two steps through SQLite, not one per job.
    """
    ready = [
        (j.queue, sqlite3.Binary(j.data), j.priority) for j in jobs if j.due is None
    ]
    due = [(j.queue, sqlite3.Binary(j.data), j.due) for j in jobs if j.due is not None]
    _insert_rows(curs, "task (queue, data, priority)", ready)
    _insert_rows(curs, "schedule (queue, data, timestamp)", due)


def _insert_rows(
    curs: sqlite3.Cursor, target: str, rows: Sequence[tuple[Any, Any, Any]]
) -> None:
    """``insert into <target> values`` ``rows`` of 3 columns, as few statements as SQLite allows."""
    # 3 parameters a row; SQLite's smallest limit on them is 999.
    for n in range(0, len(rows), 333):
        part = rows[n : n + 333]
        curs.execute(
            f"insert into {target} values " + ", ".join(["(?, ?, ?)"] * len(part)),
            [value for row in part for value in row],
        )


def register_task(
    huey: Any, fn: Callable[..., None], *, name: str, module: str
) -> TaskWrapper:
    """Register ``fn`` as the context task ``name`` on ``huey``, stored as ``<module>.<name>``.

    Huey names a task after its function's ``__module__`` (its registry key
    and every stored message carry ``<module>.<name>``): rewriting it keeps
    the names jobs already in a queue were stored under when the code moves.
    """
    fn.__module__ = module
    wrapper: TaskWrapper = huey.task(context=True, name=name)(fn)
    return wrapper


def register_periodic(
    huey: Any,
    fn: Callable[[], None],
    schedule: Callable[..., bool],
    *,
    name: str,
    module: str,
) -> TaskWrapper:
    """Register ``fn`` as the periodic task ``name`` on ``huey`` (named as :func:`register_task`)."""
    fn.__module__ = module
    wrapper: TaskWrapper = huey.periodic_task(schedule, name=name)(fn)
    return wrapper


def due_at(task: Any, eta: datetime) -> Any:
    """The same task (same id and arguments) due at ``eta`` (naive UTC, as Huey keeps it).

    Huey's ``add_schedule`` stores the task object's ``eta`` as it is then.
    """
    task.eta = eta
    return task


def change_kwargs(
    task: Any, *, put: Mapping[str, Any] | None = None, drop: Iterable[str] = ()
) -> Any:
    """Change the keyword arguments of a task object Huey will store again.

    Huey serializes the task object itself when it stores it again (a
    ``RetryTask`` raised from its body, ``add_schedule``), so what is put here
    travels with the job (the attempt count, the first failure).
    """
    kwargs = task.kwargs
    for key in drop:
        kwargs.pop(key, None)
    kwargs.update(put or {})
    return task


# huey ships no type information, so its Consumer is Any to mypy.
class LanesConsumer(Consumer):  # type: ignore[misc]
    """The normal lane's Huey consumer, which also runs the other lanes' consumers.

    Huey consumes one queue per consumer; a worker process runs one consumer
    per lane, each with its own threads and scheduler. This one owns the
    signals (SIGTERM lets running jobs of every lane finish), starts the others
    first, restarts their dead threads at its health checks, and stops them
    with itself (through their ``stop_flag`` and ``shutdown_timeout``).
    """

    def __init__(self, huey: Any, *, others: list[Any], **options: Any) -> None:
        self._others = others
        super().__init__(huey, **options)

    def start(self) -> None:
        for other in self._others:
            other.start()  # installs its signal handlers; ours replace them below
        super().start()

    def stop(self, graceful: bool = False) -> None:
        # Every lane stops taking jobs at once; running ones share one deadline.
        for other in self._others:
            other.stop_flag.set()
        timeout = self.shutdown_timeout
        deadline = time.monotonic() + (timeout or 0.0)
        super().stop(graceful)
        for other in self._others:
            if timeout is not None:
                other.shutdown_timeout = max(0.5, deadline - time.monotonic())
            other.stop(graceful)
            # What a hard stop abandoned in that lane is enqueued again (requeue).
            other.huey.notify_interrupted_tasks()

    def check_worker_health(self) -> bool:
        healthy = [other.check_worker_health() for other in self._others]
        return bool(super().check_worker_health()) and all(healthy)


class _Taking:
    """The in-flight records of the jobs this process took and runs now."""

    def __init__(self) -> None:
        self.store: InflightStore | None = None
        self.lane = ""
        self.seconds = 20.0
        self.untracked: Collection[str] = ()
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # job id -> in-flight record key

    def hold(self, job_id: str, key: str) -> None:
        with self._lock:
            self._held[job_id] = key

    def key_of(self, job_id: str) -> str | None:
        with self._lock:
            return self._held.get(job_id)

    def drop(self, job_id: str) -> str | None:
        with self._lock:
            return self._held.pop(job_id, None)

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._held.values())


def _short(name: Any) -> str:
    return str(name).rsplit(".", 1)[-1]


class _SafeMoves:
    """What both backends add to Huey: a tick and a take that lose nothing."""

    taking: _Taking

    def track_inflight(
        self,
        store: InflightStore,
        *,
        lane: str,
        seconds: float,
        untracked: Collection[str],
    ) -> None:
        """Record every job this queue hands a worker in ``store`` until its end.

        Jobs named in ``untracked`` (periodic ones; escalate, which its lease
        covers) have their record dropped as soon as they are taken.
        """
        self.taking.store = store
        self.taking.lane = lane
        self.taking.seconds = seconds
        self.taking.untracked = frozenset(untracked)

    def inflight_key(self, job_id: str) -> str | None:
        """The in-flight record of job ``job_id`` taken here, if any."""
        return self.taking.key_of(job_id)

    def held_inflight(self) -> list[str]:
        """The in-flight records of every job this process took and runs now."""
        return self.taking.keys()

    def _release(self, key: str) -> None:
        store = self.taking.store
        if store is None:
            return
        try:
            store.release(key)
        except Exception as exc:  # its record lapses: one more run at worst
            log.warning("could not release in-flight job %s: %s", key, exc)

    def _untracked(self, task: Any) -> bool:
        return _short(task.name) in self.taking.untracked

    def execute(self, task: Any, timestamp: Any = None) -> Any:
        key = self.taking.key_of(str(task.id))
        try:
            # Huey's execute puts a retried (or early) job back in the
            # schedule before it returns: only then is the record dropped.
            return super().execute(task, timestamp)  # type: ignore[misc]
        finally:
            if key is not None:
                self.taking.drop(str(task.id))
                self._release(key)


class SidecarSqliteHuey(_SafeMoves, SqliteHuey):  # type: ignore[misc]
    """SqliteHuey whose tick and take are single transactions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.taking = _Taking()
        kwargs.setdefault("storage_class", SidecarSqliteStorage)
        super().__init__(*args, **kwargs)

    def read_schedule(self, timestamp: Any = None) -> list[Any]:
        """Move every due job to the ready queue in one transaction; return none."""
        if timestamp is None:
            timestamp = self._get_timestamp()
        storage = self.storage
        moved = []
        with storage.db(commit=True) as curs:
            curs.execute(
                "select id, data from schedule where queue = ? and timestamp <= ? "
                "order by timestamp, id",
                (storage.name, timestamp.timestamp()),
            )
            for row_id, data in curs.fetchall():
                task = self.deserialize_task(data)
                curs.execute(
                    "insert into task (queue, data, priority) values (?, ?, ?)",
                    (storage.name, data, task.priority or 0),
                )
                curs.execute("delete from schedule where id = ?", (row_id,))
                moved.append(task)
        for task in moved:
            self._emit(SIGNAL_ENQUEUED, task)
        return []  # nothing left for the consumer to enqueue

    def dequeue(self) -> Any:
        """Take the next job and record it in flight, in one transaction."""
        storage = self.storage
        # Quick check without the write lock, as Huey's own dequeue does.
        if not storage.sql(
            "select 1 from task where queue = ? limit 1", (storage.name,), results=True
        ):
            return None
        store = self.taking.store
        with storage.db(commit=True) as curs:
            curs.execute(
                "select id, data from task where queue = ? "
                "order by priority desc, id limit 1",
                (storage.name,),
            )
            row = curs.fetchone()
            if row is None:
                return None
            row_id, data = row
            curs.execute("delete from task where id = ?", (row_id,))
            if curs.rowcount != 1:
                return None
            task = self.deserialize_task(data)
            if store is not None and not self._untracked(task):
                curs.execute(
                    "insert or replace into sidecar_inflight "
                    "(id, lane, until, data, owner) values (?, ?, ?, ?, ?)",
                    (
                        str(task.id),
                        self.taking.lane,
                        time.time() + self.taking.seconds,
                        sqlite3.Binary(bytes(data)),
                        this_owner(),
                    ),
                )
        if store is not None and not self._untracked(task):
            self.taking.hold(str(task.id), str(task.id))
        return task


# Move the due jobs the caller read from the schedule to the ready sorted set
# (KEYS: schedule zset, queue zset; ARGV: triples of the schedule's member, the
# ready score (minus the job's priority), the ready member). A member another
# tick moved first is skipped: one winner per job.
_MOVE_DUE_LUA = """
local moved = {}
for i = 1, #ARGV, 3 do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i + 2])
    table.insert(moved, ARGV[i])
  end
end
return moved
"""

# Take the next job (highest priority, then oldest) and record it in flight
# (KEYS: queue zset, in-flight hash, in-flight lapse zset, in-flight owner
# hash; ARGV: record key, lane, lapse instant, owner; "" key: no record).
_TAKE_LUA = """
local popped = redis.call('ZPOPMIN', KEYS[1], 1)
if not popped[1] then return false end
local data = string.sub(popped[1], 9)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '\\n' .. data)
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
end
return data
"""

# The member of the ready sorted set that came first, whatever its priority:
# the first member of each score (members of one score sort by their
# enqueue-instant prefix), the one with the lowest prefix (KEYS: queue zset).
OLDEST_READY_LUA = """
local best, best_at = false, nil
local item = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
while item[1] do
  local at = string.sub(item[1], 1, 8)
  if best_at == nil or at < best_at then best, best_at = item[1], at end
  item = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. item[2], '+inf',
                    'WITHSCORES', 'LIMIT', 0, 1)
end
return best
"""

# A ready list an earlier version kept (RedisHuey: no priorities, so every job
# had priority 0) becomes the sorted set, oldest first (KEYS: the queue key;
# ARGV: the enqueue instant to number the members from, in microseconds).
_LIST_TO_ZSET_LUA = """
if redis.call('TYPE', KEYS[1])['ok'] ~= 'list' then return 0 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
local n = #items
for i = n, 1, -1 do
  local at = tonumber(ARGV[1]) + (n - i)
  local prefix = ''
  for b = 7, 0, -1 do
    prefix = prefix .. string.char(math.floor(at / 2 ^ (8 * b)) % 256)
  end
  redis.call('ZADD', KEYS[1], 0, prefix .. items[i])
end
return n
"""


class SidecarRedisHuey(_SafeMoves, RedisHuey):  # type: ignore[misc]
    """RedisHuey whose tick and take are single scripts (so its workers poll)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.taking = _Taking()
        # A script cannot block: workers poll with the consumer's backoff.
        kwargs["blocking"] = False
        # Huey's own sorted-set storage, so ``priority`` orders the ready jobs
        # (RedisHuey's list refuses it): live, timers, replay, backfill.
        kwargs.setdefault("storage_class", PriorityRedisStorage)
        super().__init__(*args, **kwargs)
        conn = self.storage.conn
        self._move_due = conn.register_script(_MOVE_DUE_LUA)
        self._take = conn.register_script(_TAKE_LUA)
        self._inflight_keys: tuple[str, str, str] = ("", "", "")
        self._to_zset = conn.register_script(_LIST_TO_ZSET_LUA)
        self._upgraded = False
        try:
            self._upgrade()
        except redis.RedisError as exc:  # Redis not up yet: the first take does it
            log.debug("ready list upgrade deferred: %s", exc)

    def _upgrade(self) -> None:
        """Turn a ready list an earlier version left into the sorted set (once)."""
        if self._upgraded:
            return
        moved = self._to_zset(
            keys=[self.storage.queue_key], args=[int(time.time() * 1e6)]
        )
        self._upgraded = True
        if moved:
            log.info("moved %d ready jobs from the list to the sorted set", moved)

    def track_inflight(
        self,
        store: InflightStore,
        *,
        lane: str,
        seconds: float,
        untracked: Collection[str],
    ) -> None:
        super().track_inflight(store, lane=lane, seconds=seconds, untracked=untracked)
        self._inflight_keys = store.redis_keys()  # type: ignore[attr-defined]

    def read_schedule(self, timestamp: Any = None) -> list[Any]:
        """Move every due job to the ready sorted set in one script; return none.

        The due members are read first (a script cannot read a job's priority
        in its serialized form); the move is one script that takes each only if
        it is still scheduled.
        """
        if timestamp is None:
            timestamp = self._get_timestamp()
        storage = self.storage
        due = storage.conn.zrangebyscore(
            storage.schedule_key, "-inf", storage.convert_ts(timestamp)
        )
        if not due:
            return []
        now = time.time()
        tasks: dict[bytes, Any] = {}
        args: list[Any] = []
        for n, data in enumerate(due):
            task = self.deserialize_task(data)
            tasks[bytes(data)] = task
            # One microsecond apart: the move keeps the schedule's order.
            member = redis_member(bytes(data), now + n * 1e-6)
            args += [data, -int(task.priority or 0), member]
        moved = self._move_due(
            keys=[storage.schedule_key, storage.queue_key], args=args
        )
        for data in moved or ():
            try:
                self._emit(SIGNAL_ENQUEUED, tasks[bytes(data)])
            except Exception as exc:  # the signal only feeds the queue-age gauge
                log.debug("enqueued signal after the tick failed: %s", exc)
        return []

    def dequeue(self) -> Any:
        """Take the next job and record it in flight, in one script."""
        self._upgrade()
        storage = self.storage
        tracked = self.taking.store is not None
        key = uuid.uuid4().hex if tracked else ""
        data_hash, until_zset, owner_hash = self._inflight_keys
        data = self._take(
            keys=[
                storage.queue_key,
                data_hash or "-",
                until_zset or "-",
                owner_hash or "-",
            ],
            args=[
                key,
                self.taking.lane,
                repr(time.time() + self.taking.seconds),
                this_owner(),
            ],
        )
        if data is None:
            return None
        task = self.deserialize_task(data)
        if tracked and self._untracked(task):
            self._release(key)  # a script cannot read the job's name
        elif tracked:
            self.taking.hold(str(task.id), key)
        return task
