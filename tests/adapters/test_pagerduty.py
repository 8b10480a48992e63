"""PagerDutyPager against a fake Events API over HTTP, and at the transport level."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from sidecar.config import Config, Secret
from sidecar.errors import ConfigError, RateLimited, Rejected, Transient
from sidecar.net import parse_retry_after
from sidecar.oncall.pagerduty import (
    MissingRoutingKey,
    PagerDutyPager,
    dedup_key,
    summary,
)
from tests.fake_pagerduty import FakePagerDuty

KEY = "R0UTINGKEY000000000000000000DEFA"
ORG_KEY = "ORGR0UT1NGKEY0000000000000000042"

TRIGGER: dict[str, Any] = dict(
    dedup_key="zendesk-acme-ticket-7",
    summary="[SEV 1] Acme: everything is down",
    severity="critical",
    source="zendesk:acme",
    custom_details={"ticket_url": "https://acme.zendesk.com/agent/tickets/7", "sev": 1},
    links=[{"href": "https://acme.zendesk.com/agent/tickets/7", "text": "Ticket #7"}],
)


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys={KEY, ORG_KEY}) as server:
        yield server


@pytest.fixture
def pager(fake: FakePagerDuty) -> Iterator[PagerDutyPager]:
    p = PagerDutyPager.from_config(
        Config(pagerduty_url=fake.url, pagerduty_routing_key=Secret(KEY))
    )
    yield p
    p.close()


def recording(
    status: int = 202, body: dict[str, Any] | None = None
) -> tuple[httpx2.MockTransport, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        answer = body if body is not None else {"status": "success", "dedup_key": "k"}
        return httpx2.Response(status, json=answer)

    return httpx2.MockTransport(handler), seen


# --- over HTTP --------------------------------------------------------------


def test_trigger_reaches_the_configured_http_url(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A trigger goes to SIDECAR_PAGERDUTY_URL on 127.0.0.1 with every field."""
    pager.trigger(**TRIGGER)
    (event,) = fake.events
    assert event["event_action"] == "trigger"
    assert event["routing_key"] == KEY
    assert event["dedup_key"] == "zendesk-acme-ticket-7"
    assert event["payload"]["custom_details"]["sev"] == 1
    assert event["links"] == TRIGGER["links"]


