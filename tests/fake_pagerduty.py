"""Fake PagerDuty (Events API v2, V3 webhooks out, REST webhook subscriptions) and Slack incoming webhooks.

Both are threaded ``http.server`` servers on an ephemeral port, usable as context
managers; they record what they were sent and can be told to fail or be slow.
The PagerDuty fake follows the PUBLISHED Events API v2 contract, not what the
sidecar sends (PagerDuty developer docs: "Send an Alert Event", "Events API v2
Overview", "Events API Rate Limits"; rules listed in docs/decisions.md,
"Strict test doubles"): it validates events, keeps incidents keyed by
(routing_key, dedup_key) so a resolve only reaches the open incident its own
routing key opened, opens a new incident for a trigger after a resolve, records
unknown properties, and throttles each routing key (120 events a minute).

Its V3 webhooks follow "Webhooks" > "Overview", "Behavior" and "Verifying
Signatures" (github.com/PagerDuty/developer-docs docs/webhooks/): one event per
POST, ``data`` the incident (with ``incident_key`` = the dedup key) or, for a
note, an ``incident_note`` naming the incident by reference only;
``X-PagerDuty-Signature`` = ``v1=<hex HMAC-SHA256 of the body>`` per secret of
the subscription, comma-separated during a rotation; ``X-Webhook-Id`` per
webhook. A trigger or resolve through the Events API sends its webhook after
answering, as PagerDuty does; what a person does in PagerDuty (acknowledge,
reassign, annotate, resolve) is a method the test calls, which sends the
webhook and returns the deliveries. The REST API's ``GET``/``POST
/webhook_subscriptions`` take ``Authorization: Token token=…`` (REST API
"Authentication") and give the secret only in the answer to a creation.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.rate_window import SlidingWindow

# "Send an Alert Event", parameters table.
SEVERITIES = frozenset({"critical", "error", "warning", "info"})
ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
ROUTING_KEY_LENGTH = 32
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
EVENT_PROPERTIES = frozenset(
    {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    }
)
PAYLOAD_PROPERTIES = frozenset(
    {
        "summary",
        "source",
        "severity",
        "timestamp",
        "component",
        "group",
        "class",
        "custom_details",
    }
)
# "Events API v2 Overview", Size Limits: "payloads are limited to 512 KB".
MAX_EVENT_BYTES = 512 * 1024
# "Events API Rate Limits": ~120 calls a minute per integration key, over a
# 60-second window looking back from now; over it, 429 and the event is dropped.
EVENTS_PER_ROUTING_KEY = 120
THROTTLED_BODY = {
    "status": "throttle event",
    "message": "Requests for this service are arriving too quickly. Please retry later.",
}


# "Webhooks" > "Overview", Event Types (incident events).
ALL_EVENT_TYPES = frozenset(
    {
        "incident.acknowledged",
        "incident.annotated",
        "incident.delegated",
        "incident.escalated",
        "incident.priority_updated",
        "incident.reassigned",
        "incident.reopened",
        "incident.resolved",
        "incident.responder.added",
        "incident.responder.replied",
        "incident.status_update_published",
        "incident.triggered",
        "incident.unacknowledged",
        "service.created",
        "service.deleted",
        "service.updated",
    }
)
WEBHOOK_EVENT_TYPES = tuple(
    sorted(e for e in ALL_EVENT_TYPES if e.startswith("incident."))
)
REST_ACCEPT = "application/vnd.pagerduty+json;version=2"
# "Webhooks" > "Overview", Filter: the three filter types.
FILTER_TYPES = frozenset({"service_reference", "team_reference", "account_reference"})
# Who resolves or triggers through the Events API: the service's integration.
INTEGRATION_AGENT = {
    "id": "PINTEGR",
    "type": "service_reference",
    "summary": "Support escalations",
}


@dataclass
class Incident:
    """One alert/incident as PagerDuty keeps it: opened by a trigger on a routing key.

    ``status`` is "triggered", "acknowledged" or "resolved"; ``events`` are the
    accepted events applied to it, oldest first.
    """

    routing_key: str
    dedup_key: str
    status: str = "triggered"
    events: list[dict[str, Any]] = field(default_factory=list)
    # As the REST API and V3 webhooks show it ("Webhooks" > "Overview", Event
    # Data Types: incident): an id, a number, its page, the assignees.
    id: str = ""
    number: int = 0
    title: str = ""
    assignees: list[str] = field(default_factory=lambda: ["Dana Oncall"])

    @property
    def open(self) -> bool:
        """Not resolved: later events with its routing and dedup key still apply."""
        return self.status != "resolved"


@dataclass(frozen=True)
class Fault:
    """One injected failure: the status to answer and an optional Retry-After."""

    status: int
    retry_after: float | None = None


class _FakeServer:
    """A threaded HTTP server with fault injection and a request count."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._faults: list[Fault] = []
        self._delay = 0.0
        self._requests = 0
        self._down_until = 0.0  # time.monotonic() until which every request fails
        self._down_status = 503
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def request_count(self) -> int:
        """How many POSTs arrived, including failed and rejected ones."""
        with self._lock:
            return self._requests

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> _FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and Retry-After if given)."""
        with self._lock:
            self._faults.extend(Fault(status, retry_after) for _ in range(n))

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before answering every request from now on (0: stop)."""
        with self._lock:
            self._delay = seconds

    def fail_for(self, seconds: float, status: int = 503) -> None:
        """Answer every request of the next ``seconds`` with ``status`` (an outage)."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            self._down_status = status

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        with self._lock:
            self._requests += 1
            fault = self._faults.pop(0) if self._faults else None
            if fault is None and time.monotonic() < self._down_until:
                fault = Fault(self._down_status)
            delay = self._delay
        if delay:
            time.sleep(delay)
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            self._send(handler, fault.status, self._fault_body(fault.status), headers)
            return
        status, body = self._answer_request(
            handler.command, handler.path, handler.headers, raw
        )
        self._send(handler, status, body)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Content-Type", self._content_type)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    _content_type = "application/json"

    def _fault_body(self, status: int) -> bytes:
        raise NotImplementedError

    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def _answer_request(
        self, method: str, path: str, headers: Any, raw: bytes
    ) -> tuple[int, bytes]:
        if method != "POST":
            return 405, b""
        return self._answer(path, headers, raw)


class FakePagerDuty(_FakeServer):
    """PagerDuty's ``/v2/enqueue``: validates, applies events to incidents, answers 202.

    ``routing_keys``: the integration keys that exist (others get a 400); None
    accepts any well-formed key. ``events_per_window`` / ``window_seconds``: the
    per-routing-key throttle (None: off); ``rate_clock`` lets a test move time.
    """

    def __init__(
        self,
        *,
        routing_keys: Iterable[str] | None = None,
        events_per_window: int | None = EVENTS_PER_ROUTING_KEY,
        window_seconds: float = 60.0,
        rate_clock: Callable[[], float] = time.monotonic,
        api_tokens: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self._allowed = frozenset(routing_keys) if routing_keys is not None else None
        self._events: list[dict[str, Any]] = []
        self._incidents: list[Incident] = []
        self._dropped: list[dict[str, Any]] = []
        self._unknown: list[str] = []
        self._events_per_window = events_per_window
        self._window_seconds = window_seconds
        self._rate_clock = rate_clock
        self._throttles: dict[str, SlidingWindow] = {}
        # V3 webhooks out and the REST API's webhook subscriptions.
        self._numbers = itertools.count(1)
        self._subscriptions: list[Subscription] = []
        self._deliveries: list[Delivery] = []
        self._rest_calls: list[tuple[str, str, dict[str, str]]] = []
        self._api_tokens = frozenset(api_tokens) if api_tokens is not None else None
        self._senders: list[threading.Thread] = []
        self._pending_webhooks: list[tuple[str, Incident]] = []

    def __enter__(self) -> FakePagerDuty:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The enqueue endpoint, for SIDECAR_PAGERDUTY_URL."""
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    @property
    def events(self) -> list[dict[str, Any]]:
        """Accepted events (parsed JSON), oldest first."""
        with self._lock:
            return list(self._events)

    def triggers(self) -> list[dict[str, Any]]:
        """Accepted trigger events."""
        return [e for e in self.events if e["event_action"] == "trigger"]

    def resolves(self) -> list[dict[str, Any]]:
        """Accepted resolve events (applied or not: see ``dropped_events``)."""
        return [e for e in self.events if e["event_action"] == "resolve"]

    def incidents(self) -> list[Incident]:
        """Every incident, open and resolved, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._incidents)

    def open_incidents(self) -> list[Incident]:
        """The incidents not resolved yet (copies)."""
        return [i for i in self.incidents() if i.open]

    @property
    def dropped_events(self) -> list[dict[str, Any]]:
        """Acknowledge/resolve events answered 202 that reached no open incident."""
        with self._lock:
            return list(self._dropped)

    @property
    def unknown_properties(self) -> list[str]:
        """Event properties the Events API v2 does not define ("payload.x" for payload)."""
        with self._lock:
            return list(self._unknown)

    def wait_for_events(self, n: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` events were accepted; return them."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._events) >= n, timeout=timeout)
            return list(self._events)

    def _fault_body(self, status: int) -> bytes:
        if status == 429:
            return _json(THROTTLED_BODY)
        if status == 400:
            return _json(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["injected failure"],
                }
            )
        return _json({"status": "error", "message": "Internal error"})

    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        if path.split("?")[0] != "/v2/enqueue":
            return 404, _json({"status": "not found"})
        try:
            event = json.loads(raw)
        except ValueError:
            return 400, _invalid(["Could not parse the request body as JSON"])
        if not isinstance(event, dict):
            return 400, _invalid(["Event must be a JSON object"])
        errors = self._validate(event)
        if len(raw) > MAX_EVENT_BYTES:
            errors.append(f"Event is larger than {MAX_EVENT_BYTES} bytes")
        if errors:
            return 400, _invalid(errors)
        with self._lock:
            if not self._take_throttle(event["routing_key"]):
                return 429, _json(THROTTLED_BODY)
            self._unknown.extend(_unknown_properties(event))
            # "Send an Alert Event": a trigger without dedup_key gets a new UUID.
            dedup_key = event.get("dedup_key") or str(uuid.uuid4())
            self._apply(event, dedup_key)
            self._events.append(event)
            self._lock.notify_all()
            pending, self._pending_webhooks = self._pending_webhooks, []
            if not self._subscriptions:
                pending = []  # no one to tell: no sender thread
        for change, incident in pending:
            self._send_later(change, incident, agent=INTEGRATION_AGENT)
        return 202, _json(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        )

    def _take_throttle(self, routing_key: str) -> bool:
        if self._events_per_window is None:
            return True
        window = self._throttles.setdefault(
            routing_key,
            SlidingWindow(
                self._events_per_window, self._window_seconds, self._rate_clock
            ),
        )
        return window.hit()

    def _apply(self, event: dict[str, Any], dedup_key: str) -> str | None:
        """Apply an accepted event to its incident ("Alert De-Duplication").

        Events apply to the OPEN incident with the same dedup_key AND the same
        routing_key as the trigger that opened it; acknowledge/resolve events
        that match none (other routing key, already resolved, unknown) are
        dropped, still with a 202. A trigger after a resolve opens a new incident.
        Returns the V3 webhook event type the change produces (None: none).
        """
        key = (event["routing_key"], dedup_key)
        incident = next(
            (
                i
                for i in reversed(self._incidents)
                if i.open and (i.routing_key, i.dedup_key) == key
            ),
            None,
        )
        action = event["event_action"]
        change: str | None = None
        if incident is None:
            if action != "trigger":
                self._dropped.append(event)
                return None
            number = next(self._numbers)
            incident = Incident(
                routing_key=key[0],
                dedup_key=dedup_key,
                id=f"Q{number:06d}INC",
                number=number,
                title=event["payload"]["summary"],
            )
            self._incidents.append(incident)
            change = "incident.triggered"
        elif action == "acknowledge":
            incident.status = "acknowledged"
            change = "incident.acknowledged"
        elif action == "resolve":
            incident.status = "resolved"
            change = "incident.resolved"
        incident.events.append(event)
        if change is not None:
            # Sent after the answer, as PagerDuty's webhooks are (asynchronously).
            self._pending_webhooks.append((change, copy.deepcopy(incident)))
        return change

    def _validate(self, event: dict[str, Any]) -> list[str]:
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != ROUTING_KEY_LENGTH:
            errors.append("'routing_key' must be a 32 character string")
        elif self._allowed is not None and key not in self._allowed:
            errors.append("Invalid routing key")
        action = event.get("event_action")
        if action not in ACTIONS:
            errors.append(
                "'event_action' is invalid (must be trigger, acknowledge or resolve)"
            )
        dedup_key = event.get("dedup_key")
        if dedup_key is not None and (
            not isinstance(dedup_key, str) or len(dedup_key) > MAX_DEDUP_KEY
        ):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in {"acknowledge", "resolve"} and not dedup_key:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing or not an object"]
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") and payload["severity"] not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be critical, error, "
                    "warning or info)"
                )
            if (
                isinstance(payload.get("summary"), str)
                and len(payload["summary"]) > MAX_SUMMARY
            ):
                errors.append("'payload.summary' must be at most 1024 characters")
            for link in event.get("links") or []:
                if not isinstance(link, dict) or not link.get("href"):
                    errors.append("'links' entries need an 'href'")
            # "The images Property": `src` is required.
            for image in event.get("images") or []:
                if not isinstance(image, dict) or not image.get("src"):
                    errors.append("'images' entries need a 'src'")
        return errors

    # --- V3 webhooks out ("Webhooks" > "Overview", "Behavior", "Verifying Signatures") ---

    def subscribe(
        self,
        url: str,
        *,
        events: Iterable[str] = WEBHOOK_EVENT_TYPES,
        filter: dict[str, Any] | None = None,
        description: str = "",
    ) -> Subscription:
        """Create a webhook subscription as POST /webhook_subscriptions does; its secret is new."""
        subscription = Subscription(
            id=f"PSUB{len(self._subscriptions) + 1:03d}",
            url=url,
            secrets=[_new_secret()],
            events=list(events),
            filter=filter or {"type": "account_reference", "id": "PACCOUNT"},
            description=description,
        )
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def move(self, subscription_id: str, url: str) -> None:
        """Point a subscription at another URL (as an admin editing it would)."""
        with self._lock:
            self._subscription(subscription_id).url = url

    def rotate_secret(self, subscription_id: str) -> str:
        """Start a secret rotation: the new secret signs too, beside the old one."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            new = _new_secret()
            subscription.secrets.append(new)
            return new

    def end_rotation(self, subscription_id: str) -> None:
        """End a rotation: only the newest secret signs from now on."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription.secrets[:] = subscription.secrets[-1:]

    @property
    def subscriptions(self) -> list[Subscription]:
        """Every webhook subscription (copies)."""
        with self._lock:
            return copy.deepcopy(self._subscriptions)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery attempt, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def wait_for_deliveries(self, n: int, *, timeout: float = 10.0) -> list[Delivery]:
        """Block until at least ``n`` webhook deliveries were made; return them."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._deliveries) >= n, timeout=timeout)
            return list(self._deliveries)

    def incident_for(self, dedup_key: str) -> Incident:
        """The latest incident opened with ``dedup_key`` (a copy)."""
        with self._lock:
            return copy.deepcopy(self._incident(dedup_key))

    def acknowledge(self, dedup_key: str, *, by: str = "Dana Oncall") -> list[Delivery]:
        """The on-call engineer acknowledges the incident in PagerDuty's app."""
        return self._act(dedup_key, "incident.acknowledged", by, status="acknowledged")

    def unacknowledge(self, dedup_key: str) -> list[Delivery]:
        """The acknowledgement times out: PagerDuty itself unacknowledges (no user agent)."""
        return self._act(dedup_key, "incident.unacknowledged", None, status="triggered")

    def reassign(
        self, dedup_key: str, *, to: list[str], by: str = "Dana Oncall"
    ) -> list[Delivery]:
        """Someone reassigns the incident to other users."""
        return self._act(dedup_key, "incident.reassigned", by, assignees=to)

    def escalate(self, dedup_key: str, *, to: list[str]) -> list[Delivery]:
        """The escalation policy moves the incident on to other users."""
        return self._act(dedup_key, "incident.escalated", None, assignees=to)

    def annotate(
        self, dedup_key: str, text: str, *, by: str = "Dana Oncall"
    ) -> list[Delivery]:
        """Someone adds a note to the incident (data is an incident_note, no incident_key)."""
        return self._act(dedup_key, "incident.annotated", by, note=text)

    def resolve_incident(
        self, dedup_key: str, *, by: str = "Dana Oncall"
    ) -> list[Delivery]:
        """Someone resolves the incident in PagerDuty's app."""
        return self._act(dedup_key, "incident.resolved", by, status="resolved")

    def redeliver(self, delivery: Delivery) -> Delivery:
        """Send a delivery again, same body and headers ("At-Least-Once Delivery")."""
        return self._post(
            delivery.subscription, delivery.url, delivery.body, delivery.headers
        )

    def _act(
        self,
        dedup_key: str,
        event_type: str,
        by: str | None,
        *,
        status: str | None = None,
        assignees: list[str] | None = None,
        note: str | None = None,
    ) -> list[Delivery]:
        with self._lock:
            incident = self._incident(dedup_key)
            if status is not None:
                incident.status = status
            if assignees is not None:
                incident.assignees = list(assignees)
            snapshot = copy.deepcopy(incident)
        agent = _user(by) if by is not None else None
        return self._send_webhook(event_type, snapshot, agent=agent, note=note)

    def _incident(self, dedup_key: str) -> Incident:
        for incident in reversed(self._incidents):
            if incident.dedup_key == dedup_key:
                return incident
        raise KeyError(f"no incident with dedup key {dedup_key!r}")

    def _subscription(self, subscription_id: str) -> Subscription:
        for subscription in self._subscriptions:
            if subscription.id == subscription_id:
                return subscription
        raise KeyError(subscription_id)

    def _send_later(
        self, event_type: str, incident: Incident, *, agent: dict[str, Any] | None
    ) -> None:
        thread = threading.Thread(
            target=self._send_webhook,
            args=(event_type, incident),
            kwargs={"agent": agent},
        )
        thread.daemon = True
        thread.start()

    def _send_webhook(
        self,
        event_type: str,
        incident: Incident,
        *,
        agent: dict[str, Any] | None,
        note: str | None = None,
    ) -> list[Delivery]:
        """One event to every subscription that wants it, signed with each of its secrets."""
        with self._lock:
            subscriptions = [
                copy.deepcopy(s)
                for s in self._subscriptions
                if s.active and event_type in s.events
            ]
        body = webhook_body(
            event_type, incident, agent=agent, note=note, base=self.base_url
        )
        sent = []
        for subscription in subscriptions:
            headers = {
                "Content-Type": "application/json",
                # "Verifying Signatures": one v1 signature per secret, comma-separated.
                "X-PagerDuty-Signature": ",".join(
                    sign_v1(body, secret) for secret in subscription.secrets
                ),
                # "Behavior" > "At-Least-Once Delivery": unique per webhook,
                # repeated on each delivery attempt.
                "X-Webhook-Id": str(uuid.uuid4()),
                "X-Webhook-Subscription": subscription.id,
            }
            sent.append(self._post(subscription.id, subscription.url, body, headers))
        return sent

    def _post(
        self, subscription: str, url: str, body: bytes, headers: dict[str, str]
    ) -> Delivery:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        try:
            # "Behavior" > "Timeouts": a 2xx is expected within 5 seconds.
            with urllib.request.urlopen(request, timeout=5) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        except OSError:
            status, answer = 0, b""
        delivery = Delivery(
            subscription=subscription,
            url=url,
            body=body,
            headers=dict(headers),
            status=status,
            answer=answer,
            seconds=time.monotonic() - started,
            sent_at=time.time(),
        )
        with self._lock:
            self._deliveries.append(delivery)
            self._lock.notify_all()
        return delivery

    @property
    def base_url(self) -> str:
        """The REST API base URL, for SIDECAR_PAGERDUTY_API_URL."""
        return f"http://127.0.0.1:{self.port}"

    # --- REST API: webhook subscriptions ----------------------------------------

    @property
    def rest_calls(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, headers) of every REST API call."""
        with self._lock:
            return list(self._rest_calls)

    def _answer_request(
        self, method: str, path: str, headers: Any, raw: bytes
    ) -> tuple[int, bytes]:
        route = path.split("?")[0]
        if not route.startswith("/webhook_subscriptions"):
            if method != "POST":
                return 405, b""
            return self._answer(path, headers, raw)
        with self._lock:
            self._rest_calls.append((method, path, dict(headers.items())))
        # REST API "Authentication": exactly "Authorization: Token token=<token>".
        auth = headers.get("Authorization") or ""
        token = (
            auth.removeprefix("Token token=")
            if auth.startswith("Token token=")
            else None
        )
        if token is None or (
            self._api_tokens is not None and token not in self._api_tokens
        ):
            return 401, _json({"error": {"message": "Unauthorized", "code": 2006}})
        # OpenAPI (PagerDuty/api-schema reference/REST/openapiv3.json): the
        # header_Accept parameter is required (a versioning header), and so is
        # Content-Type: application/json on a POST; refused here without them.
        if headers.get("Accept") != REST_ACCEPT:
            return 400, _rest_invalid(["Accept must be " + REST_ACCEPT])
        if method == "POST" and (headers.get("Content-Type") or "").split(";")[0] != (
            "application/json"
        ):
            return 400, _rest_invalid(["Content-Type must be application/json"])
        if method == "GET" and route == "/webhook_subscriptions":
            with self._lock:
                listed = [s.as_json(with_secret=False) for s in self._subscriptions]
            return 200, _json(
                {
                    "webhook_subscriptions": listed,
                    "limit": 100,
                    "offset": 0,
                    "total": None,
                    "more": False,
                }
            )
        if method == "POST" and route == "/webhook_subscriptions":
            return self._create_subscription(raw)
        return 404, _json({"error": {"message": "Not Found", "code": 2100}})

    def _create_subscription(self, raw: bytes) -> tuple[int, bytes]:
        try:
            body = json.loads(raw)
            wanted = body["webhook_subscription"]
            delivery = wanted["delivery_method"]
        except (ValueError, KeyError, TypeError):
            return 400, _rest_invalid(["webhook_subscription is required"])
        errors = []
        if wanted.get("type") != "webhook_subscription":
            errors.append("type must be webhook_subscription")
        if delivery.get("type") != "http_delivery_method" or not delivery.get("url"):
            errors.append("delivery_method must be an http_delivery_method with a url")
        events = wanted.get("events")
        if not isinstance(events, list) or not events:
            errors.append("events must be a non-empty list")
        elif unknown := [e for e in events if e not in ALL_EVENT_TYPES]:
            errors.append(f"unknown event types: {unknown}")
        filter_ = wanted.get("filter")
        if not isinstance(filter_, dict) or filter_.get("type") not in FILTER_TYPES:
            errors.append(
                "filter.type must be one of " + ", ".join(sorted(FILTER_TYPES))
            )
        elif filter_["type"] != "account_reference" and not filter_.get("id"):
            errors.append("filter.id is required for a service or team filter")
        if errors:
            return 400, _rest_invalid(errors)
        subscription = self.subscribe(
            delivery["url"],
            events=events,
            filter=filter_,
            description=str(wanted.get("description") or ""),
        )
        # "Verifying Signatures" > "Obtaining the Secret": generated at creation
        # and given in the response; OpenAPI createWebhookSubscription answers
        # 200, and delivery_method.secret is "Only provided on the initial
        # create response" (reads show null).
        return 200, _json(
            {"webhook_subscription": subscription.as_json(with_secret=True)}
        )


class FakeSlack(_FakeServer):
    """Slack incoming webhooks: records every post, answers 200 ``ok``."""

    _content_type = "text/plain; charset=utf-8"

    def __init__(self) -> None:
        super().__init__()
        self._posts: list[tuple[str, dict[str, Any]]] = []

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def webhook_url(self, path: str = "/services/T000/B000/XXXXXXXXXXXXXXXX") -> str:
        """A webhook URL on this server (the path stands in for the secret part)."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def posts(self) -> list[tuple[str, dict[str, Any]]]:
        """(path, parsed JSON body) of every accepted post, oldest first."""
        with self._lock:
            return list(self._posts)

    def _fault_body(self, status: int) -> bytes:
        return {429: b"rate_limited", 404: b"no_service", 400: b"invalid_payload"}.get(
            status, b"internal_error"
        )

    def _answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, b"invalid_payload"
        if not isinstance(body, dict) or not body.get("text"):
            return 400, b"no_text"
        with self._lock:
            self._posts.append((path, body))
            self._lock.notify_all()
        return 200, b"ok"


