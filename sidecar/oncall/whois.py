"""Who would be paged now: PagerDuty's REST API, read for the sidebar and `sidecar explain`.

Optional: on with SIDECAR_PAGERDUTY_API_TOKEN. A page goes to a routing key
(an Events API v2 integration key); who answers it is the escalation policy
of the service that key belongs to. The published REST API has no lookup
from an integration key to its service (the Integration schema of PagerDuty's
OpenAPI document, PagerDuty/api-schema reference/REST/openapiv3.json, has no
``integration_key`` property, and a key of Event Orchestration is routed by
rules, not tied to one service), so SIDECAR_PAGERDUTY_ONCALL_POLICIES maps
each routing key (by its fingerprint, or ``default``) to an escalation policy
id or ``service:<id>`` (docs/decisions.md, "Agents page from the ticket").

Calls (openapiv3.json): ``GET /oncalls?escalation_policy_ids[]=<id>&earliest=true``
(ListOnCalls: "only the earliest on-call for each combination of escalation
policy, escalation level, and user"; ``since``/``until`` default to now) and,
for a service, ``GET /services/{id}`` (its ``escalation_policy`` reference).
Headers: ``Authorization: Token token=<key>`` (securitySchemes api_key) and
``Accept: application/vnd.pagerduty+json;version=2`` (the versioning header).
Answers are cached a minute per policy (failures too), so agents opening
tickets never hammer PagerDuty; a failure is an answer ("unknown (why)"),
never an exception to the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2

from sidecar import __version__
from sidecar.config import Config, Secret
from sidecar.errors import ConfigError
from sidecar.net import is_loopback
from sidecar.oncall.pagerduty import key_fingerprint

DEFAULT_API_URL = "https://api.pagerduty.com"
CACHE_SECONDS = 60.0
TIMEOUT_SECONDS = 3.0  # the sidebar waits for this; a slow PagerDuty is "unknown"
ACCEPT = "application/vnd.pagerduty+json;version=2"
SERVICE_PREFIX = "service:"


@dataclass(frozen=True)
class OnCallNow:
    """Who is on call at the first escalation level, or why that is not known.

    ``known`` False: ``reason`` says why (no mapping, PagerDuty rejected the
    token, did not answer, ...). Known with no people: nobody is on call.
    """

    known: bool
    people: tuple[str, ...] = ()
    policy: str = ""
    level: int | None = None
    reason: str = ""

    def text(self) -> str:
        """One line for humans: ``Tim Wright (Engineering, level 1)`` or ``unknown (why)``."""
        if not self.known:
            return f"unknown ({self.reason})"
        if not self.people:
            return f"nobody is on call ({self.policy or 'escalation policy'})"
        where = f"{self.policy}, level {self.level}" if self.level else self.policy
        return f"{', '.join(self.people)} ({where})"

    def as_json(self) -> dict[str, Any]:
        """The sidebar's ``oncall.now`` object."""
        return {
            "known": self.known,
            "people": list(self.people),
            "policy": self.policy,
            "level": self.level,
            "text": self.text(),
        }


def parse_policies(text: str | None) -> dict[str, str]:
    """Parse ``route=target,...`` (route: a routing key's fingerprint or ``default``).

    A target is an escalation policy id or ``service:<service id>``.
    """
    found: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        route, sep, target = (s.strip() for s in part.partition("="))
        if not sep or not route or not target:
            raise ConfigError(
                "SIDECAR_PAGERDUTY_ONCALL_POLICIES: each entry is "
                f"ROUTE=POLICY_ID or ROUTE=service:SERVICE_ID, got {part!r}"
            )
        found[route.lower()] = target
    return found


