"""`sidecar serve` (web + worker in one command) and `sidecar worker`."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click

from sidecar import logs, metrics_dir
from sidecar.commands.context import cli_context
from sidecar.config import Config
from sidecar.errors import QueueUnavailable
from sidecar.queue.backend import sqlite_path
from sidecar.tasks.handler import build_handler
from sidecar.tasks.worker import URGENT_WORKERS, run_worker

log = logging.getLogger("sidecar.worker")

SECRET_SUFFIX = "-webhook-secret"
STOP_TIMEOUT_SECONDS = 30.0


@click.command()
@click.option("--workers", default=4, show_default=True, help="Worker threads.")
@click.option(
    "--urgent-workers",
    default=URGENT_WORKERS,
    show_default=True,
    help="Threads of the urgent lane (pages of SEV 1/2 tickets), besides --workers.",
)
def worker(workers: int, urgent_workers: int) -> None:
    """Run the queue worker (Huey consumer) that reconciles tickets."""
    context = cli_context()
    logs.configure(context.config.log_level)
    for warning in context.config.warnings():  # loud, at start (docs/decisions.md)
        log.warning(warning, extra={"config": "warning"})
    if context.config.worker_metrics_listen:
        # A worker in its own container: Prometheus scrapes it here (jobs, calls).
        from sidecar.scrape import serve_worker_metrics

        serve_worker_metrics(context.config.worker_metrics_listen)
    # Setup errors (field ids, policy or entitlements file) say what to fix.
    config, queue = context.config, context.queue(create=True)
    # The wiring: the worker runs what the handler module builds from the config.
    run_worker(
        config,
        queue,
        handlers=lambda: build_handler(config, queue=queue),
        workers=workers,
        urgent_workers=urgent_workers,
    )


def secret_file(config: Config) -> Path:
    """Where `sidecar serve` keeps its generated webhook secret (beside the queue)."""
    if config.queue_url.startswith("sqlite:"):
        queue_file = sqlite_path(config.queue_url)
        return queue_file.with_name(queue_file.name + SECRET_SUFFIX)
    return Path(".sidecar") / ("sidecar" + SECRET_SUFFIX)


def ensure_secret(path: Path) -> tuple[str, bool]:
    """Return the secret stored at ``path``, creating it (mode 0600) if missing.

    The bool is True when it was generated now.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        secret = path.read_text().strip()
        if secret:
            return secret, False
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret, True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 8000).")
@click.option("--workers", default=4, show_default=True, help="Worker threads.")
def serve(host: str, port: int | None, workers: int) -> None:
    """Run the webhook receiver (gunicorn) and the worker together."""
    context = cli_context()
    config = context.config
    for warning in config.warnings():  # the worker logs them too, at its start
        click.echo(f"sidecar serve: warning: {warning}", err=True)
    # Validates the URL and creates the SQLite file (serve owns its queue).
    queue = context.queue(create=True)
    description = queue.description
    try:
        queue.ping()
    except QueueUnavailable as exc:
        # Not a reason to refuse: the web answers 503 (Zendesk retries) and the
        # worker waits with backoff (docs/decisions.md, "Operator configuration").
        description += (
            f" (unreachable now: {str(exc).rstrip('.')}; the web answers 503 and "
            "the worker waits for it)"
        )
    context.close()
    env = dict(os.environ)
    port = port or config.port
    env["PORT"] = str(port)
    secret_note = "from SIDECAR_WEBHOOK_SECRET"
    if not config.webhook_secret:
        path = secret_file(config)
        secret, created = ensure_secret(path)
        env["SIDECAR_WEBHOOK_SECRET"] = secret
        secret_note = (
            f"{'generated into' if created else 'read from'} {path} (mode 0600); "
            "set SIDECAR_WEBHOOK_SECRET to your Zendesk webhook's signing secret "
            "to receive real deliveries"
        )
    # One metrics directory for gunicorn's workers and the queue worker, so the
    # web's /metrics shows both; the worker then needs no port of its own.
    own_metrics_dir = metrics_dir.ensure(env)
    env.pop("SIDECAR_WORKER_METRICS_LISTEN", None)
    shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    base = f"http://{shown_host}:{port}"
    zendesk = (
        f"connected ({config.zendesk_subdomain or config.zendesk_url})"
        if config.zendesk_connected
        else "not connected (set SIDECAR_ZENDESK_SUBDOMAIN and credentials)"
    )
    click.echo(f"sidecar serve: webhook URL  {base}/webhooks/zendesk")
    click.echo(
        f"               health       {base}/healthz  {base}/readyz  {base}/metrics"
    )
    click.echo(f"               queue        {description}")
    click.echo(f"               secret       {secret_note}")
    click.echo(f"               zendesk      {zendesk}")
    click.echo("               (Ctrl-C stops web and worker)")
    web_cmd = [
        sys.executable, "-m", "gunicorn",
        "-c", "python:sidecar.gunicorn_conf",
        "--bind", f"{host}:{port}",
        "sidecar.wsgi:app",
    ]  # fmt: skip
    worker_cmd = [
        sys.executable, "-c", "from sidecar.cli import main; main()",
        "worker", "--workers", str(workers),
    ]  # fmt: skip
    try:
        code = _supervise({"web (gunicorn)": web_cmd, "worker": worker_cmd}, env=env)
    finally:
        metrics_dir.remove(own_metrics_dir)
    sys.exit(code)


def _supervise(commands: dict[str, list[str]], *, env: dict[str, str]) -> int:
    """Run the named commands until one exits or we get SIGINT/SIGTERM; stop all."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    # Own process groups: a terminal's Ctrl-C reaches only us, and we stop the
    # children gracefully (SIGTERM) instead of both getting a hard SIGINT.
    named = {
        name: subprocess.Popen(cmd, env=env, process_group=0)
        for name, cmd in commands.items()
    }
    procs = list(named.values())
    try:
        code = 0
        while not stopping:
            exited = [(n, p) for n, p in named.items() if p.poll() is not None]
            if exited:
                name, proc = exited[0]
                code = proc.returncode or 1
                others = ", ".join(n for n in named if n != name)
                click.echo(
                    f"sidecar serve: the {name} (pid {proc.pid}) exited with "
                    f"{_exit_status(proc.returncode)} (its log lines above say "
                    f"why); stopping the {others}",
                    err=True,
                )
                break
            time.sleep(0.2)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_status(returncode: int) -> str:
    """Describe a child's exit: "status 1", or the signal that killed it."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"status {returncode}"


COMMANDS = [serve, worker]
