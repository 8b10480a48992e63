"""Gunicorn settings: ``gunicorn -c python:sidecar.gunicorn_conf sidecar.wsgi:app``.

Environment: PORT (default 8000), WEB_CONCURRENCY (worker processes, default 2),
PROMETHEUS_MULTIPROC_DIR (optional; /metrics sums all workers when set).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sidecar.config import Config
from sidecar.errors import ConfigError

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# Zendesk gives up after 12 s (some say 10 s); a request here takes milliseconds,
# so anything near this is stuck, and the worker is better restarted.
timeout = 8
graceful_timeout = 20
keepalive = 5
# gunicorn's control socket is one fixed path per user: two instances on a host
# (web replicas, tests, a benchmark) would take it from each other. Unused here.
control_socket_disable = True
# The app logs one JSON line per webhook; gunicorn's access log would repeat it.
accesslog = None
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
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        # Stale files from a previous run would add old counts to the new ones.
        Path(multiproc).mkdir(parents=True, exist_ok=True)
        for stale in Path(multiproc).glob("*.db"):
            stale.unlink()


def child_exit(server: object, worker: object) -> None:
    """Tell prometheus_client a worker is gone (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
