"""sidecar.ingress on real sockets: slow uploads are cut, prompt ones pass untouched."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sidecar.ingress import TICK_SECONDS, BodyDeadline, Watchdog

MAX = 1000


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    with server, client:
        yield server, client


def _app(seen: list[bytes]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read())
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def _call(
    guard: BodyDeadline, sock: socket.socket, length: int | None, **extra: str
) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "wsgi.input": sock.makefile("rb"),
        "gunicorn.socket": sock,
        **extra,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    body = b"".join(guard(environ, start_response))
    return answer["status"], answer["headers"], body


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while not stop.wait(0.02):
            sock.send(b" ")


@contextlib.contextmanager
def _trickling(sock: socket.socket) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=_trickle, args=(sock, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_prompt_body_reaches_the_app_intact(pair: Any) -> None:
    """A body that is all there is read once and handed to the app byte for byte."""
    server, client = pair
    client.sendall(b'{"ticket_id": "7"}')
    seen: list[bytes] = []
    watchdog = Watchdog(grace=0.5, deadline=5, slow_slots=1)
    guard = BodyDeadline(_app(seen), watchdog=watchdog, max_bytes=MAX)
    status, _, _ = _call(guard, server, 18)
    assert status.startswith("202")
    assert seen == [b'{"ticket_id": "7"}']
    assert watchdog.slow_in_use == 0


def test_a_trickled_body_is_cut_with_408(pair: Any) -> None:
    """An upload still arriving at the deadline is answered 408; the app never runs."""
    server, client = pair
    seen: list[bytes] = []
    watchdog = Watchdog(grace=0.05, deadline=0.3, slow_slots=1)
    guard = BodyDeadline(_app(seen), watchdog=watchdog, max_bytes=MAX)
    with _trickling(client):
        status, headers, body = _call(guard, server, MAX)
    assert status.startswith("408")
    assert b"not received within 0.3 s" in body
    assert headers["Content-Type"] == "application/json"
    assert seen == []
    assert watchdog.slow_in_use == 0


def test_a_slow_upload_without_a_free_slot_gets_503_retry_after(pair: Any) -> None:
    """With every slow slot taken, an upload still arriving after the grace gets 503."""
    server, client = pair
    seen: list[bytes] = []
    watchdog = Watchdog(grace=0.05, deadline=5, slow_slots=0)
    guard = BodyDeadline(_app(seen), watchdog=watchdog, max_bytes=MAX)
    with _trickling(client):
        status, headers, _ = _call(guard, server, MAX)
    assert status.startswith("503")
    assert headers["Retry-After"] == "10"
    assert seen == []


def test_a_body_that_ends_early_is_a_400(pair: Any) -> None:
    """A client that closes before sending the announced length gets 400, not a hang."""
    server, client = pair
    client.sendall(b"{}")
    client.shutdown(socket.SHUT_WR)
    seen: list[bytes] = []
    guard = BodyDeadline(
        _app(seen), watchdog=Watchdog(grace=1, deadline=5, slow_slots=1), max_bytes=MAX
    )
    status, _, _ = _call(guard, server, 10)
    assert status.startswith("400")
    assert seen == []


def test_oversized_and_unsocketed_requests_are_left_to_the_app(pair: Any) -> None:
    """A body announced over the limit, or no gunicorn socket: the app reads it itself."""
    server, _ = pair
    seen: list[bytes] = []
    guard = BodyDeadline(
        _app(seen), watchdog=Watchdog(grace=1, deadline=5, slow_slots=1), max_bytes=MAX
    )
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": "3",
        "wsgi.input": io.BytesIO(b"abc"),
    }
    list(guard(environ, lambda *a: None))
    assert seen == [b"abc"]
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(MAX + 1),
        "wsgi.input": io.BytesIO(b"big"),
        "gunicorn.socket": server,
    }
    list(guard(environ, lambda *a: None))
    assert seen[-1] == b"big"


def test_slow_slots_are_shared_and_freed(pair: Any) -> None:
    """Past the grace the first upload takes the only slot, the second is cut as busy;
    finishing frees the slot and the deadline cuts what still runs."""
    server, _ = pair
    other_server, other_client = socket.socketpair()
    with other_server, other_client:
        clock = _Clock()
        watchdog = Watchdog(grace=0.5, deadline=5, slow_slots=1, clock=clock)
        first = watchdog.watch(server)
        second = watchdog.watch(other_server)
        clock.now += 0.6
        watchdog.expire_due()
        assert (first.slow, first.cut) == (True, None)
        assert (second.slow, second.cut) == (False, "busy")
        assert other_server.recv(10) == b""  # its read side is shut: EOF, no block
        third = watchdog.watch(other_server)
        watchdog.finish(first)
        assert watchdog.slow_in_use == 0
        clock.now += 0.6
        watchdog.expire_due()
        assert third.slow is True
        clock.now += 5
        watchdog.expire_due()
        assert third.cut == "timeout"
        assert watchdog.slow_in_use == 0


def test_the_watchdog_thread_cuts_on_its_own(pair: Any) -> None:
    """Without anyone calling expire_due, a stalled read is woken by the deadline."""
    server, _ = pair
    watchdog = Watchdog(grace=0.05, deadline=0.2, slow_slots=1)
    watch = watchdog.watch(server)
    started = time.monotonic()
    assert server.recv(10) == b""  # blocked until the watchdog shut the read side
    watchdog.finish(watch)
    assert watch.cut == "timeout"
    assert time.monotonic() - started < 5


class _CountingCondition:
    """threading.Condition that counts notify() calls (wakes of the watchdog thread)."""

    def __init__(self) -> None:
        self._inner = threading.Condition()
        self.notified = 0

    def __enter__(self) -> Any:
        return self._inner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    def notify(self) -> None:
        self.notified += 1
        self._inner.notify()

    def wait(self, timeout: float | None = None) -> bool:
        return self._inner.wait(timeout)


def test_the_watchdog_thread_is_woken_only_for_a_sooner_instant(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A busy web process: 100 uploads under watch wake the watchdog thread once, not 100 times
    (issue 19: a thread switch per accepted webhook). Deadlines are still kept."""
    server, _ = pair
    clock = _Clock()
    watchdog = Watchdog(grace=1.0, deadline=5.0, slow_slots=1, clock=clock)
    condition = _CountingCondition()
    watchdog._cond = condition  # type: ignore[assignment]
    watches = []
    for _ in range(100):
        watches.append(watchdog.watch(server))
        clock.now += 0.001
    assert condition.notified == 1
    for watch in watches[1:]:
        watchdog.finish(watch)
    clock.now += 1.0
    watchdog.expire_due()  # the first is slow now: it takes the one slot
    assert watches[0].slow and watches[0].cut is None
    assert (
        condition.notified == 1
    )  # pushed by the watchdog's own pass, which sleeps until it next
    clock.now += 5.0
    watchdog.expire_due()
    assert watches[0].cut == "timeout"


def test_the_watchdog_does_not_wake_for_every_upload() -> None:
    """Under a steady stream of prompt uploads the watchdog wakes a few times, not once each.

    Every watch stays in its heap until its grace ends (most of them long
    done), so the earliest instant was always about one request away: the
    thread woke per request, a thread switch per accepted webhook (issue 19).
    """
    rounds = 0

    class Counting(Watchdog):
        def expire_due(self) -> None:
            nonlocal rounds
            rounds += 1
            super().expire_due()

    watchdog = Counting(grace=0.02, deadline=1, slow_slots=1)
    left, right = socket.socketpair()
    try:
        started = time.monotonic()
        uploads = 0
        while time.monotonic() - started < 0.5:
            watchdog.finish(watchdog.watch(left))  # a prompt upload: done at once
            uploads += 1
            time.sleep(0.0005)
        assert uploads > 300
        # One round per TICK_SECONDS (0.05 s) at most, with room for a slow machine.
        assert rounds <= 0.5 / TICK_SECONDS + 5, (rounds, uploads)
    finally:
        left.close()
        right.close()
