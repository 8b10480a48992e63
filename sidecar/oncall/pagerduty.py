"""Page on-call through PagerDuty Events API v2: one JSON POST per call, on httpx2.

An ``httpx2.Client`` is built once per process, thread and routing key, because
building one costs ~21 ms (an SSL context). Nothing retries or sleeps inside a
call: the worker owns retries (bounded backoff, Retry-After), so each
``trigger``/``resolve`` makes exactly one HTTP request and maps the outcome to
:mod:`sidecar.errors`. (The official ``pagerduty`` client was dropped: of its
work we used only the event's assembly, and undid its retries and its base URL;
docs/decisions.md.)

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2

from sidecar import __version__
from sidecar.config import Config, Secret
from sidecar.errors import (
    AuthFailed,
    Backoff,
    ConfigError,
    RateLimited,
    Rejected,
    Transient,
)
from sidecar.net import is_loopback, parse_retry_after

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
DEFAULT_TIMEOUT = 10.0

# A 429 means PagerDuty did not ingest the event ("Events API Rate Limits":
# about 120 events a minute per integration key, over a 60 s window looking
# back). Its guidance when it sends no Retry-After: "retrying 3 times with each
# request being 30 seconds apart" (same page), and "be sure to retry on a 429
# response code, preferably with a backoff of a few minutes" ("Events API v2
# Overview", API Limits). So 30 s three times (the window has moved on by
# then), then every 3 minutes for as long as the page is wanted.
THROTTLE_BACKOFF = Backoff(first=30.0, tries=3, then=180.0)
_SERVICE = "pagerduty"
_USER_AGENT = f"sidecar/{__version__}"


class MissingRoutingKey(Rejected, ConfigError):
    """Neither SIDECAR_PAGERDUTY_ROUTING_KEY nor the org's override is set.

    A configuration problem that retrying will not fix: a ``Rejected`` for the
    worker (dead-lettered at once, visible in ``sidecar jobs failed``) and a
    ``ConfigError`` for everything else.
    """

    def __init__(self) -> None:
        super().__init__(
            "no PagerDuty routing key: set SIDECAR_PAGERDUTY_ROUTING_KEY or the "
            "organization's pagerduty_routing_key in the entitlements file",
            service=_SERVICE,
        )


def dedup_key(account: str, ticket_id: int) -> str:
    """Derive the incident's dedup key from the Zendesk account and ticket id."""
    key = f"zendesk-{account}-ticket-{ticket_id}"
    if len(key) <= MAX_DEDUP_KEY:
        return key
    # Only an absurdly long account name gets here; keep the key unique and stable.
    digest = hashlib.sha256(account.encode()).hexdigest()[:16]
    room = MAX_DEDUP_KEY - len(f"zendesk--{digest}-ticket-{ticket_id}")
    return f"zendesk-{account[:room]}-{digest}-ticket-{ticket_id}"


def key_fingerprint(routing_key: Secret | str) -> str:
    """Eight hex characters that tell routing keys apart without revealing one."""
    raw = routing_key.reveal() if isinstance(routing_key, Secret) else routing_key
    return hashlib.sha256(raw.encode()).hexdigest()[:8]


def summary(
    severity: int | None, org_name: str, subject: str, *, requested_by: str = ""
) -> str:
    """Build ``[SEV 1] <org name>: <subject>`` within PagerDuty's 1024 characters.

    ``requested_by``: the agent who paged from the ticket (the "Page on-call"
    macro), named at the end so the responder sees a person asked.
    """
    # The summary is one line in every PagerDuty view and notification.
    subject = " ".join(subject.split()) or "(no subject)"
    org_name = " ".join(org_name.split())
    label = "[no severity]" if severity is None else f"[SEV {severity}]"
    text = f"{label} {org_name}: {subject}" if org_name else f"{label} {subject}"
    if requested_by:
        text += f" (paged by {' '.join(requested_by.split())})"
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


