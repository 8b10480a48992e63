"""Helpers for tests that sign webhooks or run the real processes.

Reusable by any end-to-end test::

    env = sidecar_env(tmp_path, SIDECAR_ZENDESK_URL=fake.url)
    with start_gunicorn(env) as web, start_worker(env) as worker:
        post_webhook(web.url, body, secret=env["SIDECAR_WEBHOOK_SECRET"])
        worker.wait_for_log(lambda e: e["msg"] == "would reconcile ticket 7")

Every process started here is killed when its ``with`` block ends, and its
output (stdout + stderr) is kept in ``.output()`` / parsed with ``.json_logs()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar.webhooks.signature import sign

SAMPLES = Path(__file__).parent / "samples"
TEST_SECRET = "test-webhook-secret"
PATIENCE = float(os.environ.get("SIDECAR_TEST_PATIENCE", "3"))
SIDECAR = [sys.executable, "-c", "import sys; from sidecar.cli import main; main()"]


def sample(case: str) -> tuple[bytes, dict[str, str]]:
    """Return (raw body, headers) of tests/samples/zendesk/<case>."""
    folder = SAMPLES / "zendesk" / case
    headers = json.loads((folder / "headers.json").read_text())
    return (folder / "body.json").read_bytes(), headers


def iso_now() -> str:
    """Return the current UTC time the way Zendesk formats signature timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    body: bytes,
    *,
    secret: str = TEST_SECRET,
    timestamp: str | None = None,
    invocation_id: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the headers Zendesk would send with ``body`` (content type included)."""
    timestamp = timestamp or iso_now()
    headers = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": sign(body, timestamp=timestamp, secret=secret),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }
    if invocation_id is not None:
        headers["X-Zendesk-Webhook-Invocation-Id"] = invocation_id
    headers.update(extra or {})
    return headers


# Ports handed to the servers tests start come from below the kernel's
# ephemeral range: a port from that range (what bind(0) gives) can become the
# source port of any outgoing connection (a Redis client, an HTTP request)
# before the server binds it, and gunicorn then failed with "Address already in
# use" under a full parallel run.
_PORTS = random.Random(os.getpid() ^ time.monotonic_ns())
_LOWEST_PORT = 10_000


def _ephemeral_start() -> int:
    try:
        return int(
            Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        )
    except (OSError, ValueError, IndexError):
        return 0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range."""
    start = _ephemeral_start()
    for _ in range(100 if start > _LOWEST_PORT + 1_000 else 0):
        port = _PORTS.randrange(_LOWEST_PORT, start)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # no room below the range: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """Make one HTTP request; return (status, headers, body) for any status."""
    request = urllib.request.Request(
        url, data=body, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def post_webhook(
    base_url: str,
    body: bytes | Mapping[str, Any],
    *,
    secret: str = TEST_SECRET,
    invocation_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a signed webhook to ``base_url``/webhooks/zendesk; return (status, JSON)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, answer = http(
        "POST",
        base_url.rstrip("/") + "/webhooks/zendesk",
        body=raw,
        headers=signed_headers(raw, secret=secret, invocation_id=invocation_id),
    )
    return status, json.loads(answer or b"{}")


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return it or raise.

    ``timeout`` is patience, not a performance claim: it is multiplied by
    SIDECAR_TEST_PATIENCE (default 3), because the suite runs several test
    processes on a 2-core machine and a loaded machine is slow, not wrong.
    """
    deadline = time.monotonic() + timeout * PATIENCE
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_for_url(
    url: str,
    *,
    timeout: float = 15.0,
    status: int = 200,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Wait until GET ``url`` answers ``status`` (fail at once when not ``alive()``)."""

    def answered() -> bool:
        if not alive():
            raise TimeoutError("the process exited")
        try:
            return http("GET", url, timeout=1.0)[0] == status
        except OSError:
            return False

    wait_for(answered, timeout=timeout, interval=0.1)


class Process:
    """A child process whose combined output is captured line by line."""

    def __init__(
        self, args: list[str], *, env: Mapping[str, str], cwd: str | Path
    ) -> None:
        self.args = args
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.popen = subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so stop() can signal its whole group
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.popen.stdout is not None
        try:
            for line in self.popen.stdout:
                with self._lock:
                    self._lines.append(line.rstrip("\n"))
        except (ValueError, OSError):
            # stop() closed the pipe while this thread, slowed by a loaded
            # machine, was still reading: there is nothing more to keep.
            return

    def output(self) -> str:
        """Everything the process printed so far."""
        with self._lock:
            return "\n".join(self._lines)

    def json_logs(self) -> list[dict[str, Any]]:
        """The JSON log lines printed so far (other lines skipped)."""
        with self._lock:
            return json_entries(list(self._lines))

    def wait_for_log(
        self, match: Callable[[dict[str, Any]], bool], *, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Wait for a JSON log line that ``match`` accepts; return it."""

        def found() -> dict[str, Any] | None:
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.args} exited early:\n{self.output()}")
            return next((e for e in self.json_logs() if match(e)), None)

        try:
            return wait_for(found, timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"no matching log line:\n{self.output()}") from None

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the process group, wait, kill if needed; return the exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._reader.join(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        return self.popen.returncode


def sidecar_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """Return an environment for sidecar processes: a SQLite queue in ``workdir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SIDECAR_", "PROMETHEUS_")) and key not in {"PORT"}
    }
    env.update(
        {
            "SIDECAR_WEBHOOK_SECRET": TEST_SECRET,
            "SIDECAR_QUEUE_URL": f"sqlite:///{workdir / 'queue.db'}",
            "WEB_CONCURRENCY": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def _running(
    args: list[str],
    env: Mapping[str, str],
    *,
    ready_url: str | None,
    port: int | None,
    cwd: Path | None,
) -> Iterator[Process]:
    proc = Process(args, env=env, cwd=cwd or tempfile.gettempdir())
    try:
        if port is not None:
            proc.url = f"http://127.0.0.1:{port}"
        if ready_url is not None:
            try:
                wait_for_url(
                    proc.url + ready_url, alive=lambda: proc.popen.poll() is None
                )
            except (TimeoutError, AssertionError):
                raise AssertionError(
                    f"{args} did not come up:\n{proc.output()}"
                ) from None
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def start_gunicorn(
    env: Mapping[str, str],
    *,
    app: str = "sidecar.wsgi:app",
    port: int | None = None,
    cwd: Path | None = None,
) -> Iterator[Process]:
    """Run real gunicorn (sidecar.gunicorn_conf) on 127.0.0.1; ``.url`` is its base."""
    port = port or free_port()
    args = [
        sys.executable, "-m", "gunicorn",
        "-c", "python:sidecar.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}",
        app,
    ]  # fmt: skip
    with _running(args, env, ready_url="/healthz", port=port, cwd=cwd) as proc:
        yield proc


FRONT_TEMPLATE = (
    Path(__file__).resolve().parents[1]
    / "deploy"
    / "k8s"
    / "front"
    / "default.conf.template"
)
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
    None,
)


def render_front(variables: Mapping[str, str]) -> str:
    """Render the deploy kit's nginx template as the nginx image's entrypoint does.

    Its envsubst replaces ``${NAME}`` only for variables that are set, so nginx's
    own ``$host``-style variables pass through; a name the template uses but
    ``variables`` lacks stays unreplaced, and nginx refuses the config.
    """
    text = FRONT_TEMPLATE.read_text()
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    return text


@contextlib.contextmanager
def start_front(upstream_url: str, *, workdir: Path) -> Iterator[Process]:
    """Run the deploy kit's nginx front (Debian's nginx) on 127.0.0.1 before ``upstream_url``."""
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    upstream = upstream_url.removeprefix("http://")
    workdir.mkdir(parents=True, exist_ok=True)
    site = workdir / "default.conf"
    site.write_text(
        render_front({"FRONT_UPSTREAM": upstream, "FRONT_PORT": f"127.0.0.1:{port}"})
    )
    # What the nginx image's own nginx.conf gives the template (an http block
    # that includes it); everything else lives in the template.
    main = workdir / "nginx.conf"
    main.write_text(
        "daemon off;\n"
        "worker_processes 1;\n"
        f"pid {workdir}/nginx.pid;\n"
        "error_log stderr warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {workdir}/client_body;\n"
        f"    proxy_temp_path {workdir}/proxy;\n"
        f"    fastcgi_temp_path {workdir}/fastcgi;\n"
        f"    uwsgi_temp_path {workdir}/uwsgi;\n"
        f"    scgi_temp_path {workdir}/scgi;\n"
        f"    include {site};\n"
        "}\n"
    )
    args = [NGINX, "-p", str(workdir), "-e", "stderr", "-c", str(main)]
    with _running(
        args, os.environ, ready_url="/healthz", port=port, cwd=workdir
    ) as proc:
        yield proc


@contextlib.contextmanager
def start_worker(
    env: Mapping[str, str], *, workers: int = 2, cwd: Path | None = None
) -> Iterator[Process]:
    """Run `sidecar worker`; wait until it logged that it started."""
    args = [*SIDECAR, "worker", "--workers", str(workers)]
    with _running(args, env, ready_url=None, port=None, cwd=cwd) as proc:
        proc.wait_for_log(lambda e: e.get("msg") == "worker started")
        yield proc


@contextlib.contextmanager
def start_serve(
    env: Mapping[str, str], *, port: int | None = None, cwd: Path | None = None
) -> Iterator[Process]:
    """Run `sidecar serve` (gunicorn + worker) on 127.0.0.1; ``.url`` is its base."""
    port = port or free_port()
    args = [*SIDECAR, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with _running(args, env, ready_url="/healthz", port=port, cwd=cwd) as proc:
        yield proc


# Redis tests: the server and database come from the environment (CI may point
# them elsewhere); each test gets its own queue name and deletes only its keys.
REDIS_TEST_URL = os.environ.get("SIDECAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextlib.contextmanager
def redis_queue_url() -> Iterator[str]:
    """Yield SIDECAR_TEST_REDIS_URL with a queue name of its own (``?queue=t…``).

    Skips the test when no Redis answers. Afterwards deletes the keys that carry
    that name (every key the queue writes does) and nothing else: never a
    FLUSHDB, which would wipe other tests' or a developer's data.
    """
    import pytest
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server reachable at {REDIS_TEST_URL}")
    with scratch_redis_queue(REDIS_TEST_URL) as url:
        yield url


@contextlib.contextmanager
def scratch_redis_queue(base_url: str) -> Iterator[str]:
    """``base_url`` with a queue name of its own; its keys (only those) deleted after.

    For tests and benchmarks alike. Raises redis.ConnectionError when no
    Redis answers at ``base_url``.
    """
    import uuid

    import redis

    name = f"t{uuid.uuid4().hex[:16]}"
    conn = redis.Redis.from_url(base_url, socket_timeout=1)
    conn.ping()
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}queue={name}"
    finally:
        keys = list(conn.scan_iter(match=f"*{name}*", count=1000))
        if keys:
            conn.delete(*keys)
        conn.close()


def json_entries(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON objects among printed lines (other lines skipped)."""
    entries = []
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries
