"""Fake PagerDuty Events API v2 and Slack incoming webhooks: real HTTP on 127.0.0.1.

Both are threaded ``http.server`` servers on an ephemeral port, usable as context
managers; they record what they were sent and can be told to fail or be slow.
The PagerDuty fake validates events as the Events API documents it
(https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEVERITIES = frozenset({"critical", "error", "warning", "info"})
ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})


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

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        with self._lock:
            self._requests += 1
            fault = self._faults.pop(0) if self._faults else None
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
    """PagerDuty's ``/v2/enqueue``: validates, records accepted events, answers 202."""

    def __init__(self, *, routing_keys: Iterable[str] | None = None) -> None:
        super().__init__()
        self._allowed = frozenset(routing_keys) if routing_keys is not None else None
        self._events: list[dict[str, Any]] = []

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
        """Accepted resolve events."""
        return [e for e in self.events if e["event_action"] == "resolve"]

    def wait_for_events(self, n: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` events were accepted; return them."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._events) >= n, timeout=timeout)
            return list(self._events)

    def _fault_body(self, status: int) -> bytes:
        if status == 429:
            return _json(
                {
                    "status": "throttle event",
                    "message": "Requests for this"
                    " service are arriving too quickly. Please retry later.",
                }
            )
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
        if errors:
            return 400, _invalid(errors)
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        with self._lock:
            self._events.append(event)
            self._lock.notify_all()
        return 202, _json(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        )

    def _validate(self, event: dict[str, Any]) -> list[str]:
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
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
            not isinstance(dedup_key, str) or len(dedup_key) > 255
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
                and len(payload["summary"]) > 1024
            ):
                errors.append("'payload.summary' must be at most 1024 characters")
            for link in event.get("links") or []:
                if not isinstance(link, dict) or not link.get("href"):
                    errors.append("'links' entries need an 'href'")
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
