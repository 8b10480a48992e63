"""The web app and the worker in the test's own process: no gunicorn, no child processes.

``running_sidecar(config)`` opens the queue, builds the app with ``create_app``
and runs the worker's lanes (sidecar.tasks.worker: the Runner, both lanes'
Huey consumers and the lease watchdog) on threads, with the handlers
``build_handler`` wires, as ``sidecar worker`` does. Webhooks go through the
Flask test client. Much cheaper than starting processes, for tests whose point
is what the sidecar decides and sends, not how its processes live and die.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from sidecar.app import create_app
from sidecar.config import Config
from sidecar.tasks.handler import build_handler
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import LanesConsumer, serve_jobs, watch_leases
from tests.support import signed_headers

# What run_worker gives its consumers (sidecar/tasks/worker.py), minus periodic
# jobs: a test's tickets are reconciled by its webhooks, not by the minute sweep.
CONSUMER_OPTIONS: dict[str, Any] = {
    "worker_type": "thread",
    "periodic": False,
    "initial_delay": 0.01,
    "backoff": 1.5,
    "max_delay": 0.1,
    "scheduler_interval": 1,
    "shutdown_timeout": 5.0,
}


@dataclass
class Sidecar:
    """A running in-process sidecar: the app, its queue, a webhook sender."""

    app: Flask
    queue: JobQueue
    config: Config

    def deliver(self, body: Mapping[str, Any], *, invocation_id: str) -> int:
        """POST a signed webhook through the app; return the HTTP status."""
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
def running_sidecar(
    config: Config, *, workers: int = 4, urgent_workers: int = 2
) -> Iterator[Sidecar]:
    """Run the app and a worker (both lanes, the watchdog) in this process."""
    queue = JobQueue.from_url(config.queue_url)
    # Huey's Consumer.start() installs SIGINT/SIGTERM/SIGHUP handlers; give the
    # test process its own back afterwards.
    saved = {
        s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    stop = threading.Event()
    consumer: LanesConsumer | None = None
    try:
        runner = serve_jobs(
            queue,
            lambda: build_handler(config, queue=queue),
            base_delay=config.retry_base_seconds,
        )
        runner.handlers()
        urgent = queue.urgent_huey.create_consumer(
            **{**CONSUMER_OPTIONS, "workers": urgent_workers}
        )
        consumer = LanesConsumer(
            queue.huey, others=[urgent], workers=workers, **CONSUMER_OPTIONS
        )
        consumer.start()
        watchdog = threading.Thread(
            target=watch_leases,
            args=(queue,),
            kwargs={"runner": runner, "stop": stop},
            daemon=True,
        )
        watchdog.start()
        yield Sidecar(create_app(config, queue=queue), queue, config)
    finally:
        stop.set()
        if consumer is not None:
            consumer.stop(graceful=True)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        queue.close()
