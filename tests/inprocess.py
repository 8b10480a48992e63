"""The sidecar inside the test process, for scenarios that need no process of their own.

``start_inprocess(env)`` stands in for ``start_serve(env)`` (tests/support.py)
and answers to the same calls (``.url``, ``.json_logs()``, ``.output()``,
``.wait_for_log()``), so a scenario reads the same either way.

Run for real: the queue the environment names (a real SQLite file in the
test's directory, or the real Redis), the Flask app of sidecar.app.create_app
built from ``Config.from_env(env)`` and served over real HTTP on 127.0.0.1 by a
werkzeug server thread, the worker's runner (sidecar.tasks.worker: Runner,
both lanes' Huey consumers in threads, the periodic sweep, the lease
watchdog) with the job handlers sidecar.tasks.handler builds, talking to the
strict HTTP doubles in tests/ over real sockets. Every log record is formatted
by sidecar.logs.JsonFormatter and kept as a process's stdout would be.

Not run: gunicorn (its worker processes, gthread pool, timeouts), the
`sidecar serve` supervisor, signals, a second process on the queue, the
multiprocess metrics directory (/metrics shows this process's counters, which
add up across the tests of one pytest worker). Tests about those start the
real processes (tests/support.py): ingest, crashes, slow clients, metrics
across processes.

The worker is started as sidecar.tasks.worker.run_worker starts it, minus the
main-thread loop that waits for a signal: the test stops it when its block ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from huey.signals import SIGNAL_INTERRUPTED
from werkzeug.serving import make_server

from sidecar.app import create_app
from sidecar.config import Config
from sidecar.logs import JsonFormatter
from sidecar.queue.huey_inside import LanesConsumer
from sidecar.tasks.handler import build_handler
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import (
    URGENT_WORKERS,
    serve_jobs,
    watch_leases,
)
from tests.support import free_port, json_entries, signed_headers, wait_for

# What `sidecar serve` gives its worker (`--workers` default); run_worker's options.
WORKERS = 4
CONSUMER_OPTIONS: dict[str, Any] = {
    "worker_type": "thread",
    "periodic": True,
    "initial_delay": 0.01,
    "backoff": 1.5,
    "max_delay": 0.1,
    "scheduler_interval": 1,
    "graceful_signal": "TERM",
    # Process.stop waits 10 s before SIGKILL; a hung job is interrupted sooner here.
    "shutdown_timeout": 5.0,
}
# Loggers `sidecar.logs.configure` quiets, plus werkzeug's access log (gunicorn
# runs with accesslog = None).
QUIET = ("huey", "urllib3", "httpx", "httpx2", "httpcore", "werkzeug")


class _Lines(logging.Handler):
    """Keep every record as the JSON line a process would print."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.lines.append(line)


class InProcess:
    """The web app and the worker running in this process; the Process interface."""

    def __init__(self, lines: _Lines, *, url: str, alive: Callable[[], bool]) -> None:
        self._handler = lines
        self._alive = alive
        self.url = url

    def output(self) -> str:
        """Every log line so far."""
        with self._handler.lock or contextlib.nullcontext():
            return "\n".join(self._handler.lines)

    def json_logs(self) -> list[dict[str, Any]]:
        """The log lines so far, parsed."""
        with self._handler.lock or contextlib.nullcontext():
            return json_entries(list(self._handler.lines))

    def wait_for_log(
        self, match: Callable[[dict[str, Any]], bool], *, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Wait for a log line that ``match`` accepts; return it."""

        def found() -> dict[str, Any] | None:
            if not self._alive():
                raise AssertionError(f"the in-process worker stopped:\n{self.output()}")
            return next((e for e in self.json_logs() if match(e)), None)

        try:
            return wait_for(found, timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"no matching log line:\n{self.output()}") from None


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """Lend this process the variables ``env`` adds (``env:NAME`` secrets), then restore."""
    # SIDECAR_* settings reach the app only through Config.from_env(env).
    added = {
        key: value
        for key, value in env.items()
        if not key.startswith("SIDECAR_") and os.environ.get(key) != value
    }
    before = {key: os.environ.get(key) for key in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _logs(level: str) -> Iterator[_Lines]:
    """Send every record to a fresh _Lines at ``level``, as logs.configure would."""
    lines = _Lines()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *QUIET)}
    root.addHandler(lines)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    try:
        yield lines
    finally:
        root.removeHandler(lines)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


@contextlib.contextmanager
def _no_signal_handlers() -> Iterator[None]:
    """Keep pytest's handlers: Huey's consumers install theirs when they start."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    kept[signal.SIGHUP] = signal.getsignal(signal.SIGHUP)
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)


