"""When the oldest ready job of each lane became ready: the source of the queue-age gauge.

Huey's stored messages carry no enqueue time (its ``Message`` has an ``eta``
only for scheduled work, and task ids are random UUIDs), so each backend keeps
a small side record, written where the job enters the ready queue and removed
where it leaves it (docs/decisions.md, "Queue age"):

- **SQLite**: two triggers on Huey's ``task`` table keep ``sidecar_ready``
  (task row id, queue name, the instant the row was inserted). The record is
  written in the same transaction as the task row and deleted with it (a
  dequeue, a flush), whichever process or version of the code touches the
  table: nothing to clear by hand, nothing a crash can leave behind, and no
  extra transaction on the enqueue path. The oldest is the lowest row id of
  the queue (ids follow insertion order among the rows present).
- **Redis**: Huey's ready queue has no hooks. A job the queue store writes
  itself (an accepted webhook, a claimed job: sidecar.queue.redis_store) has
  its task id recorded with the current time in the sorted set
  ``sidecar.ready.<queue>`` by the same script that stores it (one round trip,
  issue 19); a job Huey enqueues (a retry, a recovery, a tick's due job) by a
  receiver of Huey's ``enqueued`` signal. The signal a dequeued task raises
  next (``executing``, or ``scheduled``/``revoked``/``expired``) removes it.
  The ready queue is Huey's ``PriorityRedisStorage`` sorted set (score: minus
  the priority; each member starts with its 8-byte enqueue instant), so the
  oldest ready job is the member with the smallest instant across the
  priority bands (``OLDEST_READY_LUA``, one member per band): its id's score
  is read. One without a record (queued before this existed) is recorded when
  first seen (a lower bound). A record a crash left behind (popped, never
  executed) is never read, since only the oldest job's id is looked up, and
  is dropped once it is older than that job.

Receivers never raise into Huey: a failed record only makes the age a lower bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import redis
from huey import RedisHuey
from huey.signals import (
    SIGNAL_ENQUEUED,
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_REVOKED,
    SIGNAL_SCHEDULED,
)

from sidecar.queue.huey_inside import OLDEST_READY_LUA, REDIS_MEMBER_PREFIX

log = logging.getLogger("sidecar.queue")

# A lane (sidecar.tasks.jobs.Lane): the clocks only key their answers by it.
L = TypeVar("L", bound=Hashable)

# A Redis record older than the list's tail by more than this is a leftover of a
# crash between a worker's pop and its first signal (the margin absorbs clock
# skew between the hosts that enqueue).
LEFTOVER_MARGIN_SECONDS = 300.0

_SQLITE_DDL = (
    "create table if not exists sidecar_ready ("
    "id integer not null primary key, queue text not null, at real not null)",
    # julianday('now') is the machine's wall clock, as time.time() is.
    "create trigger if not exists sidecar_ready_in after insert on task begin "
    "insert or replace into sidecar_ready (id, queue, at) values "
    "(new.id, new.queue, (julianday('now') - 2440587.5) * 86400.0); end",
    "create trigger if not exists sidecar_ready_out after delete on task begin "
    "delete from sidecar_ready where id = old.id; end",
)


class SqliteReadyClock(Generic[L]):
    """Ready instants kept by triggers on Huey's ``task`` table (one SQLite file)."""

    def __init__(self, hueys: Mapping[L, Any]) -> None:
        self._names = {lane: huey.storage.name for lane, huey in hueys.items()}
        self._storage = next(iter(hueys.values())).storage
        with self._storage.db(commit=True) as curs:
            for statement in _SQLITE_DDL:
                curs.execute(statement)
            # Jobs queued before the triggers existed: ready since at least now.
            curs.execute(
                "insert or ignore into sidecar_ready (id, queue, at) "
                "select id, queue, ? from task",
                (time.time(),),
            )

    def oldest(self) -> dict[L, float | None]:
        """Per lane, when its oldest ready job became ready (epoch seconds), or None."""
        oldest: dict[L, float | None] = {}
        for lane, name in self._names.items():
            # Row ids follow insertion among the rows present (SQLite gives a new
            # row max(rowid) + 1), so the lowest id is the oldest: no index on
            # `at` to keep up on every enqueue, and a scan only at scrape time.
            rows = self._storage.sql(
                "select at from sidecar_ready where queue = ? order by id limit 1",
                (name,),
                results=True,
            )
            oldest[lane] = float(rows[0][0]) if rows else None
        return oldest


