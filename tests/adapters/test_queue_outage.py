"""With the queue's Redis down: one line with backoff, not a traceback flood."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
import redis

PATIENCE = float(os.environ.get("SIDECAR_TEST_PATIENCE", "3"))


def _collect(stream: IO[str]) -> list[str]:
    """Lines of a child's stream, gathered by a thread as they come."""
    lines: list[str] = []

    def read() -> None:
        with stream:  # closed at the child's end of file
            lines.extend(stream)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(lines: list[str], found: Callable[[str], bool]) -> None:
    """Wait (a loaded machine starts Python slowly) until a line satisfies ``found``."""
    deadline = time.monotonic() + 20 * PATIENCE
    while not any(found(x) for x in list(lines)):
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_worker_waits_for_a_closed_redis_with_one_line_per_attempt(
    tmp_path: Path,
) -> None:
    """`sidecar worker` against a closed Redis port logs a few lines in 6 s, no traceback."""
    env = {
        **os.environ,
        "SIDECAR_QUEUE_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "SIDECAR_ZENDESK_SUBDOMAIN": "acme",
        "SIDECAR_ZENDESK_EMAIL": "sidecar@acme.test",
        "SIDECAR_ZENDESK_API_TOKEN": "fake-api-token",
        "SIDECAR_ZENDESK_URL": f"http://127.0.0.1:{closed_port()}",
        "SIDECAR_SEVERITY_FIELD_ID": "1",
        "SIDECAR_DUE_AT_FIELD_ID": "2",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", "from sidecar.cli import main; main()", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert worker.stdout is not None
    seen = _collect(worker.stdout)
    # Six seconds from the first notice, however slowly the worker started.
    _wait_for(seen, lambda x: "queue unreachable" in x)
    time.sleep(6)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=10 * PATIENCE)
    time.sleep(0.5)  # the reader thread takes the last lines
    out = "".join(seen)
    lines = out.splitlines()
    # 0, 1, 3 and 7 s into the outage (backoff 1, 2, 4 s): 3 or 4 lines, not hundreds.
    assert 2 <= len(lines) <= 5, out[:2000]
    assert all('"queue unreachable (redis redis://127.0.0.1:' in x for x in lines)
    assert "Traceback" not in out
    assert worker.returncode == 0  # SIGTERM while waiting is a clean stop


def test_hueys_tracebacks_fold_into_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fifty storage errors logged by Huey's loops within a second become one line."""
    from sidecar.tasks.outage import OutageFilter, OutageLog

    now = [100.0]
    outage = OutageLog("redis redis://127.0.0.1:1/0", clock=lambda: now[0])
    huey_log = logging.getLogger("huey.consumer.Worker-1")
    handler_filter = OutageFilter(outage)
    try:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
    except redis.ConnectionError:
        record = huey_log.makeRecord(
            huey_log.name, logging.ERROR, __file__, 1, "Error reading from queue",
            (), sys.exc_info(),
        )  # fmt: skip
    kept = []
    with caplog.at_level(logging.WARNING, logger="sidecar.queue"):
        for _ in range(50):
            kept.append(handler_filter.filter(record))
            now[0] += 0.01
        now[0] += 2
        handler_filter.filter(record)
        outage.recovered()
    assert not any(kept)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert messages[0].startswith("queue unreachable (redis redis://127.0.0.1:1/0)")
    assert "50 failures since the last notice" in messages[1]
    assert messages[2].startswith("queue reachable again")
    other = logging.LogRecord("huey", logging.ERROR, __file__, 1, "x", (), None)
    assert handler_filter.filter(other)  # not a storage error: kept as it is


def test_a_failed_start_names_the_process_and_its_exit_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When one child exits, serve says which (name, pid) and with what status."""
    from sidecar.commands.run import _supervise

    code = _supervise(
        {
            "web (gunicorn)": [sys.executable, "-c", "import time; time.sleep(30)"],
            "worker": [sys.executable, "-c", "import sys; sys.exit(4)"],
        },
        env=dict(os.environ),
    )
    assert code == 4
    err = capsys.readouterr().err
    assert "sidecar serve: the worker (pid " in err
    assert "exited with status 4" in err and "stopping the web (gunicorn)" in err


def test_serve_says_the_queue_is_unreachable_and_a_custom_plan_at_start(
    tmp_path: Path,
) -> None:
    """`sidecar serve` starts (web 503, worker waiting), saying both things in its banner."""
    port = closed_port()
    env = {
        **os.environ,
        "SIDECAR_QUEUE_URL": f"redis://127.0.0.1:{port}/0",
        "SIDECAR_ORG_PLANS": "ultra,enterprise,premier_plus",
        "SIDECAR_WEBHOOK_SECRET": "s3cret-for-the-test",
    }
    serve = subprocess.Popen(
        [sys.executable, "-c", "from sidecar.cli import main; main()", "serve",
         "--port", str(closed_port())],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert serve.stdout is not None and serve.stderr is not None
    seen_out, seen_err = _collect(serve.stdout), _collect(serve.stderr)
    _wait_for(seen_out, lambda x: "queue   " in x)
    _wait_for(seen_err, lambda x: "SIDECAR_ORG_PLANS=" in x)
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=40 * PATIENCE)
    time.sleep(0.5)  # the reader threads take the last lines
    out, err = "".join(seen_out), "".join(seen_err)
    queue_line = next(x for x in out.splitlines() if "queue   " in x)
    assert f"redis://127.0.0.1:{port}/0 (unreachable now:" in queue_line
    assert "the web answers 503 and the worker waits for it" in queue_line
    assert "sidecar serve: warning: SIDECAR_ORG_PLANS=" in err
    assert "'premier_plus' is not a Zendesk plan" in err
    assert "Traceback" not in out + err