class PagerDutyPager:
    """Trigger and resolve PagerDuty incidents; one HTTP request per call."""

    def __init__(
        self,
        *,
        url: str = DEFAULT_URL,
        routing_key: Secret | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._endpoint = _endpoint(url)
        self._routing_key = routing_key or None
        self._timeout = timeout
        self._transport = transport
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Config) -> PagerDutyPager:
        """Build the pager from the SIDECAR_PAGERDUTY_* settings."""
        return cls(url=config.pagerduty_url, routing_key=config.pagerduty_routing_key)

    @property
    def default_routing_key(self) -> Secret | None:
        """SIDECAR_PAGERDUTY_ROUTING_KEY, used where an organization has none."""
        return self._routing_key

    @property
    def host(self) -> str:
        """The endpoint's host (for logs: the URL holds no secret, the body does)."""
        return self._endpoint.host

    def trigger(
        self,
        *,
        dedup_key: str,
        summary: str,
        severity: str,
        source: str,
        custom_details: Mapping[str, Any],
        links: Sequence[Mapping[str, str]],
        routing_key: Secret | str | None = None,
    ) -> None:
        """Open (or update) the incident for ``dedup_key``."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        _check_dedup_key(dedup_key)
        if len(summary) > MAX_SUMMARY:
            summary = summary[: MAX_SUMMARY - 1] + "…"
        event: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": summary,
                "source": source,
                "severity": severity,
                "custom_details": dict(custom_details),
            },
        }
        event_links = [{"href": link["href"], "text": link["text"]} for link in links]
        if event_links:
            event["links"] = event_links
        self._post_event("trigger", self._key(routing_key), event)

    def resolve(
        self, *, dedup_key: str, routing_key: Secret | str | None = None
    ) -> None:
        """Resolve the incident for ``dedup_key`` (PagerDuty ignores unknown keys)."""
        _check_dedup_key(dedup_key)
        event = {"event_action": "resolve", "dedup_key": dedup_key}
        self._post_event("resolve", self._key(routing_key), event)

    def close(self) -> None:
        """Close this thread's clients."""
        clients: dict[str, httpx2.Client] = getattr(self._local, "clients", {})
        for client in clients.values():
            client.close()
        clients.clear()

    # --- internals --------------------------------------------------------

    def _key(self, routing_key: Secret | str | None) -> str:
        if isinstance(routing_key, Secret):
            routing_key = routing_key.reveal()
        if routing_key:
            return routing_key
        if self._routing_key is not None:
            return self._routing_key.reveal()
        raise MissingRoutingKey()

    def _client(self, routing_key: str) -> httpx2.Client:
        # One client per thread (httpx2 pools are not shared across a fork, and
        # the contract is one client per thread) and per routing key (the key is
        # part of the client's auth); after a fork the child builds its own.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.pid = os.getpid()
            local.clients = {}
        client: httpx2.Client | None = local.clients.get(routing_key)
        if client is None:
            # httpx2 never retries a request by itself (its transport's
            # retries default to 0) and follows no redirect unless asked.
            client = httpx2.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={"User-Agent": _USER_AGENT},
            )
            local.clients[routing_key] = client
        return client

    def _post_event(self, action: str, routing_key: str, event: dict[str, Any]) -> None:
        """POST one event; any answer but a 2xx naming the dedup key raises."""
        body = {**event, "routing_key": routing_key}
        try:
            response = self._client(routing_key).post(self._endpoint.url, json=body)
        except httpx2.TimeoutException:
            raise _network_error(action, "timed out", self.host) from None
        except httpx2.TransportError as exc:
            what = f"connection failed ({type(exc).__name__})"
            raise _network_error(action, what, self.host) from None
        if 200 <= response.status_code < 300 and _names_dedup_key(response):
            return
        # A 2xx without the dedup key is deciphered as Transient (the event may
        # not have been taken); every other status by its meaning.
        raise _translate_response(action, response, routing_key) from None


class _Endpoint:
    """Where events really go: scheme, host, port and path of the configured URL."""

    def __init__(self, scheme: str, host: str, port: int | None, path: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path

    @property
    def url(self) -> httpx2.URL:
        """The configured endpoint (proxies from the environment apply to it)."""
        return httpx2.URL(
            scheme=self.scheme, host=self.host, port=self.port, path=self.path
        )


def _endpoint(url: str) -> _Endpoint:
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("SIDECAR_PAGERDUTY_URL: invalid port") from None
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise ConfigError("SIDECAR_PAGERDUTY_URL must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(host):
        # The routing key travels in the body: plain http only to a local test double.
        raise ConfigError(
            "SIDECAR_PAGERDUTY_URL: plain http is accepted only for 127.0.0.1/localhost"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("SIDECAR_PAGERDUTY_URL must not carry credentials or a query")
    return _Endpoint(parts.scheme, host, port, parts.path or "/v2/enqueue")


def _check_dedup_key(key: str) -> None:
    if not key or len(key) > MAX_DEDUP_KEY:
        raise ValueError(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters")


def _translate_response(
    action: str, response: httpx2.Response, routing_key: str
) -> Transient | Rejected:
    return decipher(
        action,
        response.status_code,
        response.headers,
        _scrub(_describe_rejection(response), routing_key),
        host=response.request.url.host,
    )


def decipher(
    action: str,
    status: int,
    headers: Mapping[str, str],
    detail: str,
    *,
    host: str,
) -> Transient | Rejected:
    """Return the error a PagerDuty Events API answer stands for (pure).

    https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes:
    400 is an invalid event (do not retry), 429 is throttling and 5xx a server
    fault (retry). A 2xx lands here only without a dedup_key in the body.
    """
    # Header names are case-insensitive (RFC 9110 §5.1), a plain mapping is not.
    retry_after = parse_retry_after(
        next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    )
    if status == 429:
        # PagerDuty documents no Retry-After for the Events API; if it ever
        # sends one, that is its word for this answer and wins over the backoff.
        return RateLimited(
            f"PagerDuty {action}: rate limited (HTTP 429) by {host}; PagerDuty "
            "did not take the event and asks for a backoff of minutes",
            service=_SERVICE,
            status=status,
            retry_after=retry_after,
            backoff=THROTTLE_BACKOFF,
        )
    if status >= 500 or status == 408 or 200 <= status < 300:
        return Transient(
            f"PagerDuty {action}: HTTP {status} from {host}",
            service=_SERVICE,
            status=status,
            retry_after=retry_after,
        )
    error = AuthFailed if status in (401, 403) else Rejected
    return error(
        f"PagerDuty {action}: rejected (HTTP {status}) by {host}: {detail}",
        service=_SERVICE,
        status=status,
    )


def _describe_rejection(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300] or "(empty body)"
    if not isinstance(body, dict):
        return str(body)[:300]
    parts = [str(body.get(k)) for k in ("status", "message") if body.get(k)]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors))
    return ": ".join(parts)[:500] or "(no details)"


def _scrub(text: str, routing_key: str) -> str:
    # PagerDuty does not echo the key today; make sure a future answer cannot leak it.
    return text.replace(routing_key, "<SECRET>") if routing_key else text


def _names_dedup_key(response: httpx2.Response) -> bool:
    """Whether a 2xx answer's JSON carries the ``dedup_key`` (the event was taken)."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "dedup_key" in body


def _network_error(action: str, what: str, host: str) -> Transient:
    return Transient(f"PagerDuty {action}: {what} talking to {host}", service=_SERVICE)
