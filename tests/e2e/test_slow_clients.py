"""End to end: slow or stalled uploads cannot keep real gunicorn from answering Zendesk."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.slow_clients import SlowClients
from tests.support import (
    http,
    sidecar_env,
    signed_headers,
    start_gunicorn,
)

pytestmark = pytest.mark.e2e

# Zendesk waits 10-12 s for an answer; a normal webhook here takes milliseconds.
# This bound only tells "answered" from "stuck behind the slow uploads".
ANSWER_WITHIN_SECONDS = 4.0


def _signed_webhook(base_url: str, ticket_id: int) -> int:
    body = json.dumps({"ticket_id": str(ticket_id), "event": "ticket.changed"}).encode()
    status, _, _ = http(
        "POST",
        base_url + "/webhooks/zendesk",
        body=body,
        headers=signed_headers(body, invocation_id=f"slow-test-{ticket_id}"),
        timeout=ANSWER_WITHIN_SECONDS,
    )
    return status


def test_two_slow_uploads_do_not_stall_signed_webhooks(tmp_path: Path) -> None:
    """Two clients trickling a 100 kB body leave normal signed webhooks answered."""
    env = sidecar_env(tmp_path, SIDECAR_BODY_READ_SECONDS="2")
    with start_gunicorn(env, cwd=tmp_path) as web:
        with SlowClients(web.url, count=2, body_size=100_000, rate=4.0) as slow:
            slow.wait_until_sending()
            time.sleep(0.5)  # let the server pick the slow connections up first
            statuses = [_signed_webhook(web.url, 100 + n) for n in range(10)]
        assert statuses == [202] * 10
        assert "WORKER TIMEOUT" not in web.output()


def test_a_slow_upload_is_cut_with_408(tmp_path: Path) -> None:
    """An upload slower than the body read deadline gets 408 and its connection closed."""
    env = sidecar_env(tmp_path, SIDECAR_BODY_READ_SECONDS="1")
    with start_gunicorn(env, cwd=tmp_path) as web:
        with SlowClients(web.url, count=1, body_size=100_000, rate=20.0) as slow:
            slow.wait_until_sending()
            deadline = time.monotonic() + 10
            while not slow.answers and time.monotonic() < deadline:
                time.sleep(0.05)
        assert slow.answers, "the server never ended the slow upload"
        assert slow.answers[0].startswith("HTTP/1.1 408")
