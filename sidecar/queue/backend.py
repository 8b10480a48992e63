"""Open the queue a ``SIDECAR_QUEUE_URL`` names: both lanes' Huey queues and the store.

``sqlite:///path`` (the embedded default) or ``redis://host:port/db[?queue=NAME]``
(scale-out). Each lane is a Huey queue of its own name on the same storage; the
store (sidecar.queue.store) keeps its records on that storage too.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from huey import RedisHuey

from sidecar.config import DEFAULT_QUEUE_URL
from sidecar.errors import ConfigError
from sidecar.queue.huey_inside import SidecarRedisHuey, SidecarSqliteHuey
from sidecar.queue.redis_store import RedisStore
from sidecar.queue.sqlite_store import SqliteStore
from sidecar.queue.store import QueueStore

QUEUE_NAME = "sidecar"
# The urgent lane's queue: same storage, its own name (and worker threads).
URGENT_SUFFIX = "_urgent"


@dataclass(frozen=True)
class Backend:
    """One storage: the normal and urgent lanes' Huey queues and the store beside them."""

    huey: Any
    urgent_huey: Any
    store: QueueStore
    description: str

    @property
    def is_sqlite(self) -> bool:
        return isinstance(self.store, SqliteStore)


def open_backend(url: str | None = None) -> Backend:
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
        return backend_of(huey, description=f"sqlite {path.resolve()}")
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
        return backend_of(huey, description=f"redis {described}")
    raise ConfigError(
        f"SIDECAR_QUEUE_URL={_redacted(url)}: expected sqlite:///path/queue.db "
        "or redis://host:port/db"
    )


def backend_of(huey: Any, *, description: str) -> Backend:
    """The urgent lane and the store on ``huey``'s storage."""
    urgent = _urgent_huey(huey)
    lanes = {"normal": huey, "urgent": urgent}
    store: QueueStore
    if isinstance(huey, RedisHuey):
        store = RedisStore(huey, lanes)
    else:
        store = SqliteStore(huey, lanes)
    return Backend(huey, urgent, store, description)


def _urgent_huey(huey: Any) -> Any:
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
