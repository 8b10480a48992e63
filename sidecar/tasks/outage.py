"""Say that the queue's storage is down in one line, again only after a growing pause.

While Redis (or the SQLite file) is unreachable, Huey's consumer loops log a
traceback at every poll: about fifty lines a second with six threads. This
module turns those into one warning line per notice interval (1 s, 2 s, 4 s
... up to a minute) that names the queue, the error and how many failures it
folds, and one line when the queue answers again (docs/decisions.md,
"Operator configuration and CLI").
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

import redis

from sidecar.words import counted

log = logging.getLogger("sidecar.queue")

FIRST_NOTICE_SECONDS = 1.0
MAX_NOTICE_SECONDS = 60.0
# What "the storage is down" looks like under the queue (QueueUnavailable wraps these).
STORAGE_ERRORS = (redis.RedisError, sqlite3.OperationalError, OSError)


def is_storage_error(exc: BaseException | None) -> bool:
    """True when ``exc``, or what it was raised from, is the queue's storage failing."""
    while exc is not None:
        if isinstance(exc, STORAGE_ERRORS):
            return True
        exc = exc.__cause__
    return False


class OutageLog:
    """One warning line per growing interval while the queue is down; one when it is back."""

    def __init__(
        self,
        queue: str,
        *,
        first: float = FIRST_NOTICE_SECONDS,
        most: float = MAX_NOTICE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._first = first
        self._most = most
        self._clock = clock
        self._lock = threading.Lock()
        self._interval = first
        self._next_at: float | None = None  # None: the queue is up
        self._since = 0.0
        self._folded = 0

    @property
    def down(self) -> bool:
        """True between a failure and the next success."""
        return self._next_at is not None

    @property
    def interval(self) -> float:
        """The pause before the next notice (and before a waiting retry)."""
        return self._interval

    def failed(self, exc: BaseException) -> None:
        """Count a failure; log it if the notice interval has passed."""
        with self._lock:
            now = self._clock()
            if self._next_at is None:
                self._since, self._next_at = now, now
            self._folded += 1
            if now < self._next_at:
                return
            folded, self._folded = self._folded, 0
            if now > self._since:  # not the first notice: back off
                self._interval = min(self._interval * 2, self._most)
            interval = self._interval
            self._next_at = now + interval
        log.warning(
            "queue unreachable (%s): %s; jobs wait, retrying (%s since the "
            "last notice, down %.0f s, next notice in %.0f s)",
            self._queue,
            _describe(exc),
            counted(folded, "failure"),
            now - self._since,
            interval,
            extra={"queue": self._queue, "outage": "queue"},
        )

    def recovered(self) -> None:
        """Say once that the queue answers again, and reset the backoff."""
        with self._lock:
            if self._next_at is None:
                return
            down_for = self._clock() - self._since
            self._next_at, self._interval, self._folded = None, self._first, 0
        log.warning(
            "queue reachable again (%s) after %.0f s",
            self._queue,
            down_for,
            extra={"queue": self._queue, "outage": "queue"},
        )


class OutageFilter(logging.Filter):
    """Fold Huey's per-poll storage tracebacks into the OutageLog's lines."""

    def __init__(self, outage: OutageLog) -> None:
        super().__init__()
        self._outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("huey") and exc is not None and is_storage_error(exc):
            self._outage.failed(exc)
            return False
        return True


def _describe(exc: BaseException) -> str:
    # The innermost storage error says what is wrong (refused, timed out...).
    while exc.__cause__ is not None and not isinstance(exc, STORAGE_ERRORS):
        exc = exc.__cause__
    return f"{exc.__class__.__name__}: {str(exc).rstrip('.')}"[:300]
