"""POST /webhooks/zendesk: verify, parse, dedup, enqueue; nothing else.

Status codes follow what Zendesk retries (reference §1.6): 503 + Retry-After (< 60 s)
when the queue cannot take the job, so Zendesk delivers again; 4xx for requests
that will never succeed; 202 only after the job is durably stored.

Plain WSGI in front of the Flask app, not a Flask view: Flask's request
context, routing, signals and response object were about 200 µs of CPU of an
accepted webhook under gunicorn, a fifth of its cost (issue 19,
docs/benchmarks.md). Everything else (the agents' API, Slack, PagerDuty,
health, metrics) stays on Flask, which gets every other path.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from sidecar.domain.plan import PAGING_SEVERITIES
from sidecar.errors import BadEvent, InvalidSignature, QueueUnavailable
from sidecar.metrics import ENQUEUE_SECONDS
from sidecar.tasks.jobs import Lane
from sidecar.tasks.memo import Hint, TicketMemory
from sidecar.tasks.queue import JobQueue, Taken
from sidecar.webhooks.answers import (
    BODY_INCOMPLETE,
    Environ,
    StartResponse,
    WsgiApp,
    count,
    delivery_ids,
    refuse,
    send_json,
)
from sidecar.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from sidecar.zendesk.events import (
    INVOCATION_HEADER,
    WebhookEvent,
    parse_event,
    replay_key,
)

PATH = "/webhooks/zendesk"
MAX_BODY_BYTES = 256 * 1024
RETRY_AFTER_SECONDS = 10

log = logging.getLogger("sidecar.webhooks")


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


class ZendeskWebhooks:
    """WSGI: POST /webhooks/zendesk to the receiver, every other path to ``app`` (Flask).

    What Flask did for this path is done here: 405 for another method, a JSON
    500 for an unexpected error (logged with the invocation id, never the
    body or headers), the body read within ``MAX_BODY_BYTES`` (a chunked one
    too).
    """

    def __init__(self, receiver: Receiver, app: WsgiApp) -> None:
        self.receiver = receiver
        self._app = app

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self._app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            body = json.dumps({"error": "method not allowed"}).encode()
            return send_json(start_response, 405, body, [("Allow", "POST")])
        try:
            return self._receive(environ, start_response)
        except Exception:
            # Log the class only with the traceback; never the request body or headers.
            count("error")
            log.exception(
                "unhandled error",
                extra={"invocation_id": delivery_ids(environ)["invocation_id"]},
            )
            body = json.dumps({"error": "internal error"}).encode()
            return send_json(start_response, 500, body)

    def _receive(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Accept one Zendesk webhook delivery."""
        receiver = self.receiver
        declared = _content_length(environ)
        if declared is not None and declared > MAX_BODY_BYTES:
            return refuse(
                environ, start_response, "too_large", 413, "body larger than 256 KiB"
            )
        # The media type is what comes before any parameter (RFC 9110 §8.3.1).
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype != "application/json":
            return refuse(
                environ,
                start_response,
                "unsupported_media_type",
                415,
                "content type must be application/json",
            )
        body = _read_body(environ, declared)
        if body is None or len(body) > MAX_BODY_BYTES:
            return refuse(
                environ, start_response, "too_large", 413, "body larger than 256 KiB"
            )
        if declared is not None and len(body) != declared:
            return refuse(environ, start_response, *BODY_INCOMPLETE)
        headers = EnvironHeaders(environ)
        timestamp = headers.get(TIMESTAMP_HEADER)
        try:
            verify(
                body,
                signature=headers.get(SIGNATURE_HEADER),
                timestamp=timestamp,
                secret=receiver.secrets,
                now=receiver.clock(),
                tolerance=receiver.tolerance,
            )
        except InvalidSignature as exc:
            return refuse(environ, start_response, "unauthorized", 401, str(exc))
        try:
            event = parse_event(body, invocation_id=headers.get(INVOCATION_HEADER))
        except BadEvent as exc:
            return refuse(
                environ, start_response, "bad_request", exc.status, exc.reason
            )
        # verify() passed, so the timestamp is there; the unsigned invocation id alone
        # would let a captured request be replayed under new ids.
        replay = replay_key(body, timestamp=timestamp or "")
        try:
            if event.kind == "ignored":
                return _answer(environ, start_response, "ignored", 200, event)
            if event.kind == "organization":
                return self._organization(environ, start_response, event, replay)
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
            return refuse(
                environ,
                start_response,
                "queue_unavailable",
                503,
                "queue unavailable, retry later",
                retry_after=RETRY_AFTER_SECONDS,
                event_id=event.event_id,
                ticket_id=event.ticket_id,
                cause=str(exc),
            )
        if taken is Taken.DUPLICATE:
            return _answer(environ, start_response, "duplicate", 200, event)
        if taken is Taken.COLLAPSED:
            # Accepted and durable (the keys are claimed): the ticket's waiting
            # reconcile reads it after this change, so no job of its own.
            return _answer(environ, start_response, "collapsed", 202, event, lane)
        return _answer(environ, start_response, "queued", 202, event, lane)

    def _organization(
        self,
        environ: Environ,
        start_response: StartResponse,
        event: WebhookEvent,
        replay: str,
    ) -> Iterable[bytes]:
        """Drop the cached organization everywhere, then reconcile its open tickets.

        In that order, so an entitlement change applies to them at once.
        """
        receiver = self.receiver
        assert event.organization_id is not None
        receiver.queue.set_flag(
            f"org_changed:{event.organization_id}", receiver.clock().isoformat()
        )
        refresh = receiver.queue.tasks.refresh_org.s(event.organization_id)
        if not receiver.queue.submit_task(refresh, dedup_key=replay):
            return _answer(environ, start_response, "duplicate", 200, event)
        return _answer(environ, start_response, "org_invalidated", 202, event)


def _read_body(environ: dict[str, Any], declared: int | None) -> bytes | None:
    """The request body, at most ``MAX_BODY_BYTES + 1`` bytes; None when longer.

    With a Content-Length (at most ours, checked before) that many bytes are
    read, as WSGI asks; under gunicorn sidecar.ingress has read them already.
    A chunked body has none: Werkzeug's stream stops one byte over ours.
    """
    if declared is not None:
        return bytes(environ["wsgi.input"].read(declared))
    try:
        stream = get_input_stream(environ, max_content_length=MAX_BODY_BYTES + 1)
        return bytes(stream.read())
    except RequestEntityTooLarge:
        return None


def _content_length(environ: Environ) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _answer(
    environ: Environ,
    start_response: StartResponse,
    outcome: str,
    status: int,
    event: WebhookEvent,
    lane: Lane | None = None,
) -> Iterable[bytes]:
    """Answer an accepted (or ignored, or duplicate) delivery: its metric, its log line."""
    count(outcome)
    log.info(
        "webhook %s",
        outcome,
        extra={
            "outcome": outcome,
            "status": status,
            **delivery_ids(environ),
            "event_id": event.event_id,
            "event_type": event.event_type,
            "ticket_id": event.ticket_id,
            "organization_id": event.organization_id,
            "severity": event.severity,
            "lane": lane.value if lane is not None else None,
        },
    )
    return send_json(start_response, status, _ANSWER_BODIES[outcome])


# The few possible answers, encoded once.
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