def _unknown_properties(event: dict[str, Any]) -> list[str]:
    """Properties "Send an Alert Event" does not define, for tests to assert on."""
    unknown = sorted(set(event) - EVENT_PROPERTIES)
    payload = event.get("payload")
    if isinstance(payload, dict):
        unknown += [f"payload.{k}" for k in sorted(set(payload) - PAYLOAD_PROPERTIES)]
    return unknown


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def _invalid(errors: list[str]) -> bytes:
    return _json(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        }
    )


# --- V3 webhooks ---------------------------------------------------------------


@dataclass
class Subscription:
    """A V3 webhook subscription: where to send, which events, signed with which secrets."""

    id: str
    url: str
    secrets: list[str]
    events: list[str]
    filter: dict[str, Any]
    description: str = ""
    active: bool = True

    def as_json(self, *, with_secret: bool) -> dict[str, Any]:
        """As the REST API shows it; the secret only in the answer to its creation."""
        return {
            "id": self.id,
            "type": "webhook_subscription",
            "active": self.active,
            "description": self.description,
            "events": list(self.events),
            "filter": dict(self.filter),
            "delivery_method": {
                "id": f"D{self.id}",
                "type": "http_delivery_method",
                "url": self.url,
                "secret": self.secrets[-1] if with_secret else None,
                "temporarily_disabled": False,
                "custom_headers": [],
            },
        }


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the fake made, and the answer it got (status 0: no answer)."""

    subscription: str
    url: str
    body: bytes
    headers: dict[str, str]
    status: int
    answer: bytes
    seconds: float
    sent_at: float

    @property
    def event(self) -> dict[str, Any]:
        """The event it carried."""
        event: dict[str, Any] = json.loads(self.body)["event"]
        return event


def sign_v1(body: bytes, secret: str) -> str:
    """ "Verifying Signatures": v1 = hex HMAC-SHA256 of the raw body with the secret."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _new_secret() -> str:
    return secrets.token_urlsafe(48)


