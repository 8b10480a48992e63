"""Jobs a worker has taken but not finished: brought back when their worker dies.

Huey removes a job from its queue when a worker takes it, so a worker killed
(SIGKILL, OOM, a lost node) mid-job loses that job. Each running job is
therefore also written here, with its serialized task and a lapse instant that
its worker process renews every few seconds while it runs; a finished job is
deleted. A record whose lapse instant passed belongs to a dead worker: any
worker's watchdog takes it (atomically: one wins) and enqueues the task again.
Jobs are idempotent (``reconcile`` is level-triggered), so running one twice in
the rare race is harmless; losing one is not.

Two stores with one interface: a table in the SQLite queue file, or a hash plus a
sorted set in Redis, both named after the queue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol


class InflightStore(Protocol):
    """Where running jobs are recorded; ``data`` is Huey's serialized task."""

    def hold(self, job_id: str, lane: str, data: bytes, until: float) -> None: ...
    def renew(self, job_ids: Sequence[str], until: float) -> None: ...
    def release(self, job_id: str) -> None: ...
    def take_lapsed(self, now: float) -> list[tuple[str, bytes]]: ...


class SqliteInflight:
    """Running jobs in a table of the queue's SQLite file."""

    ddl = (
        "create table if not exists sidecar_inflight ("
        "id text not null primary key, lane text not null, until real not null, "
        "data blob not null) without rowid"
    )

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._storage.sql(self.ddl, commit=True)

    def hold(self, job_id: str, lane: str, data: bytes, until: float) -> None:
        self._storage.sql(
            "insert or replace into sidecar_inflight (id, lane, until, data) "
            "values (?, ?, ?, ?)",
            (job_id, lane, until, sqlite3.Binary(data)),
            commit=True,
        )

    def renew(self, job_ids: Sequence[str], until: float) -> None:
        if not job_ids:
            return
        with self._storage.db(commit=True) as curs:
            curs.executemany(
                "update sidecar_inflight set until = ? where id = ?",
                [(until, job_id) for job_id in job_ids],
            )

    def release(self, job_id: str) -> None:
        self._storage.sql(
            "delete from sidecar_inflight where id = ?", (job_id,), commit=True
        )

    def take_lapsed(self, now: float) -> list[tuple[str, bytes]]:
        taken: list[tuple[str, bytes]] = []
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "select id, lane, data from sidecar_inflight where until < ?", (now,)
            )
            for job_id, lane, data in curs.fetchall():
                # The delete decides who recovers it: one transaction, one winner.
                curs.execute("delete from sidecar_inflight where id = ?", (job_id,))
                if curs.rowcount == 1:
                    taken.append((str(lane), bytes(data)))
        return taken


# Take every lapsed record atomically (KEYS: data hash, lapse zset; ARGV: now).
_TAKE_LAPSED_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('HGET', KEYS[1], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if value then table.insert(out, value) end
end
return out
"""


class RedisInflight:
    """Running jobs as a Redis hash (id -> lane + task) and a sorted set of lapse instants."""

    def __init__(self, conn: Any, name: str) -> None:
        self._conn = conn
        self._data = f"sidecar.inflight.{name}"
        self._until = f"sidecar.inflight_until.{name}"
        self._take = conn.register_script(_TAKE_LAPSED_LUA)

    def redis_keys(self) -> tuple[str, str]:
        """The hash and the sorted set (a worker's take writes them in one script)."""
        return self._data, self._until

    def hold(self, job_id: str, lane: str, data: bytes, until: float) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hset(self._data, job_id, lane.encode() + b"\n" + data)
        pipe.zadd(self._until, {job_id: until})
        pipe.execute()

    def renew(self, job_ids: Sequence[str], until: float) -> None:
        if job_ids:
            # XX: only records still held; a released job stays released.
            self._conn.zadd(self._until, dict.fromkeys(job_ids, until), xx=True)

    def release(self, job_id: str) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hdel(self._data, job_id)
        pipe.zrem(self._until, job_id)
        pipe.execute()

    def take_lapsed(self, now: float) -> list[tuple[str, bytes]]:
        values = self._take(keys=[self._data, self._until], args=[repr(now)])
        taken = []
        for value in values or ():
            lane, _, data = bytes(value).partition(b"\n")
            taken.append((lane.decode(), data))
        return taken
