"""Answers and log lines of the Zendesk webhook path, written as plain WSGI.

Shared by the receiver (sidecar.webhooks.zendesk) and the body-reading
middleware in front of it (sidecar.ingress), so a refusal looks the same
whichever of them made it: one JSON body, one warning line with the metric's
outcome, the delivery's ids and the reason (docs/operations.md,
SidecarWebhooksRejected, shows that line; a test compares the two).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from sidecar.metrics import REQUESTS

log = logging.getLogger("sidecar.webhooks")

StartResponse = Callable[..., Any]
Environ = Mapping[str, Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Header values are logged before the signature is checked: bounded, so an
# unsigned request cannot write much into the log.
MAX_LOGGED_HEADER = 100
# Zendesk's delivery ids ("Anatomy of a webhook request"), as WSGI names the headers.
DELIVERY_IDS = (
    ("webhook_id", "HTTP_X_ZENDESK_WEBHOOK_ID"),
    ("invocation_id", "HTTP_X_ZENDESK_WEBHOOK_INVOCATION_ID"),
)

# A body shorter than its Content-Length (outcome, status, reason): the ingress
# middleware and the receiver both refuse it so.
BODY_INCOMPLETE = ("body_incomplete", 400, "request body ended early")

_STATUS_LINES: dict[int, str] = {}
# The counter of each outcome, labelled once (``labels()`` takes a lock and
# looks the child up on every call).
_COUNTERS: dict[str, Any] = {}


def count(outcome: str) -> None:
    """Count one request under ``outcome`` (``sidecar_webhook_requests_total``)."""
    counter = _COUNTERS.get(outcome)
    if counter is None:
        counter = _COUNTERS[outcome] = REQUESTS.labels(outcome)
    counter.inc()


def status_line(status: int) -> str:
    """``"202 Accepted"``: the WSGI status for a code (cached)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"{status} {HTTPStatus(status).phrase}"
    return line


def delivery_ids(environ: Environ) -> dict[str, str | None]:
    """The ids Zendesk sends with every delivery, for the log (None when absent)."""
    return {
        field: (str(environ.get(key) or "")[:MAX_LOGGED_HEADER] or None)
        for field, key in DELIVERY_IDS
    }


def send_json(
    start_response: StartResponse,
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Start a JSON answer and return its body (the WSGI iterable)."""
    start_response(
        status_line(status),
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return [body]


def refuse(
    environ: Environ,
    start_response: StartResponse,
    outcome: str,
    status: int,
    reason: str,
    *,
    retry_after: int | None = None,
    **fields: object,
) -> list[bytes]:
    """Refuse a delivery: count ``outcome``, log one warning line, answer ``{"error": reason}``."""
    count(outcome)
    log.warning(
        "webhook rejected: %s",
        reason,
        extra={
            "outcome": outcome,
            "status": status,
            "reason": reason,
            **delivery_ids(environ),
            **fields,
        },
    )
    headers = [] if retry_after is None else [("Retry-After", str(retry_after))]
    body = json.dumps({"error": reason}).encode()
    return send_json(start_response, status, body, headers)
