"""Fake PagerDuty REST API (the on-call lookup): real HTTP on 127.0.0.1.

Kept apart from tests/fake_pagerduty.py (the Events API) because the two are
different hosts with different auth. It follows PagerDuty's published
OpenAPI document (PagerDuty/api-schema, reference/REST/openapiv3.json), not
what the sidecar sends; each rule names its source:

* securitySchemes ``api_key``: "The API Key with format ``Token token=<API_KEY>``"
  in ``Authorization``; anything else is 401 (responses ``Unauthorized``: "Caller
  did not supply credentials or did not provide the correct credentials").
* parameter ``header_Accept`` (required): "The ``Accept`` header is used as a
  versioning header", default ``application/vnd.pagerduty+json;version=2``; a
  request without it is answered 400 here (the harsher reading).
* ``GET /oncalls`` (ListOnCalls): filters ``escalation_policy_ids[]`` (repeatable),
  ``earliest`` ("only the earliest on-call for each combination of escalation
  policy, escalation level, and user is returned"); ``since``/``until``
  default to the current time; the answer is ``Pagination`` (offset, limit,
  more, total: null unless ``total=true``) plus ``oncalls`` of ``Oncall``
  objects (user/schedule/escalation_policy references with ``summary``,
  ``escalation_level``, ``start``, ``end``).
* ``GET /services/{id}`` (GetService): ``{"service": Service}`` with its
  ``escalation_policy`` reference; an unknown id is 404 (responses ``NotFound``).
* Errors carry ``{"error": {"message", "code"}}`` (the ``Conflict`` response
  schema the other error responses refer to).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCEPT = "application/vnd.pagerduty+json;version=2"


@dataclass(frozen=True)
class Shift:
    """One on-call entry of an escalation policy: ``user`` at ``level`` from ``start`` to ``end``."""

    user: str
    level: int
    schedule: str = "Primary rotation"
    start: datetime | None = None  # None: a permanent on-call (direct user target)
    end: datetime | None = None

    def current(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (
            self.end is None or at < self.end
        )


class FakePagerDutyRest:
    """The REST endpoints the sidecar reads: ``/oncalls`` and ``/services/{id}``."""

    def __init__(self, *, token: str = "pd-rest-token") -> None:
        self.token = token
        self._lock = threading.Lock()
        self._policies: dict[str, tuple[str, list[Shift]]] = {}
        self._services: dict[str, tuple[str, str]] = {}  # id -> (name, policy id)
        self._faults: list[int] = []
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    # --- test helpers -------------------------------------------------------------

    def __enter__(self) -> FakePagerDutyRest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_policy(self, policy_id: str, name: str, shifts: list[Shift]) -> None:
        with self._lock:
            self._policies[policy_id] = (name, list(shifts))

    def add_service(self, service_id: str, name: str, policy_id: str) -> None:
        with self._lock:
            self._services[service_id] = (name, policy_id)

    def fail_next(self, n: int, status: int) -> None:
        """Answer the next ``n`` requests with ``status``."""
        with self._lock:
            self._faults.extend([status] * n)

    def calls(self, path: str | None = None) -> list[tuple[str, dict[str, list[str]]]]:
        with self._lock:
            return [r for r in self.requests if path is None or r[0] == path]

    # --- the server -----------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append((parts.path, query))
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            return self._send(handler, fault, _error("injected fault", 0))
        if handler.headers.get("Authorization") != f"Token token={self.token}":
            return self._send(handler, 401, _error("Unauthorized", 2006))
        if handler.headers.get("Accept") != ACCEPT:
            return self._send(handler, 400, _error("Accept header required", 2001))
        if parts.path == "/oncalls":
            return self._send(handler, 200, self._oncalls(query))
        if parts.path.startswith("/services/"):
            service_id = parts.path.removeprefix("/services/")
            with self._lock:
                found = self._services.get(service_id)
                policy = self._policies.get(found[1]) if found else None
            if found is None:
                return self._send(handler, 404, _error("Not Found", 2100))
            return self._send(
                handler,
                200,
                {
                    "service": {
                        "id": service_id,
                        "type": "service",
                        "name": found[0],
                        "summary": found[0],
                        "escalation_policy": _reference(
                            "escalation_policy", found[1], policy[0] if policy else ""
                        ),
                    }
                },
            )
        return self._send(handler, 404, _error("Not Found", 2100))

    def _oncalls(self, query: dict[str, list[str]]) -> dict[str, Any]:
        now = datetime.now(UTC)
        wanted = query.get("escalation_policy_ids[]")
        earliest = (query.get("earliest") or ["false"])[0] == "true"
        entries: list[dict[str, Any]] = []
        seen: set[tuple[str, int, str]] = set()
        with self._lock:
            policies = dict(self._policies)
        for policy_id, (name, shifts) in policies.items():
            if wanted is not None and policy_id not in wanted:
                continue
            for shift in shifts:
                if not shift.current(now):
                    continue
                combo = (policy_id, shift.level, shift.user)
                if earliest and combo in seen:
                    continue
                seen.add(combo)
                entries.append(
                    {
                        "escalation_policy": _reference(
                            "escalation_policy", policy_id, name
                        ),
                        "user": _reference("user", _user_id(shift.user), shift.user),
                        "schedule": _reference(
                            "schedule", _user_id(shift.schedule), shift.schedule
                        ),
                        "escalation_level": shift.level,
                        "start": _stamp(shift.start),
                        "end": _stamp(shift.end),
                    }
                )
        return {
            "oncalls": entries,
            "limit": 25,
            "offset": 0,
            "more": False,
            "total": None,
        }

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)


def shift_now(user: str, level: int = 1, **kw: Any) -> Shift:
    """A shift that started an hour ago and ends in seven."""
    now = datetime.now(UTC)
    return Shift(
        user, level, start=now - timedelta(hours=1), end=now + timedelta(hours=7), **kw
    )


def _reference(kind: str, ident: str, summary: str) -> dict[str, str]:
    return {
        "id": ident,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"https://api.pagerduty.com/{kind}s/{ident}",
    }


def _user_id(name: str) -> str:
    return "P" + "".join(c for c in name.upper() if c.isalnum())[:6]


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _error(message: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "code": code}}