def test_resolve_uses_the_same_dedup_key(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """Resolve sends event_action resolve with the dedup key and routing key."""
    pager.resolve(dedup_key="zendesk-acme-ticket-7")
    assert fake.events == [
        {
            "event_action": "resolve",
            "dedup_key": "zendesk-acme-ticket-7",
            "routing_key": KEY,
        }
    ]


def test_per_org_routing_key_overrides_the_default(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A routing key given with the call (the org's override) is used instead."""
    pager.trigger(**TRIGGER, routing_key=Secret(ORG_KEY))
    pager.resolve(dedup_key="zendesk-acme-ticket-7", routing_key=ORG_KEY)
    assert [e["routing_key"] for e in fake.events] == [ORG_KEY, ORG_KEY]


def test_503_is_transient_after_one_request(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A 503 raises Transient at once: the client does not retry inside the call."""
    fake.fail_next(1, 503, retry_after=7)
    with pytest.raises(Transient) as info:
        pager.trigger(**TRIGGER)
    assert info.value.status == 503 and info.value.retry_after == 7.0
    assert fake.request_count == 1 and fake.events == []


def test_500_502_504_are_transient_without_retries(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """Every 5xx raises Transient after a single request."""
    for n, status in enumerate((500, 502, 504), start=1):
        fake.fail_next(1, status)
        with pytest.raises(Transient):
            pager.resolve(dedup_key="k")
        assert fake.request_count == n


def test_429_is_rate_limited_with_retry_after(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A 429 raises RateLimited with Retry-After after one request (no endless loop)."""
    fake.fail_next(3, 429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        pager.trigger(**TRIGGER)
    assert info.value.retry_after == 30.0 and info.value.retryable
    assert fake.request_count == 1


def test_timeout_is_transient_after_one_request(fake: FakePagerDuty) -> None:
    """A slow endpoint times out as Transient, without a second attempt."""
    pager = PagerDutyPager(url=fake.url, routing_key=Secret(KEY), timeout=0.05)
    fake.delay(0.5)
    with pytest.raises(Transient, match="timed out"):
        pager.resolve(dedup_key="k")
    assert fake.request_count == 1


def test_connection_refused_is_transient() -> None:
    """Nothing listening on the port is a Transient connection error."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pager = PagerDutyPager(
        url=f"http://127.0.0.1:{port}/v2/enqueue", routing_key=Secret(KEY)
    )
    with pytest.raises(Transient, match="connection failed"):
        pager.resolve(dedup_key="k")


def test_invalid_routing_key_is_rejected_without_leaking_it(
    fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A 400 for an unknown routing key is Rejected with the reason, not the key."""
    unknown = "UNKNOWNKEY0000000000000000000000"
    with pytest.raises(Rejected) as info:
        pager.trigger(**TRIGGER, routing_key=unknown)
    error = info.value
    assert not error.retryable and error.status == 400
    assert "invalid event" in str(error) and "Invalid routing key" in str(error)
    for text in (str(error), repr(error), str(error.args)):
        assert unknown not in text and KEY not in text
    assert error.__cause__ is None and error.__suppress_context__


def test_rejection_text_never_echoes_the_key() -> None:
    """Even if PagerDuty echoed the routing key, the error would not show it."""
    transport, _ = recording(400, {"status": "invalid event", "errors": [f"bad {KEY}"]})
    pager = PagerDutyPager(routing_key=Secret(KEY), transport=transport)
    with pytest.raises(Rejected) as info:
        pager.resolve(dedup_key="k")
    assert KEY not in str(info.value) and "<SECRET>" in str(info.value)


def test_missing_routing_key_is_a_config_error(fake: FakePagerDuty) -> None:
    """No default and no override is a clear configuration error; nothing is sent."""
    pager = PagerDutyPager(url=fake.url)
    with pytest.raises(MissingRoutingKey) as info:
        pager.trigger(**TRIGGER)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, Rejected)
    assert "SIDECAR_PAGERDUTY_ROUTING_KEY" in str(info.value)
    assert fake.request_count == 0


def test_one_client_per_routing_key_and_thread(fake: FakePagerDuty) -> None:
    """Calls reuse one client per key and thread; other keys and threads get theirs."""
    built: list[str] = []

    class Counting(PagerDutyPager):
        def _client(self, routing_key: str) -> Any:
            clients = getattr(self._local, "clients", {})
            if routing_key not in clients:
                built.append(routing_key)
            return super()._client(routing_key)

    pager = Counting(url=fake.url, routing_key=Secret(KEY))
    pager.resolve(dedup_key="a")
    pager.resolve(dedup_key="b")
    pager.resolve(dedup_key="c", routing_key=ORG_KEY)
    worker = threading.Thread(target=lambda: pager.resolve(dedup_key="d"))
    worker.start()
    worker.join()
    assert built == [KEY, ORG_KEY, KEY]
    assert len(fake.events) == 4


# --- at the transport level ---------------------------------------------------


def test_exact_json_of_a_trigger() -> None:
    """The trigger body is the Events API v2 shape, sent to the configured URL."""
    transport, seen = recording()
    pager = PagerDutyPager(
        url="https://pd-proxy.internal:8443/pd/v2/enqueue",
        routing_key=Secret(KEY),
        transport=transport,
    )
    pager.trigger(**TRIGGER)
    (request,) = seen
    assert str(request.url) == "https://pd-proxy.internal:8443/pd/v2/enqueue"
    assert request.headers["host"] == "pd-proxy.internal:8443"
    assert json.loads(request.content) == {
        "event_action": "trigger",
        "routing_key": KEY,
        "dedup_key": "zendesk-acme-ticket-7",
        "payload": {
            "summary": "[SEV 1] Acme: everything is down",
            "source": "zendesk:acme",
            "severity": "critical",
            "custom_details": TRIGGER["custom_details"],
        },
        "links": TRIGGER["links"],
    }


def test_default_url_is_pagerduty() -> None:
    """Without an override events go to https://events.pagerduty.com/v2/enqueue."""
    transport, seen = recording()
    PagerDutyPager(routing_key=Secret(KEY), transport=transport).resolve(dedup_key="k")
    assert str(seen[0].url) == "https://events.pagerduty.com/v2/enqueue"


def test_long_summary_is_truncated_to_1024() -> None:
    """A summary over 1024 characters is cut to 1024, ending in an ellipsis."""
    transport, seen = recording()
    pager = PagerDutyPager(routing_key=Secret(KEY), transport=transport)
    pager.trigger(**{**TRIGGER, "summary": "x" * 5000})
    sent = json.loads(seen[0].content)["payload"]["summary"]
    assert len(sent) == 1024 and sent.endswith("…")


def test_bad_severity_is_refused_before_sending() -> None:
    """A severity outside the four PagerDuty levels raises ValueError, sends nothing."""
    transport, seen = recording()
    pager = PagerDutyPager(routing_key=Secret(KEY), transport=transport)
    with pytest.raises(ValueError, match="severity"):
        pager.trigger(**{**TRIGGER, "severity": "high"})
    assert seen == []


def test_202_without_dedup_key_is_transient() -> None:
    """A success answer without a dedup_key is treated as a server fault."""
    transport, seen = recording(202, {"status": "success"})
    pager = PagerDutyPager(routing_key=Secret(KEY), transport=transport)
    with pytest.raises(Transient):
        pager.resolve(dedup_key="k")
    assert len(seen) == 1


def test_plain_http_only_for_loopback() -> None:
    """http:// is accepted for 127.0.0.1/localhost test doubles, refused elsewhere."""
    PagerDutyPager(url="http://localhost:9/v2/enqueue")
    PagerDutyPager(url="http://[::1]:9/v2/enqueue")
    for bad in ("http://pd.example.com/v2/enqueue", "ftp://x/", "not a url"):
        with pytest.raises(ConfigError):
            PagerDutyPager(url=bad)


# --- pure helpers -----------------------------------------------------------


def test_dedup_key_is_stable_and_bounded() -> None:
    """The dedup key derives from account and ticket, within 255 characters."""
    assert dedup_key("acme", 42) == "zendesk-acme-ticket-42"
    long_a, long_b = dedup_key("a" * 300, 42), dedup_key("a" * 299 + "b", 42)
    assert len(long_a) <= 255 and long_a.endswith("-ticket-42")
    assert long_a != long_b and long_a == dedup_key("a" * 300, 42)


def test_summary_format_and_limit() -> None:
    """The summary reads [SEV n] org: subject, on one line, within 1024 characters."""
    assert summary(1, "Acme Corp", "Pushes\nfail") == "[SEV 1] Acme Corp: Pushes fail"
    assert summary(2, "", "") == "[SEV 2] (no subject)"
    text = summary(1, "Acme", "y" * 2000)
    assert len(text) == 1024 and text.startswith("[SEV 1] Acme: yyy")


def test_parse_retry_after() -> None:
    """Retry-After is read as seconds or as an HTTP date; junk gives None."""
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
