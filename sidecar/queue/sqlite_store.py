"""The queue store (sidecar.queue.store) in the queue's SQLite file, beside Huey's tables.

Tables: ``sidecar_claim`` (key, taken at), ``sidecar_memo`` (key, value, until),
``sidecar_lease`` (key, until), ``sidecar_inflight`` (sidecar.queue.inflight),
``sidecar_ready`` (sidecar.queue.ready). Flags and dead letters are values in
Huey's key-value table (``kv``), as they always were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sidecar.queue.huey_inside import ReadyJob, sqlite_enqueue
from sidecar.queue.inflight import SqliteInflight, add_owner_column, this_owner
from sidecar.queue.ready import SqliteReadyClock
from sidecar.queue.store import Pending, Taken
from sidecar.zendesk.budget import Budget, Shares, sqlite_buckets

FLAG = "flag:"
DEAD = "dead:"
DEAD_TOTAL = "dead_letters_total"


class _ClaimHeld(Exception):
    """A key of an atomic submit is already claimed (rolls the transaction back)."""


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

    def __init__(self, huey: Any, lanes: Mapping[str, Any]) -> None:
        """``huey``: the normal lane's SqliteHuey (its storage and key-value table);
        ``lanes``: every lane's Huey by lane name (the ready clock)."""
        self._huey = huey
        self._storage = huey.storage
        for ddl in (self.claim_ddl, self.memo_ddl, self.lease_ddl):
            self._storage.sql(ddl, commit=True)
        add_owner_column(self._storage, "sidecar_lease")
        self._inflight = SqliteInflight(self._storage)
        self._ready: SqliteReadyClock[str] = SqliteReadyClock(lanes)

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
        """Claim every key or none, look at the pending key, store ``job``: one transaction."""
        now = time.time()
        try:
            with self._storage.db(commit=True) as curs:
                for claim in keys:
                    curs.execute(
                        "insert or ignore into sidecar_claim (key, at) values (?, ?)",
                        (claim, now),
                    )
                    if curs.rowcount != 1:
                        raise _ClaimHeld  # roll back the keys claimed before it
                if pending is not None:
                    curs.execute(
                        "delete from sidecar_claim where key = ? and at < ?",
                        (pending.key, now - pending.ttl),
                    )
                    curs.execute(
                        "select 1 from sidecar_claim where key = ?", (pending.key,)
                    )
                    if curs.fetchone() is not None:
                        return Taken.COLLAPSED
                    if pending.take:
                        curs.execute(
                            "insert into sidecar_claim (key, at) values (?, ?)",
                            (pending.key, now),
                        )
                if job is not None:
                    # The claims and their job commit together.
                    sqlite_enqueue(curs, job)
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
        with self._storage.db(commit=True) as curs:
            curs.execute("delete from sidecar_memo where until < ?", (now,))
            return int(curs.rowcount)

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

    # --- flags and dead letters: values in Huey's key-value table ----------------

    def get_flag(self, name: str) -> str | None:
        value = self._huey.get(FLAG + name, peek=True)
        return value if isinstance(value, str) else None

    def set_flag(self, name: str, value: str | None) -> None:
        if value is None:
            self._huey.delete(FLAG + name)
        else:
            self._huey.put(FLAG + name, value)

    def put_dead(self, job_id: str, record: str) -> None:
        self._huey.put(DEAD + job_id, record)
        self._storage.incr(DEAD_TOTAL, 1)

    def pop_dead(self, job_id: str) -> str | None:
        raw = self._huey.get(DEAD + job_id)
        return raw if isinstance(raw, str) else None

    def restore_dead(self, job_id: str, record: str) -> None:
        self._huey.put(DEAD + job_id, record)

    def dead_letters(self) -> list[str]:
        return [
            str(self._huey.serializer.deserialize(raw))
            for key, raw in self._storage.result_items().items()
            if key.startswith(DEAD)
        ]

    def dead_total(self) -> int:
        return int(self._storage.incr(DEAD_TOTAL, 0))

    # --- the ready clock and the budget -----------------------------------------

    def oldest_ready(self) -> dict[str, float | None]:
        return self._ready.oldest()

    def budget(self, shares: Shares) -> Budget:
        """Tables in the queue's file (its processes share a file lock)."""
        return Budget(shares, bucket=sqlite_buckets(self.filename))

    def close(self) -> None:
        self._storage.close()
