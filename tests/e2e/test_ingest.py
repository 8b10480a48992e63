"""End to end: real gunicorn + `sidecar worker` (and `sidecar serve`) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from sidecar.tasks.queue import JobQueue
from tests.e2e.conftest import connected_env
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.support import (
    SIDECAR,
    http,
    post_webhook,
    redis_queue_url,
    sample,
    sidecar_env,
    start_gunicorn,
    start_serve,
    start_worker,
)

pytestmark = pytest.mark.e2e


def _consumed(worker, ticket_id: int) -> dict:  # type: ignore[no-untyped-def]
    return worker.wait_for_log(
        lambda e: e.get("msg") == "reconciled" and e.get("ticket_id") == ticket_id
    )


def _ingest(tmp_path: Path, **overrides: str) -> None:
    with FakeZendesk() as zendesk, FakePagerDuty() as pagerduty:
        zendesk.add_ticket(5158)
        zendesk.add_ticket(77)
        _ingest_into(connected_env(tmp_path, zendesk, pagerduty, **overrides), tmp_path)


def _ingest_into(env: dict[str, str], tmp_path: Path) -> None:
    with start_gunicorn(env, cwd=tmp_path) as web, start_worker(env, cwd=tmp_path) as w:
        body, _ = sample("ticket_created")
        assert post_webhook(web.url, body) == (202, {"status": "queued"})
        assert post_webhook(web.url, body) == (200, {"status": "duplicate"})
        trigger = {"ticket_id": "77", "event": "ticket.changed", "organization_id": ""}
        assert post_webhook(web.url, trigger, invocation_id="e2e-1")[0] == 202
        assert _consumed(w, 5158)["ticket_id"] == 5158
        _consumed(w, 77)
        reconciled = [e for e in w.json_logs() if e["msg"] == "reconciled"]
        assert len(reconciled) == 2
        queued = web.wait_for_log(lambda e: e.get("msg") == "webhook queued")
        assert queued["event_id"] == "4f3b0b44-1b55-4d6b-9a8a-0f9b3c6f2a01"
        # One line per webhook, the app's: no gunicorn access line beside it
        # (issue 19: logconfig_dict turned gunicorn's access log on).
        loggers = {e.get("logger") for e in web.json_logs()}
        assert "sidecar.webhooks" in loggers and "gunicorn.access" not in loggers


def test_ingest_with_sqlite_queue(tmp_path: Path) -> None:
    """Signed webhooks to gunicorn are consumed by the worker via the SQLite queue."""
    _ingest(tmp_path)


def test_ingest_with_redis_queue(tmp_path: Path) -> None:
    """The same flow works with SIDECAR_QUEUE_URL=redis://… (SIDECAR_TEST_REDIS_URL)."""
    with redis_queue_url() as url:
        _ingest(tmp_path, SIDECAR_QUEUE_URL=url)


def test_gunicorn_refuses_to_start_without_secret(tmp_path: Path) -> None:
    """The production entry point exits with a message naming SIDECAR_WEBHOOK_SECRET."""
    env = sidecar_env(tmp_path)
    del env["SIDECAR_WEBHOOK_SECRET"]
    with (
        pytest.raises(AssertionError, match="SIDECAR_WEBHOOK_SECRET is not set"),
        start_gunicorn(env, cwd=tmp_path),
    ):
        pass


def test_serve_runs_web_and_worker_with_generated_secret(tmp_path: Path) -> None:
    """`sidecar serve` runs unconnected, keeps a 0600 secret beside the queue and reuses it, and keeps jobs queued."""
    env = sidecar_env(tmp_path)
    del env["SIDECAR_WEBHOOK_SECRET"]
    secret_path = tmp_path / "queue.db-webhook-secret"
    with start_serve(env, cwd=tmp_path) as serve:
        assert stat.S_IMODE(os.stat(secret_path).st_mode) == 0o600
        secret = secret_path.read_text().strip()
        assert str(secret_path) in serve.output()
        assert secret not in serve.output()
        body = json.dumps({"ticket_id": "31"}).encode()
        assert post_webhook(serve.url, body, secret=secret)[0] == 202
        assert "not connected" in serve.output()
        serve.wait_for_log(lambda e: "jobs stay queued" in e.get("msg", ""))
        assert http("GET", serve.url + "/readyz")[0] == 200
        assert serve.stop() == 0
    queue = JobQueue.from_url(env["SIDECAR_QUEUE_URL"])
    assert queue.depth() == 1  # kept, not failed: it runs once credentials are set
    queue.close()
    with start_serve(env, cwd=tmp_path) as serve:
        assert "read from" in serve.output()
        assert secret_path.read_text().strip() == secret


def test_misconfigured_worker_refuses_to_start(tmp_path: Path) -> None:
    """A connected worker without the severity field id exits at once, naming the variable."""
    with FakeZendesk() as zendesk, FakePagerDuty() as pagerduty:
        env = connected_env(tmp_path, zendesk, pagerduty)
        del env["SIDECAR_SEVERITY_FIELD_ID"]
        done = subprocess.run(
            [*SIDECAR, "worker"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    assert "SIDECAR_SEVERITY_FIELD_ID is not set" in done.stderr
