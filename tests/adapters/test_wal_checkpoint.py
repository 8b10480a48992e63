"""The queue's WAL is checkpointed from a thread of its own, never inside a take (issue 19).

SQLite's automatic checkpoint ran inside the commit that crossed 1,000 WAL
pages: about 5 ms of copying and syncing every ~140 accepted webhooks, inside
the writers' lock, while the other web process waited. On real SQLite files.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sidecar.queue.backend import open_backend
from sidecar.queue.checkpoint import AUTOCHECKPOINT_PAGES, WalCheckpointer
from sidecar.queue.huey_inside import ReadyJob
from sidecar.queue.sqlite_store import SqliteStore
from sidecar.queue.store import Pending, Taken
from tests.support import wait_for

# Each accepted webhook writes about 7 WAL pages: 400 of them pass SQLite's
# default threshold of 1,000 pages twice over.
TAKES = 400


@contextmanager
def store(checkpoint_seconds: float) -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as scratch:
        backend = open_backend(f"sqlite:///{Path(scratch) / 'queue.db'}")
        lanes = {"normal": backend.huey, "urgent": backend.urgent_huey}
        store = SqliteStore(backend.huey, lanes, checkpoint_seconds=checkpoint_seconds)
        try:
            yield store
        finally:
            store.close()
            backend.store.close()
            backend.urgent_huey.storage.close()


def take_many(store: SqliteStore, count: int) -> None:
    """What ``count`` accepted webhooks write: two claims, a pending claim, a job."""
    for _ in range(count):
        taken = store.take(
            [f"zendesk:{uuid.uuid4()}", f"signed:{uuid.uuid4()}"],
            Pending(f"pending:{uuid.uuid4()}", 600, True),
            ReadyJob("sidecar", os.urandom(300)),
        )
        assert taken is Taken.ENQUEUE


def database_file(store: SqliteStore) -> tuple[int, int]:
    info = os.stat(store.filename)
    return info.st_size, info.st_mtime_ns


def test_takes_never_checkpoint_the_wal() -> None:
    """Hundreds of takes leave the database file alone: only the WAL grows (was: checkpoints inside them)."""
    with store(checkpoint_seconds=3600) as queue_store:
        take_many(
            queue_store, 1
        )  # the checkpointer's thread starts (its period is an hour)
        with sqlite3.connect(queue_store.filename) as conn:
            conn.execute("pragma wal_checkpoint(TRUNCATE)")
        before = database_file(queue_store)
        take_many(queue_store, TAKES)
        assert database_file(queue_store) == before
        wal = os.path.getsize(f"{queue_store.filename}-wal")
        assert wal > 1_000 * 4096  # past SQLite's default threshold, not checkpointed


def test_every_queue_connection_raises_the_automatic_threshold() -> None:
    """The backstop should the checkpointer stop: the WAL is still bounded, ~40 MB."""
    with store(checkpoint_seconds=3600) as queue_store:
        conn = queue_store._storage.conn
        (pages,) = conn.execute("pragma wal_autocheckpoint").fetchone()
        assert pages == AUTOCHECKPOINT_PAGES


def test_the_checkpointer_copies_the_wal_back_soon_after_writes() -> None:
    """Within a few periods of the takes, every WAL frame is in the database file."""
    with store(checkpoint_seconds=0.05) as queue_store:
        take_many(queue_store, 1)
        with sqlite3.connect(queue_store.filename) as conn:
            conn.execute("pragma wal_checkpoint(TRUNCATE)")
        before = database_file(queue_store)
        take_many(queue_store, TAKES)
        wait_for(lambda: database_file(queue_store) != before, timeout=10)


def test_an_unchanged_wal_is_not_checkpointed_again(tmp_path: Path) -> None:
    """No writes since the last look: no checkpoint (no needless sync of the file)."""
    filename = str(tmp_path / "queue.db")
    conn = sqlite3.connect(filename, isolation_level=None)
    conn.execute("pragma journal_mode=wal")
    conn.execute("create table t (x)")
    checkpointer = WalCheckpointer(filename, every=3600)
    try:
        assert checkpointer.checkpoint_if_changed(conn) is True
        assert checkpointer.checkpoint_if_changed(conn) is False
        time.sleep(0.01)  # a later modification time on any file system
        conn.execute("insert into t values (1)")
        assert checkpointer.checkpoint_if_changed(conn) is True
    finally:
        conn.close()


def test_closing_the_store_ends_its_thread() -> None:
    """Tests and CLI commands open many queues: a closed one leaves no thread behind."""
    with store(checkpoint_seconds=0.05) as queue_store:
        take_many(queue_store, 1)
        assert any(t.name == "wal-checkpoint" for t in threading.enumerate())
        running = {t for t in threading.enumerate() if t.name == "wal-checkpoint"}
    wait_for(
        lambda: (
            not (
                running
                & {t for t in threading.enumerate() if t.name == "wal-checkpoint"}
            )
        ),
        timeout=5,
    )
