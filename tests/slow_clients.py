"""Hostile HTTP clients that send a request a few bytes at a time (slowloris).

Used by the ingress regression test and ``bench/slow_clients.py``::

    with SlowClients(web.url, count=2) as slow:
        slow.wait_until_sending()
        ...  # normal webhooks must still be answered
    slow.cut  # how many times the server ended a slow upload

Each client opens a connection, sends complete headers announcing a large body
(100 kB by default), then trickles the body; whenever the server answers or
closes the connection it counts the cut and starts over, so the pressure lasts
as long as the ``with`` block. With ``slow_headers=True`` a client trickles the
request headers themselves (one byte per interval, never finishing them), which
is what holds a thread of a server that reads headers in a worker thread.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from urllib.parse import urlsplit


class SlowClients:
    """``count`` threads, each uploading ``body_size`` bytes at ``rate`` bytes/s."""

    def __init__(
        self,
        base_url: str,
        *,
        count: int,
        body_size: int = 100_000,
        rate: float = 4.0,
        path: str = "/webhooks/zendesk",
        slow_headers: bool = False,
    ) -> None:
        parts = urlsplit(base_url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._count = count
        self._body_size = body_size
        self._interval = 1.0 / rate
        self._path = path
        self._slow_headers = slow_headers
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # connections opened (headers sent)
        self.cut = 0  # uploads the server ended (answer or close)
        self.answers: list[str] = []  # status lines the server sent back

    def __enter__(self) -> SlowClients:
        for n in range(self._count):
            thread = threading.Thread(target=self._run, name=f"slow-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def wait_until_sending(self, timeout: float = 10.0) -> None:
        """Wait until every client has a connection open and is trickling."""
        deadline = time.monotonic() + timeout
        while self.connections < self._count:
            if time.monotonic() > deadline:
                raise TimeoutError("slow clients could not connect")
            time.sleep(0.02)

    def _headers(self) -> bytes:
        host, port = self._address
        return (
            f"POST {self._path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
            "X-Zendesk-Webhook-Signature: c2xvdw==\r\n"
            "X-Zendesk-Webhook-Signature-Timestamp: 2030-01-01T00:00:00Z\r\n"
            f"Content-Length: {self._body_size}\r\n\r\n"
        ).encode()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection(self._address, timeout=5)
            except OSError:
                time.sleep(0.1)
                continue
            with sock:
                # Slow headers: the request line, then the headers byte by byte
                # (an endless run of header lines); slow body: whole headers, then
                # the body byte by byte.
                first, rest = (
                    (
                        self._headers().split(b"\r\n", 1)[0] + b"\r\n",
                        self._endless_headers(),
                    )
                    if self._slow_headers
                    else (
                        self._headers() + b"{",
                        itertools.repeat(b" ", self._body_size - 1),
                    )
                )
                try:
                    sock.sendall(first)
                except OSError:
                    continue
                with self._lock:
                    self.connections += 1
                self._trickle(sock, rest)

    @staticmethod
    def _endless_headers() -> Iterator[bytes]:
        for n in itertools.count():
            yield from (bytes([c]) for c in f"X-Slow-{n}: a\r\n".encode())

    def _trickle(self, sock: socket.socket, rest: Iterable[bytes]) -> None:
        for piece in rest:
            if self._stop.is_set():
                return
            readable, _, _ = select.select([sock], [], [], self._interval)
            if readable:
                self._record_cut(sock)
                return
            try:
                sock.send(piece)
            except OSError:
                self._record_cut(sock)
                return

    def _record_cut(self, sock: socket.socket) -> None:
        answer = b""
        with contextlib.suppress(OSError):
            sock.settimeout(1.0)
            answer = sock.recv(200)
        with self._lock:
            self.cut += 1
            if answer:
                self.answers.append(answer.split(b"\r\n", 1)[0].decode("latin-1"))
