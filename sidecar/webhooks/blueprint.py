"""POST /webhooks/zendesk: verify, parse, dedup, enqueue; nothing else.

Status codes follow what Zendesk retries (reference §1.6): 503 + Retry-After (< 60 s)
when the queue cannot take the job, so Zendesk delivers again; 4xx for requests
that will never succeed; 202 only after the job is durably stored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from sidecar.domain.plan import PAGING_SEVERITIES
from sidecar.errors import BadEvent, InvalidSignature, QueueUnavailable
from sidecar.metrics import ENQUEUE_SECONDS, REQUESTS
from sidecar.tasks.jobs import Lane
from sidecar.tasks.memo import Hint, TicketMemory
from sidecar.tasks.queue import JobQueue, Taken
from sidecar.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from sidecar.zendesk.events import (
    INVOCATION_HEADER,
    WEBHOOK_ID_HEADER,
    WebhookEvent,
    parse_event,
    replay_key,
)

MAX_BODY_BYTES = 256 * 1024
RETRY_AFTER_SECONDS = 10
# Header values are logged before the signature is checked: bounded, so an
# unsigned request cannot write much into the log.
MAX_LOGGED_HEADER = 100
EXTENSION = "sidecar.webhooks"

log = logging.getLogger("sidecar.webhooks")
bp = Blueprint("webhooks", __name__)


@dataclass(frozen=True)
class Receiver:
    """What the endpoint needs, built once per app (no per-request construction)."""

    queue: JobQueue
    secrets: tuple[str, ...]
    tolerance: timedelta
    clock: Callable[[], datetime]
    # What reconciles learned of organizations (their entitlement), for the lane.
    memory: TicketMemory | None = None

    def lane_for(self, event: WebhookEvent) -> Lane:
        """The urgent lane for a SEV 1/2 the trigger body named, unless its org is known not entitled.

        Only a hint (docs/decisions.md, "Urgent before the read"): the
        reconcile reads the ticket and decides from what it reads.
        """
        if event.severity not in PAGING_SEVERITIES:
            return Lane.NORMAL
        org, memory = event.organization_id, self.memory
        known_plain = (
            org is not None and memory is not None and memory.org_entitled(org) is False
        )
        return Lane.NORMAL if known_plain else Lane.URGENT


def _delivery() -> dict[str, str | None]:
    """The ids Zendesk sends with every delivery, for the log (None when absent)."""
    ids: dict[str, str | None] = {}
    for field, header in (
        ("webhook_id", WEBHOOK_ID_HEADER),
        ("invocation_id", INVOCATION_HEADER),
    ):
        value = request.headers.get(header)
        ids[field] = value[:MAX_LOGGED_HEADER] if value else None
    return ids


def _reject(outcome: str, status: int, reason: str, **fields: object) -> Response:
    """Answer a refusal: one warning line with the metric's outcome, the ids, the reason.

    docs/operations.md (SidecarWebhooksRejected) shows this line; a test
    compares the two.
    """
    REQUESTS.labels(outcome).inc()
    log.warning(
        "webhook rejected: %s",
        reason,
        extra={
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
    outcome: str, status: int, event: WebhookEvent, lane: Lane | None = None
) -> Response:
    REQUESTS.labels(outcome).inc()
    log.info(
        "webhook %s",
        outcome,
        extra={
            "outcome": outcome,
            "status": status,
            **_delivery(),
            "event_id": event.event_id,
            "event_type": event.event_type,
            "ticket_id": event.ticket_id,
            "organization_id": event.organization_id,
            "severity": event.severity,
            "lane": lane.value if lane is not None else None,
        },
    )
    # The few possible answers, encoded once (jsonify per request is a
    # measurable share of an accepted webhook's cost).
    return Response(_ANSWER_BODIES[outcome], status=status, mimetype="application/json")


_ANSWER_BODIES = {
    outcome: json.dumps({"status": shown}).encode() + b"\n"
    for outcome, shown in (
        ("queued", "queued"),
        ("collapsed", "collapsed"),
        ("duplicate", "duplicate"),
        ("ignored", "ignored"),
        ("org_invalidated", "accepted"),
    )
}


@bp.post("/webhooks/zendesk")
def receive() -> Response:
    """Accept one Zendesk webhook delivery."""
    receiver: Receiver = current_app.extensions[EXTENSION]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _reject("too_large", 413, "body larger than 256 KiB")
    if request.mimetype != "application/json":
        return _reject(
            "unsupported_media_type", 415, "content type must be application/json"
        )
    body: bytes | None
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body = None
    # A chunked body has no Content-Length: Werkzeug stops reading at the app's
    # MAX_CONTENT_LENGTH (one byte over ours), so a longer read means too large.
    if body is None or len(body) > MAX_BODY_BYTES:
        return _reject("too_large", 413, "body larger than 256 KiB")
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    try:
        verify(
            body,
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=timestamp,
            secret=receiver.secrets,
            now=receiver.clock(),
            tolerance=receiver.tolerance,
        )
    except InvalidSignature as exc:
        return _reject("unauthorized", 401, str(exc))
    try:
        event = parse_event(body, headers=request.headers)  # type: ignore[arg-type]  # werkzeug Headers: a case-insensitive mapping
    except BadEvent as exc:
        return _reject("bad_request", exc.status, exc.reason)
    # verify() passed, so the timestamp is there; the unsigned invocation id alone
    # would let a captured request be replayed under new ids.
    replay = replay_key(body, timestamp=timestamp or "")
    try:
        if event.kind == "ignored":
            return _answer("ignored", 200, event)
        if event.kind == "organization":
            assert event.organization_id is not None
            # Drop the cached organization everywhere first, then reconcile its
            # open tickets, so an entitlement change applies to them at once.
            receiver.queue.set_flag(
                f"org_changed:{event.organization_id}",
                receiver.clock().isoformat(),
            )
            refresh = receiver.queue.tasks.refresh_org.s(event.organization_id)
            if not receiver.queue.submit_task(refresh, dedup_key=replay):
                return _answer("duplicate", 200, event)
            return _answer("org_invalidated", 202, event)
        assert event.ticket_id is not None  # parse_event guarantees it for "ticket"
        dedup_key = f"zendesk:{event.event_id}" if event.event_id else None
        started = time.perf_counter()
        lane = receiver.lane_for(event)
        urgent = lane is Lane.URGENT
        taken = receiver.queue.deliver_reconcile(
            event.ticket_id,
            dedup_key=dedup_key,
            replay_key=replay,
            hint=Hint(
                actor_id=event.actor_id,
                version=event.version,
                # Signed, and only ever a reason to page while Zendesk cannot
                # be read, with the entitlement from our own cache or file.
                severity=event.severity if urgent else None,
                organization_id=event.organization_id if urgent else None,
            ),
            # A SEV 1/2 named by the trigger body waits on the urgent lane's own
            # threads, not behind a backlog of ordinary reconciles.
            lane=lane,
        )
        ENQUEUE_SECONDS.observe(time.perf_counter() - started)
    except QueueUnavailable as exc:
        response = _reject(
            "queue_unavailable",
            503,
            "queue unavailable, retry later",
            event_id=event.event_id,
            ticket_id=event.ticket_id,
            cause=str(exc),
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if taken is Taken.DUPLICATE:
        return _answer("duplicate", 200, event)
    if taken is Taken.COLLAPSED:
        # Accepted and durable (the keys are claimed): the ticket's waiting
        # reconcile reads it after this change, so no job of its own.
        return _answer("collapsed", 202, event, lane)
    return _answer("queued", 202, event, lane)
