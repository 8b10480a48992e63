"""POST /webhooks/pagerduty: PagerDuty V3 webhook deliveries; verify, find the ticket, enqueue.

Status codes follow what PagerDuty does with them (developer-docs "Webhooks" >
"Behavior"): it expects a 2xx within 5 seconds; it retries 5xx, 429 and
timeouts up to 4 times over about 20 minutes; it drops a delivery on any
other 4xx without a retry. So: 401 for a forged, missing or stale signature
(never worth a retry), 400 for a body that is not a V3 event, 503 +
Retry-After when the queue cannot take the job (PagerDuty delivers again),
200 for an event we ignore or a redelivery, 202 once the job is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from sidecar.domain.oncall import TRIGGERED, IncidentEvent
from sidecar.errors import BadEvent, InvalidSignature, QueueUnavailable
from sidecar.metrics import PAGERDUTY_REQUESTS
from sidecar.oncall.pagerduty_webhooks import (
    SIGNATURE_HEADER,
    parse,
    parse_instant,
    ticket_of,
    verify,
)
from sidecar.tasks.oncall_back import OncallStates
from sidecar.tasks.queue import JobQueue

# "Behavior" > "Size Limit": webhooks over 256 KB are always dropped.
MAX_BODY_BYTES = 256 * 1024
RETRY_AFTER_SECONDS = 10
# An event from further ahead than this is a clock problem, not news.
FUTURE_SKEW = timedelta(minutes=5)
EXTENSION = "sidecar.webhooks.pagerduty"
WEBHOOK_ID_HEADER = "X-Webhook-Id"
MAX_LOGGED_HEADER = 100

log = logging.getLogger("sidecar.webhooks")
bp = Blueprint("pagerduty_webhooks", __name__)


@dataclass(frozen=True)
class Receiver:
    """What the endpoint needs, built once per app."""

    queue: JobQueue
    states: OncallStates
    account: str
    secrets: tuple[str, ...]
    max_age: timedelta
    clock: Callable[[], datetime]


def _delivery() -> dict[str, str | None]:
    value = request.headers.get(WEBHOOK_ID_HEADER)
    return {"webhook_id": value[:MAX_LOGGED_HEADER] if value else None}


def _reject(outcome: str, status: int, reason: str, **fields: object) -> Response:
    PAGERDUTY_REQUESTS.labels(outcome).inc()
    log.warning(
        "pagerduty webhook rejected: %s",
        reason,
        extra={
            "source": "pagerduty",
            "outcome": outcome,
            "status": status,
            "reason": reason,
            **_delivery(),
            **fields,
        },
    )
    response = jsonify(error=reason)
    response.status_code = status
    return response


def _answer(
    outcome: str,
    status: int,
    event: IncidentEvent | None,
    ticket_id: int | None = None,
    **fields: object,
) -> Response:
    PAGERDUTY_REQUESTS.labels(outcome).inc()
    log.info(
        "pagerduty webhook %s",
        outcome,
        extra={
            "source": "pagerduty",
            "outcome": outcome,
            "status": status,
            **_delivery(),
            "event_id": event.event_id if event else None,
            "event_type": event.event_type if event else None,
            "incident_id": event.incident_id if event else None,
            "ticket_id": ticket_id,
            **fields,
        },
    )
    return Response(
        json.dumps({"status": outcome}) + "\n",
        status=status,
        mimetype="application/json",
    )


@bp.post("/webhooks/pagerduty")
def receive() -> Response:
    """Accept one PagerDuty V3 webhook delivery."""
    receiver: Receiver = current_app.extensions[EXTENSION]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _reject("too_large", 413, "body larger than 256 KiB")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _reject("too_large", 413, "body larger than 256 KiB")
    if len(body) > MAX_BODY_BYTES:
        return _reject("too_large", 413, "body larger than 256 KiB")
    # Verified on the raw bytes before any parsing ("Verifying Signatures").
    try:
        verify(
            body, header=request.headers.get(SIGNATURE_HEADER), secrets=receiver.secrets
        )
    except InvalidSignature as exc:
        return _reject("unauthorized", 401, str(exc))
    try:
        event = parse(body)
        if event is None:
            return _answer("ignored", 200, None, reason="event type not acted on")
        # Nothing in the signature says when it was made: an old event is a
        # replay (or too late to tell anyone), refused like a stale signature.
        age = receiver.clock() - parse_instant(event.occurred_at)
    except BadEvent as exc:
        return _reject("bad_request", exc.status, exc.reason)
    if age > receiver.max_age:
        return _reject(
            "unauthorized",
            401,
            f"event occurred {int(age.total_seconds())} s ago, more than the "
            f"{int(receiver.max_age.total_seconds())} s accepted (a replay?)",
            event_id=event.event_id,
        )
    if -age > FUTURE_SKEW:
        return _reject(
            "unauthorized",
            401,
            "event occurred_at is in the future (clock skew?)",
            event_id=event.event_id,
        )
    try:
        ticket_id = _ticket(receiver, event)
        if ticket_id is None:
            return _answer(
                "ignored",
                200,
                event,
                reason="incident not opened by the sidecar (no ticket for its key)",
            )
        if event.event_type == TRIGGERED:
            # Our own page: only its incident id was news (remembered above).
            return _answer("noted", 200, event, ticket_id)
        if not receiver.queue.oncall.submit(ticket_id, event):
            return _answer("duplicate", 200, event, ticket_id)
    except QueueUnavailable as exc:
        response = _reject(
            "queue_unavailable",
            503,
            "queue unavailable, retry later",
            event_id=event.event_id,
            cause=str(exc),
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return _answer("queued", 202, event, ticket_id)


def _ticket(receiver: Receiver, event: IncidentEvent) -> int | None:
    """The event's ticket: from the incident's dedup key, else from its id seen before."""
    ticket_id = ticket_of(event.incident_key, account=receiver.account)
    if ticket_id is not None:
        if receiver.states.ticket_of_incident(event.incident_id) != ticket_id:
            receiver.states.remember_incident(event.incident_id, ticket_id)
        return ticket_id
    if event.incident_key is None:  # an annotation names only the incident
        return receiver.states.ticket_of_incident(event.incident_id)
    return None


def init_app(
    app: Flask,
    *,
    queue: JobQueue,
    account: str,
    secret: str | None,
    max_age_seconds: int,
    clock: Callable[[], datetime],
) -> None:
    """Register the endpoint on ``app``."""
    app.extensions[EXTENSION] = Receiver(
        queue=queue,
        states=OncallStates(queue, account=account),
        account=account,
        secrets=tuple(p.strip() for p in (secret or "").split(",") if p.strip()),
        max_age=timedelta(seconds=max_age_seconds),
        clock=clock,
    )
    app.register_blueprint(bp)
