"""The durable job queue: Huey on SQLite (embedded default) or Redis (scale-out).

Besides Huey's task queue, the queue owns three small shared stores that every
process (web replicas, workers, the CLI) sees: webhook dedup claims, flags, and
dead letters.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.storage import SqliteStorage

from sidecar.config import DEFAULT_QUEUE_URL
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.tasks import worker

QUEUE_NAME = "sidecar"
# Zendesk keeps invocations (and may redeliver) for days; 7 days covers manual
# replays from its activity log too.
CLAIM_TTL_SECONDS = 7 * 24 * 3600
_FLAG = "flag:"
_DEAD = "dead:"
_DEAD_TOTAL = "dead_letters_total"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class FailedJob:
    """A dead-lettered job, as `sidecar jobs failed` lists it."""

    job_id: str
    task: str  # "reconcile" or "escalate"
    ticket_id: int
    error: str
    attempts: int
    first_failure_at: str
    last_failure_at: str


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


class _SqliteStorage(SqliteStorage):
    """Huey's SQLite storage with WAL + synchronous=NORMAL.

    In WAL mode NORMAL commits survive a crash of any process (the write is in
    the WAL before commit returns) and skip the per-commit fsync, which halves
    ingest latency; only an OS crash or power loss can drop the last commits,
    which the periodic sweep re-reads (docs/decisions.md).
    """

    def _create_connection(self) -> sqlite3.Connection:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class _SqliteClaims:
    """Claims in a table of the queue's SQLite file, stored with their job."""

    ddl = (
        "create table if not exists sidecar_claim ("
        "key text not null primary key, at real not null) without rowid"
    )

    def __init__(self, huey: SqliteHuey) -> None:
        self._storage = huey.storage
        self._storage.sql(self.ddl, commit=True)

    def submit(self, key: str, data: bytes) -> bool:
        storage = self._storage
        with storage.db(commit=True) as curs:
            curs.execute(
                "insert or ignore into sidecar_claim (key, at) values (?, ?)",
                (key, time.time()),
            )
            if curs.rowcount != 1:
                return False
            curs.execute(
                "insert into task (queue, data, priority) values (?, ?, 0)",
                (storage.name, memoryview(data)),
            )
        return True

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
            return curs.rowcount == 1

    def release(self, key: str) -> None:
        self._storage.sql(
            "delete from sidecar_claim where key = ?", (key,), commit=True
        )

    def prune(self, *, older_than: float) -> int:
        with self._storage.db(commit=True) as curs:
            curs.execute("delete from sidecar_claim where at < ?", (older_than,))
            return curs.rowcount

    def ping(self) -> None:
        self._storage.sql("select 1 from sidecar_claim limit 1", results=True)


