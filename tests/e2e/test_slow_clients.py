"""End to end: slow or stalled clients cannot keep real gunicorn from answering Zendesk.

The last test runs the deploy kit's front (deploy/k8s/front/default.conf.template)
with Debian's nginx as a local process: Docker does not run here, and the
template is the one Compose and Kubernetes mount.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.slow_clients import SlowClients
from tests.support import (
    NGINX,
    http,
    sidecar_env,
    signed_headers,
    start_front,
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


# The front's promise (issue 19): normal webhooks' p99 under 100 ms while 100
# clients trickle headers and 20 trickle bodies (measured on an idle machine by
# bench/slow_clients.py, docs/benchmarks.md). Inside the suite, eight test
# processes share two cores, so the bound is that or, when the machine is
# slower than that without any slow client, twice the same run's p99 without
# them: what the slow clients must not cost. A stall (a thread held by a slow
# client) costs seconds, far past either.
FRONT_P99_SECONDS = 0.100


def _webhook_p99(url: str, first_ticket: int, count: int = 150) -> float:
    """Send ``count`` signed webhooks at ~50/s; their p99 latency (all must be accepted)."""
    latencies, statuses = [], []
    for n in range(count):
        started = time.perf_counter()
        statuses.append(_signed_webhook(url, first_ticket + n))
        latencies.append(time.perf_counter() - started)
        time.sleep(max(0.0, 0.02 - latencies[-1]))
    assert statuses == [202] * count
    return sorted(latencies)[int(0.99 * len(latencies))]


@pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed: the deploy kit's front is measured with "
    "Debian's nginx (apt-get install nginx-light; .ci/run installs it)",
)
def test_slow_headers_and_bodies_leave_webhooks_fast_through_the_front(
    tmp_path: Path,
) -> None:
    """100 slow-header and 20 slow-body clients at the deploy kit's front: webhook p99 < 100 ms."""
    env = sidecar_env(tmp_path)
    with (
        start_gunicorn(env, cwd=tmp_path) as web,
        start_front(web.url, workdir=tmp_path / "front") as front,
    ):
        alone = _webhook_p99(front.url, 500)
        with (
            SlowClients(front.url, count=100, slow_headers=True, rate=4.0) as heads,
            SlowClients(front.url, count=20, body_size=100_000, rate=4.0) as bodies,
        ):
            heads.wait_until_sending()
            bodies.wait_until_sending()
            time.sleep(0.5)  # every slow client has trickled a byte or two
            with_slow = _webhook_p99(front.url, 1000)
            # The slow clients were still at it when the last webhook was answered.
            assert heads.connections >= 100 and bodies.connections >= 20
        bound = max(FRONT_P99_SECONDS, 2 * alone)
        assert with_slow < bound, (
            f"p99 {with_slow * 1000:.1f} ms with the slow clients, "
            f"{alone * 1000:.1f} ms without them"
        )
        assert "WORKER TIMEOUT" not in web.output()