def _requeue_interrupted(huey: Any) -> None:
    # As run_worker does: a job a hard stop abandoned is enqueued again.
    huey.signal(SIGNAL_INTERRUPTED)(lambda _signal, task: huey.enqueue(task))


@contextlib.contextmanager
def _worker(
    config: Config,
    *,
    workers: int,
    urgent_workers: int = URGENT_WORKERS,
    periodic: bool = True,
) -> Iterator[Callable[[], bool]]:
    """Run both lanes' consumers and the lease watchdog in threads; yield ``alive()``."""
    queue = JobQueue.from_url(config.queue_url)
    stop = threading.Event()
    try:
        runner = serve_jobs(
            queue,
            lambda: build_handler(config, queue=queue),
            base_delay=config.retry_base_seconds,
        )
        runner.handlers()  # a setup error fails the test at once, as it stops the worker
        for huey in (queue.huey, queue.urgent_huey):
            _requeue_interrupted(huey)
        watchdog = threading.Thread(
            target=watch_leases,
            args=(queue,),
            kwargs={"runner": runner, "stop": stop},
            name="lease-watchdog",
            daemon=True,
        )
        watchdog.start()
        options = {**CONSUMER_OPTIONS, "workers": workers, "periodic": periodic}
        urgent = queue.urgent_huey.create_consumer(
            **{**options, "workers": urgent_workers, "periodic": False}
        )
        consumer = LanesConsumer(queue.huey, others=[urgent], **options)
        logging.getLogger("sidecar.worker").info(
            "worker started",
            extra={
                "queue": queue.description,
                "workers": workers,
                "urgent_workers": urgent_workers,
            },
        )
        with _no_signal_handlers():  # signal.signal: the main thread only
            consumer.start()
        try:
            yield lambda: consumer.scheduler.is_alive()
        finally:
            consumer.stop(graceful=True)
            queue.huey.notify_interrupted_tasks()
            stop.set()
            watchdog.join(timeout=10)
    finally:
        queue.close()


@contextlib.contextmanager
def start_inprocess(
    env: Mapping[str, str],
    *,
    workers: int = WORKERS,
    urgent_workers: int = URGENT_WORKERS,
) -> Iterator[InProcess]:
    """Run the web app and the worker of ``env`` in this process until the block ends."""
    config = Config.from_env(env)
    with _environment(env), _logs(config.log_level) as lines:
        web_queue = JobQueue.from_url(config.queue_url)
        try:
            app = create_app(config, queue=web_queue)
            port = free_port()
            server = make_server("127.0.0.1", port, app, threaded=True)
            serving = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},  # shutdown() waits for one poll
                name="web",
                daemon=True,
            )
            serving.start()
            try:
                with _worker(
                    config, workers=workers, urgent_workers=urgent_workers
                ) as alive:
                    yield InProcess(lines, url=f"http://127.0.0.1:{port}", alive=alive)
            finally:
                server.shutdown()
                server.server_close()
                serving.join(timeout=10)
        finally:
            web_queue.close()


@dataclass
class Sidecar:
    """An in-process sidecar driven through Flask's test client: app, queue, config."""

    app: Flask
    queue: JobQueue
    config: Config

    def deliver(self, body: Mapping[str, Any], *, invocation_id: str) -> int:
        """POST a signed webhook through the app; return the HTTP status."""
        import json

        raw = json.dumps(body).encode()
        assert self.config.webhook_secret is not None
        headers = signed_headers(
            raw,
            secret=self.config.webhook_secret.reveal(),
            invocation_id=invocation_id,
        )
        with self.app.test_client() as client:
            return client.post(
                "/webhooks/zendesk", data=raw, headers=headers
            ).status_code


@contextlib.contextmanager
def running_sidecar(config: Config, *, workers: int = WORKERS) -> Iterator[Sidecar]:
    """The app (no HTTP server) and the worker of ``config``, without the minute sweep.

    A test's tickets are reconciled by its webhooks, not by the sweep.
    """
    queue = JobQueue.from_url(config.queue_url)
    try:
        app = create_app(config, queue=queue)
        with _worker(config, workers=workers, periodic=False):
            yield Sidecar(app, queue, config)
    finally:
        queue.close()
