"""Gunicorn settings: ``gunicorn -c python:sidecar.gunicorn_conf sidecar.wsgi:app``.

Environment: PORT (default 8000), WEB_CONCURRENCY (worker processes, default 2),
WEB_THREADS (threads per worker, default 16).
/metrics sums all workers: the master gives them a shared metrics directory
(sidecar.metrics_dir) and removes it at exit; PROMETHEUS_MULTIPROC_DIR, when an
operator sets it, names that directory instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from gunicorn import glogging

from sidecar import metrics_dir
from sidecar.config import Config
from sidecar.errors import ConfigError


class Logger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, without an access line per request unless asked for.

    The app logs one JSON line per webhook; gunicorn's access log would repeat
    it as text (docs/decisions.md, "Web logs and gunicorn"). ``accesslog =
    None`` alone does not turn it off: gunicorn logs access lines whenever a
    logging config is given (its ``access_log_enabled``), and ``logconfig_dict``
    below is one, so every request wrote a second line and paid for its
    atoms (issue 19). ``--access-logfile`` still turns it on.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not one request per process: a slow upload holds one thread, not a
# whole worker, and sidecar.ingress cuts it after SIDECAR_BODY_READ_SECONDS
# (gunicorn has no request read timeout of its own). docs/decisions.md,
# "Ingress and parsing hardening".
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
# With threads this is the worker's heartbeat (its main loop), not a request
# deadline: a worker silent this long is stuck and better restarted.
timeout = 8
graceful_timeout = 20
keepalive = 5
# gunicorn's control socket is one fixed path per user: two instances on a host
# (web replicas, tests, a benchmark) would take it from each other. Unused here.
control_socket_disable = True
# The app logs one JSON line per webhook; gunicorn's access log would repeat it.
accesslog = None
logger_class = "sidecar.gunicorn_conf.Logger"
errorlog = "-"
loglevel = "info"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "sidecar.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.access": {
            "handlers": ["stdout"],
            "level": "INFO",
            "propagate": False,
        },
    },
}

# The metrics directory this master created, removed again by on_exit.
_metrics_dir: Path | None = None


def on_starting(server: object) -> None:
    """Refuse to start without a webhook secret, before forking any worker."""
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        sys.exit(f"sidecar: {exc}")
    if not config.webhook_secret:
        sys.exit(
            "sidecar: SIDECAR_WEBHOOK_SECRET is not set. Set it to the Zendesk "
            "webhook's signing secret (or use `sidecar serve` for a local quickstart)."
        )
    # Before any worker is forked (they inherit the variable), and before
    # anything here imports prometheus_client, which reads it once.
    global _metrics_dir
    _metrics_dir = metrics_dir.ensure(os.environ)


def child_exit(server: object, worker: object) -> None:
    """Tell prometheus_client a worker is gone (multiprocess mode)."""
    if metrics_dir.enabled(os.environ):
        from prometheus_client import multiprocess

        # prometheus_client leaves this function unannotated; gunicorn's Worker has pid.
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]


def on_exit(server: object) -> None:
    """Remove the metrics directory the master created (not an operator's)."""
    metrics_dir.remove(_metrics_dir)
