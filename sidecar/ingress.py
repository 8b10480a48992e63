"""Bound how long a request body may take to arrive, and how many may be slow at once.

gunicorn has no per-request read timeout: its ``timeout`` is a worker heartbeat, so
a client that trickles a body one byte a second holds a thread (a whole sync
worker) for as long as it likes. :class:`BodyDeadline` is WSGI middleware that
reads the body before the app does, under a :class:`Watchdog`: one thread per
process that shuts the connection's read side (``shutdown(SHUT_RD)``) when an
upload misses its deadline. On Linux that wakes the blocked ``recv()`` with
end-of-file at once, and every later ``recv()`` returns without blocking, so
gunicorn's own drain and graceful close of that connection cannot stall either.

Two limits, per web process:

- an upload still arriving ``grace`` seconds after it started needs one of
  ``slow_slots``; without a free one it is cut at once and answered 503 +
  Retry-After (Zendesk retries that), so slow clients hold at most
  ``slow_slots`` threads for long;
- an upload not complete after ``deadline`` seconds is cut and answered 408.

Without ``gunicorn.socket`` in the environ (the Flask test client, other servers)
there is no socket to cut and the middleware steps aside.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sidecar.webhooks.answers import BODY_INCOMPLETE, StartResponse, WsgiApp, refuse

Cut = Literal["busy", "timeout"]

READ_STEP = 64 * 1024
RETRY_AFTER_SECONDS = 10
# The watchdog acts at most this late, and sleeps at least this long between
# rounds: under load the earliest instant is always a few hundred µs away (one
# per request, most of them uploads long done), and waking for each was a
# thread switch per accepted webhook (issue 19: ~35 µs of CPU each).
TICK_SECONDS = 0.05


@dataclass(eq=False)
class Watch:
    """One upload under watch; ``cut`` says why the watchdog ended it, if it did."""

    sock: socket.socket
    started: float
    done: bool = False
    slow: bool = False  # holds a slow-upload slot
    cut: Cut | None = None


class Watchdog:
    """Cut uploads that miss their deadline; let at most ``slow_slots`` run long.

    Thread-safe. The watching thread starts on first use in each process (so a
    gunicorn master that forks workers does not own it).
    """

    def __init__(
        self,
        *,
        grace: float,
        deadline: float,
        slow_slots: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < grace <= deadline:
            raise ValueError("need 0 < grace <= deadline")
        self.grace = grace
        self.deadline = deadline
        self.slow_slots = slow_slots
        self._clock = clock
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._slow_in_use = 0
        self._owner_pid: int | None = None

    @property
    def slow_in_use(self) -> int:
        """Slow-upload slots held right now."""
        with self._cond:
            return self._slow_in_use

    def watch(self, sock: socket.socket) -> Watch:
        """Start watching an upload on ``sock``; call :meth:`finish` when it is read."""
        with self._cond:
            self._ensure_thread()
            watch = Watch(sock, self._clock())
            self._push(watch.started + self.grace, watch)
            return watch

    def finish(self, watch: Watch) -> None:
        """The upload is read (or failed): stop watching and free its slot."""
        with self._cond:
            watch.done = True
            if watch.slow:
                watch.slow = False
                self._slow_in_use -= 1

    def expire_due(self) -> None:
        """Act on every watch whose next instant has come (the thread calls this)."""
        with self._cond:
            now = self._clock()
            while self._due and self._due[0][0] <= now:
                _, _, watch = heapq.heappop(self._due)
                self._expire(watch)

    def _expire(self, watch: Watch) -> None:
        if watch.done or watch.cut is not None:
            return
        if watch.slow:
            self._cut(watch, "timeout")
        elif self._slow_in_use < self.slow_slots:
            watch.slow = True
            self._slow_in_use += 1
            self._push(watch.started + self.deadline, watch)
        else:
            self._cut(watch, "busy")

    def _cut(self, watch: Watch, why: Cut) -> None:
        watch.cut = why
        if watch.slow:
            watch.slow = False
            self._slow_in_use -= 1
        # Wakes the reader's recv() with end-of-file; the write side stays open
        # for our answer.
        with contextlib.suppress(OSError):
            watch.sock.shutdown(socket.SHUT_RD)

    def _push(self, when: float, watch: Watch) -> None:
        heapq.heappush(self._due, (when, next(self._order), watch))
        # The thread sleeps until the earliest instant; wake it only when this
        # one is now the earliest. Every upload gets the same grace, so that is
        # the first one after a quiet spell, not one per request (a wake per
        # request was a thread switch per accepted webhook: issue 19).
        if self._due[0][2] is watch:
            self._cond.notify()

    def _ensure_thread(self) -> None:
        if self._owner_pid == os.getpid():
            return
        self._owner_pid = os.getpid()
        self._due.clear()
        self._slow_in_use = 0
        threading.Thread(target=self._run, name="upload-watchdog", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                wait = self._due[0][0] - self._clock() if self._due else None
                if wait is None:
                    self._cond.wait()  # until the first watch
                else:
                    self._cond.wait(max(wait, TICK_SECONDS))
            self.expire_due()


class BodyDeadline:
    """WSGI middleware: read the request body under a :class:`Watchdog`.

    Bodies announced larger than ``max_bytes`` are left to the app (it answers
    413 without reading); otherwise at most ``max_bytes + 1`` bytes are read, so
    the app can still tell a too-large chunked body.
    """

    def __init__(self, app: WsgiApp, *, watchdog: Watchdog, max_bytes: int) -> None:
        self._app = app
        self._watchdog = watchdog
        self._max_bytes = max_bytes

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        declared = _declared_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if (
            sock is None
            or (declared is None and not chunked)
            or declared == 0
            or (declared is not None and declared > self._max_bytes)
        ):
            return self._app(environ, start_response)
        watch = self._watchdog.watch(sock)
        try:
            # Never ask for more than announced: a stream may block for it.
            limit = self._max_bytes + 1 if declared is None else declared
            body = _read(environ["wsgi.input"], limit=limit)
        except OSError:  # gunicorn's NoMoreData, resets, a malformed chunk
            body = None
        finally:
            self._watchdog.finish(watch)
        if watch.cut == "busy":
            return refuse(
                environ,
                start_response,
                "slow_uploads_busy",
                503,
                "too many slow uploads, retry later",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if watch.cut == "timeout":
            return refuse(
                environ,
                start_response,
                "body_timeout",
                408,
                f"request body not received within {self._watchdog.deadline:g} s",
            )
        if body is None or (declared is not None and len(body) != declared):
            return refuse(environ, start_response, *BODY_INCOMPLETE)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self._app(environ, start_response)


def _declared_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _read(stream: Any, *, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(READ_STEP, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)
