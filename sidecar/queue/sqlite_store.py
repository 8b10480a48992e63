"""The queue store (sidecar.queue.store) in the queue's SQLite file, beside Huey's tables.

Tables: ``sidecar_claim`` (key, taken at), ``sidecar_memo`` (key, value, until),
``sidecar_lease`` (key, until, owner), ``sidecar_inflight``
(sidecar.queue.inflight), ``sidecar_ready`` (sidecar.queue.ready),
``sidecar_flag`` (name, value, until or null), ``sidecar_dead`` (job id,
record, at) and ``sidecar_count`` (counts kept by triggers as rows come and
go, so a scrape reads one row instead of counting). Flags and dead letters
were values in Huey's key-value table (``kv``) before; they are moved once,
when a process first opens a file that still has them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.queue.checkpoint import CHECKPOINT_SECONDS, WalCheckpointer
from sidecar.queue.group_commit import GroupCommit, Outcome, WriterLock
from sidecar.queue.huey_inside import ReadyJob, sqlite_enqueue_many
from sidecar.queue.inflight import SqliteInflight, add_owner_column, this_owner
from sidecar.queue.ready import SqliteReadyClock
from sidecar.queue.store import (
    DEAD_LETTER_LIMIT,
    REPLAY_CLAIM_PREFIX,
    Pending,
    Taken,
    flag_ttl,
)
from sidecar.zendesk.budget import Budget, Shares, sqlite_buckets

FLAG = "flag:"
DEAD = "dead:"
DEAD_TOTAL = "dead_letters_total"

# The keys between REPLAY_CLAIM_PREFIX and this are the replay claims: a range
# the primary key's index answers (a LIKE would scan the table).
REPLAY_CLAIM_END = REPLAY_CLAIM_PREFIX[:-1] + chr(ord(REPLAY_CLAIM_PREFIX[-1]) + 1)

# Kept by triggers on sidecar_dead (current dead letters) and by put_dead (ever).
_DEAD_NOW, _DEAD_EVER, _KV_MOVED = "dead_letters", "dead_letters_total", "kv_moved"
_DEAD_DDL = (
    "create table if not exists sidecar_dead ("
    "job_id text not null primary key, record text not null, at real not null)"
    " without rowid",
    "create index if not exists sidecar_dead_at on sidecar_dead (at)",
    "create table if not exists sidecar_count ("
    "name text not null primary key, value integer not null) without rowid",
    "create trigger if not exists sidecar_dead_in after insert on sidecar_dead "
    "begin update sidecar_count set value = value + 1 "
    f"where name = '{_DEAD_NOW}'; end",
    "create trigger if not exists sidecar_dead_out after delete on sidecar_dead "
    "begin update sidecar_count set value = value - 1 "
    f"where name = '{_DEAD_NOW}'; end",
    "create table if not exists sidecar_flag ("
    "name text not null primary key, value text not null, until real)"
    " without rowid",
)


@dataclass(frozen=True)
class _Take:
    """One :meth:`SqliteStore.take`, as handed to the group commit."""

    keys: Sequence[str]
    pending: Pending | None
    job: ReadyJob | None
    now: float


# Bound parameters per statement: SQLite's own limit is 32766 (999 before 3.32).
_MAX_VARIABLES = 999


def _pending_key(take: _Take) -> tuple[str, ...]:
    return (take.pending.key,) if take.pending is not None else ()


def _chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[n : n + size] for n in range(0, len(values), size)]


def _decide(
    takes: Sequence[_Take], found: Mapping[str, float]
) -> tuple[list[Taken], dict[str, float], list[ReadyJob]]:
    """Each take's answer, in order, given the claims stored (``found``: key -> taken at).

    Returns the answers, the claims to write (key -> at) and the jobs to
    store. The same rules as one take alone (claim every key or none; a live
    pending claim collapses; a free or lapsed one is taken), with what
    earlier takes of the batch claimed counting as stored.
    """
    held = dict(found)
    writes: dict[str, float] = {}
    answers: list[Taken] = []
    jobs: list[ReadyJob] = []
    for take in takes:
        keys = list(take.keys)
        if len(set(keys)) != len(keys) or any(key in held for key in keys):
            answers.append(Taken.DUPLICATE)  # nothing of it is written
            continue
        for key in keys:
            held[key] = writes[key] = take.now
        pending = take.pending
        if pending is not None:
            at = held.get(pending.key)
            live = at is not None and at >= take.now - pending.ttl
            if live:
                answers.append(Taken.COLLAPSED)  # its keys stay claimed
                continue
            if pending.take:
                held[pending.key] = writes[pending.key] = take.now
        if take.job is not None:
            jobs.append(take.job)
        answers.append(Taken.ENQUEUE)
    return answers, writes, jobs


class SqliteStore:
    """Claims, memo, leases, in-flight records, flags and dead letters in one SQLite file."""

    claim_ddl = (
        "create table if not exists sidecar_claim ("
        "key text not null primary key, at real not null) without rowid"
    )
    memo_ddl = (
        "create table if not exists sidecar_memo ("
        "key text not null primary key, value text not null, until real not null)"
        " without rowid"
    )
    lease_ddl = (
        "create table if not exists sidecar_lease ("
        "key text not null primary key, until real not null) without rowid"
    )

    def __init__(
        self,
        huey: Any,
        lanes: Mapping[str, Any],
        *,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        """``huey``: the normal lane's SqliteHuey (its storage and key-value table);
        ``lanes``: every lane's Huey by lane name (the ready clock);
        ``checkpoint_seconds``: how often this process checkpoints the WAL."""
        self._huey = huey
        self._storage = huey.storage
        for ddl in (self.claim_ddl, self.memo_ddl, self.lease_ddl):
            self._storage.sql(ddl, commit=True)
        add_owner_column(self._storage, "sidecar_lease")
        with self._storage.db(commit=True) as curs:
            for ddl in _DEAD_DDL:
                curs.execute(ddl)
            curs.execute(
                "insert or ignore into sidecar_count (name, value) "
                "select ?, count(*) from sidecar_dead",
                (_DEAD_NOW,),
            )
            curs.execute(
                "insert or ignore into sidecar_count (name, value) values (?, 0)",
                (_DEAD_EVER,),
            )
        self._move_kv()
        self._inflight = SqliteInflight(self._storage)
        self._ready: SqliteReadyClock[str] = SqliteReadyClock(lanes)
        self._writers = WriterLock(f"{self.filename}-writers")
        # Started by the first take in each process: checkpoints never run
        # inside a take's transaction (sidecar.queue.checkpoint).
        self._checkpointer = WalCheckpointer(self.filename, every=checkpoint_seconds)
        self._group: GroupCommit[_Take, Taken] = GroupCommit(
            self._take_batch, gate=self._writers.held
        )

    @property
    def inflight(self) -> SqliteInflight:
        return self._inflight

    @property
    def filename(self) -> str:
        """The SQLite file (the budget's buckets live there too)."""
        return str(self._storage.filename)

    # --- claims -------------------------------------------------------------

    def take(
        self,
        keys: Sequence[str],
        pending: Pending | None = None,
        job: ReadyJob | None = None,
    ) -> Taken:
        """Claim every key or none, look at the pending key, store ``job``: one transaction.

        The webhooks' threads hand their takes to a group commit: one
        transaction holds the takes handed in at once, and each thread gets
        its own answer after that transaction committed (docs/decisions.md,
        "Group commit of accepted webhooks"). The processes writing the file
        take turns through a lock file beside it (``<file>-writers``).
        """
        self._checkpointer.ensure()
        return self._group.submit(_Take(keys, pending, job, time.time()))

    def _take_batch(self, takes: Sequence[_Take]) -> list[Outcome[Taken]]:
        """Run ``takes`` in one transaction, in order, as if one after another.

        A statement per step for the whole batch, not per take: every
        statement releases and retakes the GIL, which under gunicorn's threads
        is a hand-off to another thread and back (issue 19). One select reads
        the claims the batch names; the answers are decided here, in arrival
        order, as the takes one by one would have found them; one insert
        writes the claims and the pending claims taken, one the jobs.
        """
        named = {key for take in takes for key in (*take.keys, *_pending_key(take))}
        with self._storage.db(commit=True) as curs:
            found: dict[str, float] = {}
            for chunk in _chunks(sorted(named), _MAX_VARIABLES):
                curs.execute(
                    "select key, at from sidecar_claim where key in ("
                    + ", ".join("?" * len(chunk))
                    + ")",
                    chunk,
                )
                found.update((str(key), float(at)) for key, at in curs.fetchall())
            outcomes, writes, jobs = _decide(takes, found)
            rows = [value for key, at in writes.items() for value in (key, at)]
            for chunk in _chunks(rows, _MAX_VARIABLES - _MAX_VARIABLES % 2):
                curs.execute(
                    "insert or replace into sidecar_claim (key, at) values "
                    + ", ".join(["(?, ?)"] * (len(chunk) // 2)),
                    chunk,
                )
            sqlite_enqueue_many(curs, jobs)
        return [(taken, None) for taken in outcomes]

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

    def prune(self, *, older_than: float, replay_older_than: float) -> int:
        # A replay claim past its hour still blocks a take until pruned here:
        # harmless, since a request that old fails its signature first.
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "delete from sidecar_claim where at < ? "
                "or (key >= ? and key < ? and at < ?)",
                (older_than, REPLAY_CLAIM_PREFIX, REPLAY_CLAIM_END, replay_older_than),
            )
            return int(curs.rowcount)

    def ping(self) -> None:
        self._storage.sql("select 1 from sidecar_claim limit 1", results=True)

    # --- the ticket memo (sidecar.tasks.memo): a value per key that lapses ------

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
        """Drop lapsed memo values and flags (the hourly pruning job)."""
        with self._storage.db(commit=True) as curs:
            curs.execute("delete from sidecar_memo where until < ?", (now,))
            pruned = int(curs.rowcount)
            curs.execute("delete from sidecar_flag where until < ?", (now,))
            return pruned + int(curs.rowcount)

    # --- leases: key -> the instant it lapses -------------------------------------

    def take_lease(self, key: str, seconds: float, now: float) -> bool:
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "insert into sidecar_lease (key, until, owner) values (?, ?, ?) "
                "on conflict (key) do update set until = excluded.until, "
                "owner = excluded.owner where sidecar_lease.until < ?",
                (key, now + seconds, this_owner(), now),
            )
            return bool(curs.rowcount == 1)

    def renew_lease(self, key: str, seconds: float, now: float) -> None:
        self._storage.sql(
            "insert or replace into sidecar_lease (key, until, owner) values (?, ?, ?)",
            (key, now + seconds, this_owner()),
            commit=True,
        )

    def end_lease(self, key: str) -> None:
        self._storage.sql(
            "delete from sidecar_lease where key = ?", (key,), commit=True
        )

    def lapsed_leases(self, now: float) -> list[str]:
        rows = self._storage.sql(
            "select key from sidecar_lease where until < ? order by until",
            (now,),
            results=True,
        )
        return [str(row[0]) for row in rows]

    def orphaned_leases(self, gone: Callable[[str], bool]) -> list[tuple[str, str]]:
        rows = self._storage.sql(
            "select key, owner from sidecar_lease where owner != '' order by until",
            results=True,
        )
        return [(str(key), str(owner)) for key, owner in rows if gone(str(owner))]

    def steal_lease(self, key: str, owner: str, seconds: float, now: float) -> bool:
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "update sidecar_lease set until = ?, owner = ? "
                "where key = ? and owner = ?",
                (now + seconds, this_owner(), key, owner),
            )
            return bool(curs.rowcount == 1)

    # --- flags: a value per name, some with an expiry ------------------------------

    def get_flag(self, name: str) -> str | None:
        rows = self._storage.sql(
            "select value from sidecar_flag where name = ? "
            "and (until is null or until >= ?)",
            (name, time.time()),
            results=True,
        )
        return str(rows[0][0]) if rows else None

    def set_flag(self, name: str, value: str | None, ttl: float | None = None) -> None:
        if value is None:
            self._storage.sql(
                "delete from sidecar_flag where name = ?", (name,), commit=True
            )
            return
        until = None if ttl is None else time.time() + ttl
        self._storage.sql(
            "insert or replace into sidecar_flag (name, value, until) values (?, ?, ?)",
            (name, value, until),
            commit=True,
        )

    # --- dead letters: rows, counted by triggers as they come and go -----------------

    def put_dead(
        self, job_id: str, record: str, *, limit: int = DEAD_LETTER_LIMIT
    ) -> int:
        dropped = 0
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "insert into sidecar_dead (job_id, record, at) values (?, ?, ?) "
                "on conflict (job_id) do update set record = excluded.record, "
                "at = excluded.at",
                (job_id, record, time.time()),
            )
            curs.execute(
                "update sidecar_count set value = value + 1 where name = ?",
                (_DEAD_EVER,),
            )
            curs.execute("select value from sidecar_count where name = ?", (_DEAD_NOW,))
            over = int(curs.fetchone()[0]) - limit
            if over > 0:  # the bound: the oldest go (the caller logs it)
                curs.execute(
                    "delete from sidecar_dead where job_id in ("
                    "select job_id from sidecar_dead order by at limit ?)",
                    (over,),
                )
                dropped = int(curs.rowcount)
        return dropped

    def pop_dead(self, job_id: str) -> str | None:
        self._move_kv(again=True)
        with self._storage.db(commit=True) as curs:
            curs.execute("select record from sidecar_dead where job_id = ?", (job_id,))
            row = curs.fetchone()
            if row is None:
                return None
            curs.execute("delete from sidecar_dead where job_id = ?", (job_id,))
            return str(row[0]) if curs.rowcount == 1 else None

    def restore_dead(self, job_id: str, record: str) -> None:
        self._storage.sql(
            "insert or ignore into sidecar_dead (job_id, record, at) values (?, ?, ?)",
            (job_id, record, time.time()),
            commit=True,
        )

    def dead_letters(self) -> list[str]:
        self._move_kv(again=True)
        rows = self._storage.sql("select record from sidecar_dead", results=True)
        return [str(row[0]) for row in rows]

    def dead_count(self) -> int:
        return self._count(_DEAD_NOW)

    def dead_total(self) -> int:
        return self._count(_DEAD_EVER)

    def _count(self, name: str) -> int:
        rows = self._storage.sql(
            "select value from sidecar_count where name = ?", (name,), results=True
        )
        return int(rows[0][0]) if rows else 0

    def _move_kv(self, *, again: bool = False) -> None:
        """Move flags, dead letters and their counter out of Huey's ``kv`` (once per file).

        ``again``: also after the first time, for what a process of an earlier
        version wrote there since (the operator's dead-letter commands call it).
        """
        if self._count(_KV_MOVED) and not again:
            return
        name = self._storage.name
        now = time.time()
        with self._storage.db(commit=True) as curs:
            curs.execute(
                "select key, value from kv where queue = ? "
                "and (key like 'flag:%' or key like 'dead:%')",
                (name,),
            )
            for key, raw in curs.fetchall():
                value = str(self._huey.serializer.deserialize(bytes(raw)))
                if key.startswith(DEAD):
                    curs.execute(
                        "insert or ignore into sidecar_dead (job_id, record, at) "
                        "values (?, ?, ?)",
                        (key.removeprefix(DEAD), value, now),
                    )
                else:
                    flag = key.removeprefix(FLAG)
                    ttl = flag_ttl(flag)
                    curs.execute(
                        "insert or ignore into sidecar_flag (name, value, until) "
                        "values (?, ?, ?)",
                        (flag, value, None if ttl is None else now + ttl),
                    )
                curs.execute("delete from kv where queue = ? and key = ?", (name, key))
            curs.execute(
                "select value from counter where queue = ? and key = ?",
                (name, DEAD_TOTAL),
            )
            row = curs.fetchone()
            if row is not None:
                curs.execute(
                    "update sidecar_count set value = value + ? where name = ?",
                    (int(row[0]), _DEAD_EVER),
                )
                curs.execute(
                    "delete from counter where queue = ? and key = ?",
                    (name, DEAD_TOTAL),
                )
            curs.execute(
                "insert or replace into sidecar_count (name, value) values (?, 1)",
                (_KV_MOVED,),
            )

    # --- the ready clock and the budget -----------------------------------------

    def oldest_ready(self) -> dict[str, float | None]:
        return self._ready.oldest()

    def budget(self, shares: Shares) -> Budget:
        """Tables in the queue's file (its processes share a file lock)."""
        return Budget(shares, bucket=sqlite_buckets(self.filename))

    def close(self) -> None:
        self._checkpointer.stop()
        self._storage.close()
