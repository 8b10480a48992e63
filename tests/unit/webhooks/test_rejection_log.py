"""What a refused webhook delivery leaves in the web's log: what the runbook and alert use.

Each refusal is one warning line carrying the webhook id and invocation id
Zendesk sent, the outcome label the metric counts, the status and the reason.
The runbook's example line (docs/operations.md, SidecarWebhooksRejected) is
read from the document and compared with the real line, so they cannot drift.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from sidecar.errors import QueueUnavailable
from sidecar.logs import JsonFormatter
from sidecar.metrics import REQUESTS
from sidecar.tasks.queue import JobQueue
from tests.support import sample, signed_headers

URL = "/webhooks/zendesk"
ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_ID = "01F1KRFQ6BG29CNWFR60NK5FNY"
INVOCATION_ID = "8350205582"
IDS = {
    "X-Zendesk-Webhook-Id": WEBHOOK_ID,
    "X-Zendesk-Webhook-Invocation-Id": INVOCATION_ID,
}


def _rejections(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("webhook rejected")]


def _count(outcome: str) -> float:
    return REQUESTS.labels(outcome)._value.get()  # type: ignore[attr-defined, no-any-return]


def _runbook_line() -> dict[str, Any]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("### SidecarWebhooksRejected", 1)[1].split("\n### ", 1)[0]
    (example,) = re.findall(r"```json\n(.*?)\n```", section, re.S)
    line: dict[str, Any] = json.loads(example)
    return line


def _bad_signature(client: FlaskClient) -> None:
    body, _ = sample("ticket_created")
    headers = signed_headers(body, secret="not-ours") | IDS
    assert client.post(URL, data=body, headers=headers).status_code == 401


def test_a_bad_signature_logs_a_warning_with_webhook_id_and_outcome(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The 401 line names the webhook and invocation, the outcome and the reason."""
    before = _count("unauthorized")
    _bad_signature(client)
    (record,) = _rejections(caplog)
    assert record.levelno == logging.WARNING
    fields = vars(record)
    assert fields["webhook_id"] == WEBHOOK_ID
    assert fields["invocation_id"] == INVOCATION_ID
    assert fields["outcome"] == "unauthorized" and fields["status"] == 401
    assert fields["reason"] == "signature does not match"
    assert _count("unauthorized") == before + 1


def test_the_runbook_line_is_the_line_we_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Every field of the runbook's example line is in the real JSON line, same level and outcome."""
    _bad_signature(client)
    (record,) = _rejections(caplog)
    logged = json.loads(JsonFormatter().format(record))
    documented = _runbook_line()
    assert set(documented) <= set(logged), set(documented) - set(logged)
    for key in ("level", "logger", "msg", "outcome", "status", "reason"):
        assert logged[key] == documented[key], key
    assert (logged["webhook_id"], logged["invocation_id"]) == (
        WEBHOOK_ID,
        INVOCATION_ID,
    )


def test_the_alert_counts_the_outcome_we_log(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """SidecarWebhooksRejected's expression selects the outcome the 401 line carries."""
    rules = yaml.safe_load((ROOT / "deploy/monitoring/alerts.yml").read_text())
    (alert,) = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "SidecarWebhooksRejected"
    ]
    _bad_signature(client)
    (record,) = _rejections(caplog)
    assert f'outcome="{vars(record)["outcome"]}"' in alert["expr"]
    assert "webhook_id" in alert["annotations"]["description"]


@pytest.mark.parametrize(
    ("outcome", "status", "send"),
    [
        ("unsupported_media_type", 415, {"Content-Type": "text/plain"}),
        ("bad_request", 400, {"body": b"nope"}),
        ("too_large", 413, {"body": b'{"pad": "' + b"x" * (257 * 1024) + b'"}'}),
    ],
)
def test_every_refusal_logs_its_outcome_at_warning(
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    outcome: str,
    status: int,
    send: dict[str, Any],
) -> None:
    """415, 400 and 413 each log one warning with the metric's outcome and the ids."""
    body = send.pop("body", b'{"ticket_id": "5"}')
    headers = signed_headers(body) | IDS | send
    before = _count(outcome)
    assert client.post(URL, data=body, headers=headers).status_code == status
    (record,) = _rejections(caplog)
    fields = vars(record)
    assert record.levelno == logging.WARNING
    assert (fields["outcome"], fields["status"]) == (outcome, status)
    assert (fields["webhook_id"], fields["invocation_id"]) == (
        WEBHOOK_ID,
        INVOCATION_ID,
    )
    assert fields["reason"] and _count(outcome) == before + 1


def test_a_503_logs_its_outcome_and_ids(
    client: FlaskClient,
    queue: JobQueue,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The queue being down is logged with outcome queue_unavailable and the ids."""

    def down(*args: object, **kwargs: object) -> None:
        raise QueueUnavailable("queue enqueue failed")

    monkeypatch.setattr(queue, "deliver_reconcile", down)
    body, _ = sample("ticket_created")
    headers = signed_headers(body) | IDS
    assert client.post(URL, data=body, headers=headers).status_code == 503
    (record,) = _rejections(caplog)
    assert record.levelno == logging.WARNING
    assert vars(record)["outcome"] == "queue_unavailable"
    assert vars(record)["webhook_id"] == WEBHOOK_ID


def test_header_values_are_bounded(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An unsigned request cannot write a megabyte into the log through a header."""
    body, _ = sample("ticket_created")
    headers = signed_headers(body, secret="x") | {"X-Zendesk-Webhook-Id": "A" * 5000}
    client.post(URL, data=body, headers=headers)
    (record,) = _rejections(caplog)
    assert len(vars(record)["webhook_id"]) <= 100
    assert vars(record)["invocation_id"] is None


def test_the_ingress_refusal_logs_the_same_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A body that ends early, refused before Flask: the same warning fields and ids."""
    from sidecar.ingress import BodyDeadline, Watchdog

    def app(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("the app must not see a refused request")

    middleware = BodyDeadline(
        app, watchdog=Watchdog(grace=5, deadline=10, slow_slots=1), max_bytes=1024
    )
    statuses: list[str] = []
    left, right = socket.socketpair()
    with left, right:
        environ = {
            "gunicorn.socket": left,
            "CONTENT_LENGTH": "100",
            "wsgi.input": io.BytesIO(b'{"ticket_id": '),
            "HTTP_X_ZENDESK_WEBHOOK_ID": WEBHOOK_ID,
            "HTTP_X_ZENDESK_WEBHOOK_INVOCATION_ID": INVOCATION_ID,
        }
        middleware(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["400 Bad Request"]
    (record,) = _rejections(caplog)
    fields = vars(record)
    assert record.levelno == logging.WARNING
    assert (fields["outcome"], fields["status"]) == ("body_incomplete", 400)
    assert (fields["webhook_id"], fields["invocation_id"]) == (
        WEBHOOK_ID,
        INVOCATION_ID,
    )
    assert fields["reason"] == "request body ended early"
