"""Fake PagerDuty Events API v2 and Slack incoming webhooks: real HTTP on 127.0.0.1.

Both are threaded ``http.server`` servers on an ephemeral port, usable as context
managers; they record what they were sent and can be told to fail or be slow.
The PagerDuty fake follows the PUBLISHED Events API v2 contract, not what the
sidecar sends (PagerDuty developer docs: "Send an Alert Event", "Events API v2
Overview", "Events API Rate Limits"; rules listed in docs/decisions.md,
"Strict test doubles"): it validates events, keeps incidents keyed by
(routing_key, dedup_key) so a resolve only reaches the open incident its own
routing key opened, opens a new incident for a trigger after a resolve, records
unknown properties, and throttles each routing key (120 events a minute).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
        status, body = self._answer(handler.path, handler.headers, raw)
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

    def _apply(self, event: dict[str, Any], dedup_key: str) -> None:
        """Apply an accepted event to its incident ("Alert De-Duplication").

        Events apply to the OPEN incident with the same dedup_key AND the same
        routing_key as the trigger that opened it; acknowledge/resolve events
        that match none (other routing key, already resolved, unknown) are
        dropped, still with a 202. A trigger after a resolve opens a new incident.
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
        if incident is None:
            if action != "trigger":
                self._dropped.append(event)
                return
            incident = Incident(routing_key=key[0], dedup_key=dedup_key)
            self._incidents.append(incident)
        elif action == "acknowledge":
            incident.status = "acknowledged"
        elif action == "resolve":
            incident.status = "resolved"
        incident.events.append(event)

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