# Claim and enqueue in one round trip, atomically: no claim without its job.
_SUBMIT_LUA = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class _RedisClaims:
    """Claims as plain Redis keys with a TTL (no pruning needed)."""

    def __init__(self, huey: RedisHuey) -> None:
        self._storage = huey.storage
        self._conn = huey.storage.conn
        self._prefix = f"sidecar.claim.{huey.storage.name}."
        self._submit = self._conn.register_script(_SUBMIT_LUA)

    def submit(self, key: str, data: bytes) -> bool:
        keys = [self._prefix + key, self._storage.queue_key]
        return bool(self._submit(keys=keys, args=[CLAIM_TTL_SECONDS, data]))

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

    def __init__(self, huey: Huey, *, description: str) -> None:
        self.huey = huey
        self.description = description
        if isinstance(huey, RedisHuey):
            self._claims: _SqliteClaims | _RedisClaims = _RedisClaims(huey)
        else:
            self._claims = _SqliteClaims(huey)
        self.tasks = worker.register_tasks(self)

    @classmethod
    def from_url(cls, url: str | None = None) -> JobQueue:
        """Open the queue a ``sqlite:///path`` or ``redis://host:port/db`` URL names."""
        url = (url or DEFAULT_QUEUE_URL).strip()
        scheme = url.split(":", 1)[0].lower()
        if scheme == "sqlite":
            path = sqlite_path(url)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                huey = SqliteHuey(
                    QUEUE_NAME,
                    storage_class=_SqliteStorage,
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
            return cls(huey, description=f"sqlite {path}")
        if scheme in {"redis", "rediss"}:
            shown = _redacted(url)
            try:
                parts = urlsplit(url)
                db = parts.path.strip("/") or "0"
                if not parts.hostname or not db.isdigit():
                    raise ValueError("expected redis://host:port/db")
                _ = parts.port  # raises ValueError on a bad port
            except ValueError as exc:
                raise ConfigError(f"SIDECAR_QUEUE_URL={shown}: {exc}") from None
            # Results off: reconcile returns nothing, and failures go to dead letters.
            huey = RedisHuey(QUEUE_NAME, url=url, results=False, blocking=True)
            return cls(huey, description=f"redis {shown}")
        raise ConfigError(
            f"SIDECAR_QUEUE_URL={_redacted(url)}: expected sqlite:///path/queue.db "
            "or redis://host:port/db"
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite queue."""
        return isinstance(self._claims, _SqliteClaims)

    # --- jobs ---------------------------------------------------------------

    @_unavailable("enqueue")
    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
    ) -> None:
        """Enqueue reconcile(ticket_id), at ``eta`` (aware) if given.

        A timed job goes straight to the schedule, so it runs within the
        scheduler's one-second tick of ``eta`` (not after a worker first polls it
        off the queue). ``wake_key`` is the claim that kept this timer unique;
        the job releases it when it runs, so that the run can set the next one.
        """
        task = self.tasks.reconcile.s(ticket_id, wake=wake_key, eta=eta)
        if eta is None:
            self.huey.enqueue(task)
        else:
            self.huey.add_schedule(task)

    @_unavailable("enqueue")
    def enqueue_escalate(self, ticket_id: int) -> None:
        """Enqueue escalate(ticket_id): page on-call (or resolve) and record it."""
        self.huey.enqueue(self.tasks.escalate.s(ticket_id))

    @_unavailable("enqueue")
    def enqueue_refresh_org(self, org_id: int) -> None:
        """Enqueue refresh_org(org_id): reconcile the organization's open tickets."""
        self.huey.enqueue(self.tasks.refresh_org.s(org_id))

    @_unavailable("enqueue")
    def submit_reconcile(self, ticket_id: int, *, dedup_key: str | None) -> bool:
        """Claim ``dedup_key`` and enqueue reconcile(ticket_id) atomically.

        False (nothing enqueued) when the key was claimed before. Either both the
        claim and the job are stored or neither is, so a failed enqueue never turns
        Zendesk's retry into a "duplicate".
        """
        if dedup_key is None:
            self.huey.enqueue(self.tasks.reconcile.s(ticket_id))
            return True
        data = self.huey.serialize_task(self.tasks.reconcile.s(ticket_id))
        return self._claims.submit(dedup_key, data)

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
        """Jobs ready to run (not counting ones scheduled for later)."""
        return int(self.huey.pending_count())

    @_unavailable("read")
    def scheduled(self) -> int:
        """Jobs waiting for their eta or a retry delay."""
        return int(self.huey.scheduled_count())

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
        try:
            self.huey.enqueue(self.tasks.by_name(job.task).s(job.ticket_id))
        except Exception:
            self.huey.put(_DEAD + job_id, raw)
            raise
        return True

    def retry_all_failed(self) -> int:
        """Re-enqueue every dead letter; return how many."""
        return sum(self.retry_failed(job.job_id) for job in self.failed_jobs())

    def close(self) -> None:
        """Release the storage connection (tests; the process exit does it too)."""
        if self.is_sqlite:
            self.huey.storage.close()
        else:
            self.huey.storage.pool.disconnect()


def _failed_job(raw: Any) -> FailedJob:
    data = json.loads(raw)
    data.setdefault("task", "reconcile")
    return FailedJob(**data)


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
