"""/metrics counts every request, whichever gunicorn worker served it.

The Procfile's `web:` line and the Dockerfile start plain gunicorn; nobody sets
PROMETHEUS_MULTIPROC_DIR. Each scrape reaches one worker, so without a shared
metrics directory a scrape reads only that worker's share of the requests.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import connected_env
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.support import (
    SIDECAR,
    free_port,
    http,
    sidecar_env,
    signed_headers,
    start_gunicorn,
    start_serve,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.e2e

REJECTED = 24  # enough that two workers both serve some (checked below)


def _reject(base_url: str) -> int:
    """POST a webhook signed with the wrong secret; return the status (401)."""
    body = json.dumps({"ticket_id": "7", "event": "ticket.changed"}).encode()
    headers = signed_headers(body, secret="not-the-configured-secret")
    return http("POST", base_url + "/webhooks/zendesk", body=body, headers=headers)[0]


def _reject_many(base_url: str, n: int) -> None:
    # Concurrent clients, new connection each: gunicorn's workers share them
    # (more clients than one gthread worker takes in one accept round).
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: _reject(base_url), range(n)))
    assert statuses == [401] * n


def _sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return None


def _unauthorized(base_url: str) -> float | None:
    status, _, body = http("GET", base_url + "/metrics")
    assert status == 200
    return _sample(
        body.decode(), "sidecar_webhook_requests_total", outcome="unauthorized"
    )


def _worker_pids(web_output: str) -> set[int]:
    """The pids gunicorn logged as "Booting worker with pid: N"."""
    pids = set()
    for line in web_output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        msg = str(entry.get("msg", "")) if isinstance(entry, dict) else ""
        if msg.startswith("Booting worker with pid:"):
            pids.add(int(msg.rsplit(":", 1)[1]))
    return pids


def test_plain_gunicorn_sums_both_workers(tmp_path: Path) -> None:
    """Procfile `web:` as is (no PROMETHEUS_MULTIPROC_DIR): N rejected POSTs read N on every scrape."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = sidecar_env(tmp_path, WEB_CONCURRENCY="2", TMPDIR=str(scratch))
    assert "PROMETHEUS_MULTIPROC_DIR" not in env
    with start_gunicorn(env, cwd=tmp_path) as web:
        wait_for(lambda: len(_worker_pids(web.output())) == 2, timeout=10)
        pids = {str(pid) for pid in _worker_pids(web.output())}

        def writers() -> set[str]:
            # The master made its own directory (under TMPDIR); each worker
            # that counted a request writes its own file there.
            (made,) = scratch.glob("sidecar-metrics-*")
            return {p.stem.rsplit("_", 1)[1] for p in made.glob("counter_*.db")}

        # Until both workers served some (on a loaded machine one worker can
        # win every connection of a batch).
        rejected = 0
        while rejected < REJECTED * 40 and (rejected == 0 or writers() != pids):
            _reject_many(web.url, REJECTED)
            rejected += REJECTED
        assert writers() == pids
        # Every scrape, whichever worker answers it, reads the whole count.
        reads = [_unauthorized(web.url) for _ in range(10)]
        assert reads == [float(rejected)] * 10
    # ... and removed it when it stopped.
    assert list(scratch.iterdir()) == []


def test_operator_directory_is_cleared_of_a_previous_run(tmp_path: Path) -> None:
    """A PROMETHEUS_MULTIPROC_DIR the operator set is kept, but old counts never add to new ones."""
    shared = tmp_path / "metrics"
    env = sidecar_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(shared))
    with start_gunicorn(env, cwd=tmp_path) as web:
        _reject_many(web.url, 3)
        assert _unauthorized(web.url) == 3.0
    assert shared.is_dir() and list(shared.glob("*.db"))  # the operator's: kept
    with start_gunicorn(env, cwd=tmp_path) as web:
        _reject_many(web.url, 5)
        assert [_unauthorized(web.url) for _ in range(4)] == [5.0] * 4


def test_worker_serves_its_own_metrics(tmp_path: Path) -> None:
    """`sidecar worker` with SIDECAR_WORKER_METRICS_LISTEN serves /metrics without the queue gauges."""
    port = free_port()
    listen = f"127.0.0.1:{port}"
    with FakeZendesk() as zendesk, FakePagerDuty() as pagerduty:
        env = connected_env(
            tmp_path, zendesk, pagerduty, SIDECAR_WORKER_METRICS_LISTEN=listen
        )
        with start_worker(env, cwd=tmp_path):
            status, _, body = http("GET", f"http://{listen}/metrics")
    assert status == 200
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert "process_cpu_seconds" in names or "python_info" in names
    # The web's /metrics reports the shared queue; the worker must not repeat it.
    assert "sidecar_queue_depth" not in names


def test_worker_refuses_a_bad_metrics_address(tmp_path: Path) -> None:
    """A malformed SIDECAR_WORKER_METRICS_LISTEN stops the worker with the variable named."""
    env = sidecar_env(tmp_path, SIDECAR_WORKER_METRICS_LISTEN="localhost:http")
    done = subprocess.run(
        [*SIDECAR, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert done.returncode != 0
    assert "SIDECAR_WORKER_METRICS_LISTEN" in done.stderr


def test_serve_shares_one_directory_and_removes_it(tmp_path: Path) -> None:
    """`sidecar serve` gives gunicorn and the worker one metrics directory, gone after Ctrl-C."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = sidecar_env(tmp_path, TMPDIR=str(scratch))
    with start_serve(env, cwd=tmp_path) as serve:
        _reject_many(serve.url, 6)
        assert [_unauthorized(serve.url) for _ in range(4)] == [6.0] * 4
        assert len(list(scratch.glob("sidecar-metrics-*"))) == 1
    assert list(scratch.glob("sidecar-metrics-*")) == []