def _user(name: str) -> dict[str, Any]:
    slug = "P" + hashlib.sha256(name.encode()).hexdigest()[:6].upper()
    return {
        "id": slug,
        "type": "user_reference",
        "summary": name,
        "self": f"https://api.pagerduty.com/users/{slug}",
        "html_url": f"https://acme.pagerduty.com/users/{slug}",
    }


def webhook_body(
    event_type: str,
    incident: Incident,
    *,
    agent: dict[str, Any] | None,
    note: str | None = None,
    base: str = "https://acme.pagerduty.com",
    occurred_at: datetime | None = None,
    event_id: str | None = None,
) -> bytes:
    """A V3 webhook payload ("Webhooks" > "Overview", Webhook Payload and Event Data Types).

    One event per payload; ``data`` is the incident, except for
    incident.annotated, whose data is an ``incident_note`` that names the
    incident by reference only (no incident_key).
    """
    url = f"{base}/incidents/{incident.id}"
    if event_type == "incident.annotated":
        data: dict[str, Any] = {
            "incident": {
                "html_url": url,
                "id": incident.id,
                "self": f"https://api.pagerduty.com/incidents/{incident.id}",
                "summary": incident.title,
                "type": "incident_reference",
            },
            "id": "PNOTE" + uuid.uuid4().hex[:6].upper(),
            "content": note or "",
            "trimmed": False,
            "type": "incident_note",
        }
    else:
        data = {
            "id": incident.id,
            "type": "incident",
            "self": f"https://api.pagerduty.com/incidents/{incident.id}",
            "html_url": url,
            "number": incident.number,
            "status": incident.status,
            # The Events API dedup key becomes the incident's incident_key.
            "incident_key": incident.dedup_key,
            "created_at": "2026-12-07T00:00:00Z",
            "title": incident.title,
            "service": {
                "id": "PSERVIC",
                "type": "service_reference",
                "summary": "Support escalations",
            },
            "assignees": [_user(name) for name in incident.assignees],
            "urgency": "high",
            "resolve_reason": None,
        }
    when = occurred_at or datetime.now(UTC)
    event = {
        "event": {
            "id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": when.isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "agent": agent,
            "client": {"name": "PagerDuty"} if agent is not None else None,
            "data": data,
        }
    }
    return json.dumps(event).encode()


def _rest_invalid(errors: list[str]) -> bytes:
    # REST API "Errors": 400 with code 2001, "Invalid Input Provided".
    return _json(
        {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": errors}}
    )
