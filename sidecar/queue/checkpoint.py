"""Checkpoint the queue's SQLite WAL from a thread of its own, never inside a commit.

SQLite's automatic checkpoint runs in the commit that crosses
``wal_autocheckpoint`` pages (1,000 by default): that commit copies the WAL
into the database file and, with ``synchronous=NORMAL``, syncs both (about
5 ms on the project machine). An accepted webhook took that turn every ~140
deliveries, inside the writers' lock (sidecar.queue.group_commit), so the
other web process's writers waited and the cores idled (issue 19: a fifth of
one thread's enqueue time, 18 % idle CPU at full load).

Here every connection of the queue (sidecar.queue.huey_inside) raises the
automatic threshold to :data:`AUTOCHECKPOINT_PAGES`, a backstop should this
thread stop, and each process that stores jobs through the store's take
(web, worker, CLI) runs a :class:`WalCheckpointer`: every :data:`CHECKPOINT_SECONDS` it runs a PASSIVE
checkpoint on a connection of its own when the WAL changed since its last
look. PASSIVE never waits for readers or writers and never holds the write
lock, so writers go on appending meanwhile; the WAL holds at most about one
period of writes before it is copied back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading

log = logging.getLogger("sidecar.queue")

# How often each process looks at the WAL (seconds).
CHECKPOINT_SECONDS = 0.5
# The automatic checkpoint's threshold on every queue connection: only reached
# when no checkpointer ran for a while (about 40 MB of WAL at 4 KiB pages).
AUTOCHECKPOINT_PAGES = 10_000


class WalCheckpointer:
    """A daemon thread per process that checkpoints one SQLite file's WAL when it changed.

    Started on first use in each process (:meth:`ensure`), so a process that
    forks after opening the queue (a gunicorn master with ``--preload``)
    does not own the children's thread.
    """

    def __init__(self, filename: str, *, every: float = CHECKPOINT_SECONDS) -> None:
        self._filename = filename
        self._wal = f"{filename}-wal"
        self._every = every
        self._owner_pid: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen: tuple[int, int] | None = None

    def ensure(self) -> None:
        """Start this process's thread unless it runs (cheap: a pid comparison)."""
        if self._owner_pid == os.getpid():
            return
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid = os.getpid()
            self._stop = threading.Event()
            self._seen = None
            threading.Thread(
                target=self._run, name="wal-checkpoint", daemon=True
            ).start()

    def stop(self) -> None:
        """End this process's thread (its connection closes with it)."""
        self._stop.set()

    def checkpoint_if_changed(self, conn: sqlite3.Connection) -> bool:
        """Run a PASSIVE checkpoint when the WAL changed since the last look; True if run."""
        try:
            info = os.stat(self._wal)
        except FileNotFoundError:
            return False  # no WAL: nothing written since the last close
        seen = (info.st_size, info.st_mtime_ns)
        if seen == self._seen:
            return False
        conn.execute("pragma wal_checkpoint(PASSIVE)").fetchall()
        self._seen = seen
        return True

    def _run(self) -> None:
        conn = sqlite3.connect(self._filename, isolation_level=None, timeout=1.0)
        try:
            while not self._stop.wait(self._every):
                try:
                    self.checkpoint_if_changed(conn)
                except sqlite3.Error as exc:  # the next period tries again
                    log.warning("WAL checkpoint of %s failed: %s", self._filename, exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
