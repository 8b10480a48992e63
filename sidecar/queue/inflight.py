"""Jobs a worker has taken but not finished: brought back when their worker dies.

Huey removes a job from its queue when a worker takes it, so a worker killed
(SIGKILL, OOM, a lost node) mid-job loses that job. Each running job is
therefore also written here, with its serialized task and a lapse instant that
its worker process renews every few seconds while it runs; a finished job is
deleted. A record whose lapse instant passed belongs to a dead worker: any
worker's watchdog takes it (atomically: one wins) and enqueues the task again.
Jobs are idempotent (``reconcile`` is level-triggered), so running one twice in
the rare race is harmless; losing one is not.

Each record also names its **owner**, the worker process that took it
(``host:pid:boot``, the host being its name and PID namespace). A worker
restarted after a SIGKILL (by ``sidecar serve``,
Kubernetes or compose, on the same host name) does not wait for the lapse: its
watchdog takes at once every record whose owner is on this host and no longer
runs (:func:`owner_gone`), its first round before any job is taken. A worker
gone on another host is still found by the lapse.

Two stores with one interface: a table in the SQLite queue file, or hashes plus a
sorted set in Redis, all named after the queue.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

_BOOT = uuid.uuid4().hex[:12]
_OWNER: tuple[int, str] | None = None


def this_host() -> str:
    """This host as an owner names it: its host name and, on Linux, its PID namespace.

    Two containers with one host name (``network_mode: host``, say) have PID
    namespaces of their own, so a pid of the other's is not judged here.
    """
    try:
        namespace = f"/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux, or no /proc: the host name alone
        namespace = ""
    return socket.gethostname() + namespace


def this_owner() -> str:
    """This process as an in-flight record's owner: ``host:pid:boot``.

    The boot id tells a restarted process that got its predecessor's pid (a
    container's first process often does) from that predecessor.
    """
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:  # recomputed in a forked child
        boot = _BOOT if _OWNER is None else uuid.uuid4().hex[:12]
        _OWNER = (pid, f"{this_host()}:{pid}:{boot}")
    return _OWNER[1]


def owner_gone(owner: str) -> bool:
    """True when ``owner`` ran on this host and runs no more.

    Another host's process is never judged here (its records lapse instead);
    a pid that runs is taken as the owner still running (a reused pid only
    delays its records to the lapse).
    """
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_text, _boot = parts
    if host != this_host():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != this_owner()  # this pid's earlier life
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: a process of another user runs under that pid
        return False
    return False


def add_owner_column(storage: Any, table: str) -> None:
    """Add ``owner`` to a table of a file from before owners were recorded."""
    rows = storage.sql(f"pragma table_info({table})", results=True)
    if "owner" in {row[1] for row in rows}:
        return
    try:
        storage.sql(
            f"alter table {table} add column owner text not null default ''",
            commit=True,
        )
    except sqlite3.OperationalError as exc:  # another process just did
        if "duplicate column" not in str(exc):
            raise


class InflightStore(Protocol):
    """Where running jobs are recorded; ``data`` is Huey's serialized task."""

    def hold(
        self, job_id: str, lane: str, data: bytes, until: float, owner: str = ""
    ) -> None: ...
    def renew(self, job_ids: Sequence[str], until: float) -> None: ...
    def release(self, job_id: str) -> None: ...
    def take_lapsed(self, now: float) -> list[tuple[str, bytes]]: ...
    def take_orphans(self, gone: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        """Take every record whose owner ``gone`` says no longer runs (one winner each)."""
        ...


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
        add_owner_column(storage, "sidecar_inflight")

    def hold(
        self, job_id: str, lane: str, data: bytes, until: float, owner: str = ""
    ) -> None:
        self._storage.sql(
            "insert or replace into sidecar_inflight (id, lane, until, data, owner) "
            "values (?, ?, ?, ?, ?)",
            (job_id, lane, until, sqlite3.Binary(data), owner),
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

    def take_orphans(self, gone: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        owners = self._storage.sql(
            "select distinct owner from sidecar_inflight where owner != ''",
            results=True,
        )
        dead = [str(row[0]) for row in owners if gone(str(row[0]))]
        taken: list[tuple[str, bytes]] = []
        if not dead:
            return taken
        with self._storage.db(commit=True) as curs:
            for owner in dead:
                curs.execute(
                    "select id, lane, data from sidecar_inflight where owner = ?",
                    (owner,),
                )
                for job_id, lane, data in curs.fetchall():
                    curs.execute(
                        "delete from sidecar_inflight where id = ? and owner = ?",
                        (job_id, owner),
                    )
                    if curs.rowcount == 1:
                        taken.append((str(lane), bytes(data)))
        return taken


# Take every lapsed record atomically (KEYS: data hash, lapse zset, owner
# hash; ARGV: now).
_TAKE_LAPSED_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call('HGET', KEYS[1], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  if value then table.insert(out, value) end
end
return out
"""

# Take the records of gone owners (KEYS: data hash, lapse zset, owner hash;
# ARGV: pairs of record id and the owner it must still have).
_TAKE_ORPHANS_LUA = """
local out = {}
for i = 1, #ARGV, 2 do
  local id, owner = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[3], id) == owner then
    local value = redis.call('HGET', KEYS[1], id)
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    if value then table.insert(out, value) end
  end
end
return out
"""


class RedisInflight:
    """Running jobs as a Redis hash (id -> lane + task) and a sorted set of lapse instants."""

    def __init__(self, conn: Any, name: str) -> None:
        self._conn = conn
        self._data = f"sidecar.inflight.{name}"
        self._until = f"sidecar.inflight_until.{name}"
        self._owner = f"sidecar.inflight_owner.{name}"
        self._take = conn.register_script(_TAKE_LAPSED_LUA)
        self._take_orphans = conn.register_script(_TAKE_ORPHANS_LUA)

    def redis_keys(self) -> tuple[str, str, str]:
        """The hashes and the sorted set (a worker's take writes them in one script)."""
        return self._data, self._until, self._owner

    def hold(
        self, job_id: str, lane: str, data: bytes, until: float, owner: str = ""
    ) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hset(self._data, job_id, lane.encode() + b"\n" + data)
        pipe.zadd(self._until, {job_id: until})
        if owner:
            pipe.hset(self._owner, job_id, owner)
        pipe.execute()

    def renew(self, job_ids: Sequence[str], until: float) -> None:
        if job_ids:
            # XX: only records still held; a released job stays released.
            self._conn.zadd(self._until, dict.fromkeys(job_ids, until), xx=True)

    def release(self, job_id: str) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hdel(self._data, job_id)
        pipe.zrem(self._until, job_id)
        pipe.hdel(self._owner, job_id)
        pipe.execute()

    def take_lapsed(self, now: float) -> list[tuple[str, bytes]]:
        values = self._take(keys=self.redis_keys(), args=[repr(now)])
        return _records(values)

    def take_orphans(self, gone: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        owners = {
            job_id.decode(): owner.decode()
            for job_id, owner in self._conn.hgetall(self._owner).items()
        }
        verdicts = {owner: gone(owner) for owner in set(owners.values())}
        pairs = [x for job_id, o in owners.items() if verdicts[o] for x in (job_id, o)]
        if not pairs:
            return []
        return _records(self._take_orphans(keys=self.redis_keys(), args=pairs))


def _records(values: Any) -> list[tuple[str, bytes]]:
    """Redis record values (``lane\\n`` + the task) as (lane, task) pairs."""
    taken = []
    for value in values or ():
        lane, _, data = bytes(value).partition(b"\n")
        taken.append((lane.decode(), data))
    return taken