class RedisReadyClock(Generic[L]):
    """Ready instants in one sorted set per lane, kept by Huey's signals."""

    def __init__(
        self, hueys: Mapping[L, Any], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._hueys = dict(hueys)
        self._clock = clock
        self._scripts: dict[str, Any] = {}
        for huey in self._hueys.values():
            key = ready_key(huey)
            conn = huey.storage.conn
            huey.signal(SIGNAL_ENQUEUED)(self._recorder(conn, key))
            huey.signal(
                SIGNAL_EXECUTING, SIGNAL_SCHEDULED, SIGNAL_REVOKED, SIGNAL_EXPIRED
            )(self._remover(conn, key))

    def _recorder(self, conn: Any, key: str) -> Callable[..., None]:
        def record(signal: str, task: Any, *args: Any, **kwargs: Any) -> None:
            try:
                conn.zadd(key, {str(task.id): self._clock()})
            except redis.RedisError as exc:
                log.warning(
                    "could not record when job %s became ready: %s", task.id, exc
                )

        return record

    def _remover(self, conn: Any, key: str) -> Callable[..., None]:
        def remove(signal: str, task: Any, *args: Any, **kwargs: Any) -> None:
            try:
                conn.zrem(key, str(task.id))
            except redis.RedisError as exc:
                # Harmless: a record is only read for the list's tail.
                log.warning(
                    "could not clear the ready record of job %s: %s", task.id, exc
                )

        return remove

    def oldest(self) -> dict[L, float | None]:
        """Per lane, when its oldest ready job became ready (epoch seconds), or None."""
        return {lane: self._oldest(huey) for lane, huey in self._hueys.items()}

    def _first_in(self, huey: Any) -> bytes | None:
        """The task that came first among the lane's ready jobs (any priority)."""
        script = self._scripts.get(huey.storage.queue_key)
        if script is None:
            script = huey.storage.conn.register_script(OLDEST_READY_LUA)
            self._scripts[huey.storage.queue_key] = script
        member = script(keys=[huey.storage.queue_key])
        if member is None:
            return None
        return bytes(member)[REDIS_MEMBER_PREFIX:]

    def _oldest(self, huey: Any) -> float | None:
        conn = huey.storage.conn
        key = ready_key(huey)
        now = self._clock()
        tail = self._first_in(huey)
        since: float | None = None
        if tail is not None:
            task_id = str(huey.deserialize_task(tail).id)
            score = conn.zscore(key, task_id)
            if score is None:  # queued before records were kept
                conn.zadd(key, {task_id: now}, nx=True)
                score = conn.zscore(key, task_id)
            since = float(score) if score is not None else now
        reference = since if since is not None else now
        conn.zremrangebyscore(key, "-inf", f"({reference - LEFTOVER_MARGIN_SECONDS}")
        return since


ReadyClock = SqliteReadyClock[L] | RedisReadyClock[L]


def ready_clock(hueys: Mapping[L, Any]) -> ReadyClock[L]:
    """The ready clock for the storage of ``hueys`` (every lane on one storage)."""
    if isinstance(next(iter(hueys.values())), RedisHuey):
        return RedisReadyClock(hueys)
    return SqliteReadyClock(hueys)


def ready_key(huey: Any) -> str:
    """The Redis sorted set of ``huey``'s ready instants."""
    return f"sidecar.ready.{huey.storage.name}"