class OnCallDirectory:
    """Answers "who would be paged now" for a routing key, cached per policy."""

    def __init__(
        self,
        *,
        token: Secret,
        policies: Mapping[str, str],
        default_route: str | None = None,
        url: str = DEFAULT_API_URL,
        timeout: float = TIMEOUT_SECONDS,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._token = token
        self._policies = dict(policies)
        if default_route is not None and "default" in self._policies:
            self._policies.setdefault(default_route, self._policies["default"])
        self._base = _api_base(url)
        self._timeout = timeout
        self._ttl = cache_seconds
        self._clock = clock
        self._transport = transport
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Config) -> OnCallDirectory | None:
        """The directory when SIDECAR_PAGERDUTY_API_TOKEN is set, else None (off)."""
        if not config.pagerduty_api_token:
            return None
        default = config.pagerduty_routing_key
        return cls(
            token=config.pagerduty_api_token,
            policies=parse_policies(config.pagerduty_oncall_policies),
            default_route=key_fingerprint(default) if default else None,
            url=config.pagerduty_api_url,
        )

    def who(self, routing_key: Secret | str | None) -> OnCallNow:
        """Who is on call now for pages sent to ``routing_key``; never raises."""
        if routing_key is None:
            return OnCallNow(False, reason="no routing key configured")
        route = key_fingerprint(routing_key)
        target = self._policies.get(route)
        if target is None:
            return OnCallNow(
                False,
                reason=f"routing key {route} is not mapped in "
                "SIDECAR_PAGERDUTY_ONCALL_POLICIES",
            )
        return self._cached(target, lambda: self._lookup(target))

    # --- internals --------------------------------------------------------

    def _cached(self, key: str, compute: Callable[[], OnCallNow]) -> OnCallNow:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                answer: OnCallNow = hit[1]
                return answer
        answer = compute()
        with self._lock:
            self._cache[key] = (now, answer)
        return answer

    def _lookup(self, target: str) -> OnCallNow:
        try:
            policy_id = target
            if target.lower().startswith(SERVICE_PREFIX):
                service = self._get(f"/services/{target[len(SERVICE_PREFIX) :]}", {})
                reference = (service.get("service") or {}).get("escalation_policy")
                if not isinstance(reference, dict) or not reference.get("id"):
                    return OnCallNow(
                        False, reason="the service has no escalation policy"
                    )
                policy_id = str(reference["id"])
            body = self._get(
                "/oncalls",
                {"escalation_policy_ids[]": policy_id, "earliest": "true"},
            )
        except _Unanswered as exc:
            return OnCallNow(False, reason=str(exc))
        return _first_level(body.get("oncalls"))

    def _client(self) -> httpx2.Client:
        client: httpx2.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx2.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={
                    "Accept": ACCEPT,
                    "User-Agent": f"sidecar/{__version__}",
                },
            )
        return client

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        headers = {"Authorization": f"Token token={self._token.reveal()}"}
        try:
            response = self._client().get(
                self._base + path, params=dict(params), headers=headers
            )
        except httpx2.TimeoutException:
            raise _Unanswered("PagerDuty did not answer in time") from None
        except httpx2.TransportError as exc:
            raise _Unanswered(f"PagerDuty unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status in (401, 403):
            raise _Unanswered(f"PagerDuty refused the API token (HTTP {status})")
        if status == 404:
            raise _Unanswered("PagerDuty does not know that service or policy")
        if status == 429:
            raise _Unanswered("PagerDuty rate limit (HTTP 429)")
        if status != 200:
            raise _Unanswered(f"PagerDuty answered HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            raise _Unanswered("PagerDuty answered no JSON") from None
        if not isinstance(body, dict):
            raise _Unanswered("PagerDuty answered no JSON object")
        return body


class _Unanswered(Exception):
    """PagerDuty gave no usable answer; the message says why (no secret in it)."""


def _first_level(oncalls: object) -> OnCallNow:
    """The people at the lowest escalation level: they are paged first."""
    entries = (
        [o for o in oncalls or () if isinstance(o, dict)]
        if isinstance(oncalls, list)
        else []
    )
    levels = [o.get("escalation_level") for o in entries]
    numbered = [lv for lv in levels if isinstance(lv, int)]
    if not entries or not numbered:
        return OnCallNow(True)
    first = min(numbered)
    people: list[str] = []
    policy = ""
    for entry in entries:
        if entry.get("escalation_level") != first:
            continue
        user = entry.get("user") or {}
        name = str(user.get("summary") or user.get("name") or user.get("id") or "")
        if name and name not in people:
            people.append(name)
        policy = policy or str(
            (entry.get("escalation_policy") or {}).get("summary") or ""
        )
    return OnCallNow(True, people=tuple(people), policy=policy, level=first)


def _api_base(url: str) -> str:
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise ConfigError("SIDECAR_PAGERDUTY_API_URL must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(host):
        # The token travels in a header: plain http only to a local test double.
        raise ConfigError(
            "SIDECAR_PAGERDUTY_API_URL: plain http is accepted only for 127.0.0.1/localhost"
        )
    return url.strip().rstrip("/")
