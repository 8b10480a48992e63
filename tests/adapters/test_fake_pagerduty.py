"""The fake PagerDuty follows the published Events API v2 contract, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fake_pagerduty import FakePagerDuty

KEY_A = "A" * 32
KEY_B = "B" * 32


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    """A running fake PagerDuty accepting any well-formed routing key."""
    with FakePagerDuty() as fake:
        yield fake


def send(fake: FakePagerDuty, event: dict[str, Any]) -> requests.Response:
    """POST one event to the fake's /v2/enqueue."""
    return requests.post(fake.url, json=event, timeout=5)


def trigger(
    routing_key: str = KEY_A, dedup_key: str | None = "ticket-1", **extra: Any
) -> dict[str, Any]:
    """A valid trigger event."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {"summary": "SEV 1", "source": "zendesk", "severity": "critical"},
        **extra,
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def follow_up(
    action: str, routing_key: str = KEY_A, dedup_key: str = "ticket-1"
) -> dict[str, Any]:
    """An acknowledge or resolve event."""
    return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}


def test_trigger_opens_an_incident_and_a_repeat_joins_it(pagerduty):
    """A trigger opens an incident; another with the same keys adds to the open one."""
    first = send(pagerduty, trigger())
    second = send(pagerduty, trigger())

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "ticket-1",
    }
    (incident,) = pagerduty.incidents()
    assert (incident.routing_key, incident.dedup_key, incident.status) == (
        KEY_A,
        "ticket-1",
        "triggered",
    )
    assert len(incident.events) == 2


def test_resolve_with_another_routing_key_answers_202_and_changes_nothing(pagerduty):
    """A resolve only reaches the open incident its own routing key opened."""
    send(pagerduty, trigger(KEY_A))

    answer = send(pagerduty, follow_up("resolve", routing_key=KEY_B))

    assert answer.status_code == 202
    assert [(i.routing_key, i.status) for i in pagerduty.open_incidents()] == [
        (KEY_A, "triggered")
    ]
    assert pagerduty.dropped_events == [follow_up("resolve", routing_key=KEY_B)]


def test_resolve_with_the_same_key_resolves_and_a_new_trigger_opens_a_new_incident(
    pagerduty,
):
    """After a resolve, a trigger with the same dedup_key opens a NEW incident."""
    send(pagerduty, trigger())
    send(pagerduty, follow_up("resolve"))
    assert pagerduty.open_incidents() == []

    send(pagerduty, trigger())

    assert [i.status for i in pagerduty.incidents()] == ["resolved", "triggered"]
    assert len(pagerduty.open_incidents()) == 1


def test_acknowledge_applies_only_with_the_opening_routing_key(pagerduty):
    """Acknowledge moves the open incident of the same keys; another key is dropped."""
    send(pagerduty, trigger())

    send(pagerduty, follow_up("acknowledge", routing_key=KEY_B))
    assert pagerduty.incidents()[0].status == "triggered"
    send(pagerduty, follow_up("acknowledge"))

    (incident,) = pagerduty.open_incidents()
    assert incident.status == "acknowledged"


def test_resolve_of_an_unknown_or_resolved_incident_is_dropped(pagerduty):
    """Resolving what is not open answers 202 and opens or changes nothing."""
    assert send(pagerduty, follow_up("resolve", dedup_key="nope")).status_code == 202
    send(pagerduty, trigger())
    send(pagerduty, follow_up("resolve"))
    send(pagerduty, follow_up("resolve"))

    assert [i.status for i in pagerduty.incidents()] == ["resolved"]
    assert len(pagerduty.dropped_events) == 2


def test_trigger_without_dedup_key_always_opens_a_new_incident(pagerduty):
    """Each trigger without dedup_key gets its own generated key and incident."""
    keys = [
        send(pagerduty, trigger(dedup_key=None)).json()["dedup_key"] for _ in range(2)
    ]

    assert keys[0] != keys[1]
    assert [i.dedup_key for i in pagerduty.incidents()] == keys


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (trigger(routing_key="short"), "routing_key"),
        ({**trigger(), "event_action": "escalate"}, "event_action"),
        (trigger(dedup_key="d" * 256), "dedup_key"),
        (
            {**trigger(), "payload": {**trigger()["payload"], "severity": "high"}},
            "severity",
        ),
        (
            {**trigger(), "payload": {**trigger()["payload"], "summary": "s" * 1025}},
            "summary",
        ),
        (
            {**trigger(), "payload": {"summary": "x", "severity": "info"}},
            "source",
        ),
        ({**trigger(), "images": [{"href": "https://x.test"}]}, "images"),
        ({**trigger(), "links": [{"text": "no href"}]}, "links"),
        (
            {"routing_key": KEY_A, "event_action": "resolve"},
            "dedup_key",
        ),
    ],
)
def test_invalid_events_are_refused_with_400(pagerduty, event, error):
    """Events breaking the Events API v2 rules get 400 and open nothing."""
    answer = send(pagerduty, event)

    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "invalid event"
    assert any(error in message for message in body["errors"])
    assert pagerduty.incidents() == []
    assert pagerduty.events == []


def test_payload_over_512_kb_is_refused(pagerduty):
    """An event larger than 512 KB is refused."""
    big = trigger(
        payload={**trigger()["payload"], "custom_details": {"x": "y" * 530_000}}
    )

    answer = send(pagerduty, big)

    assert answer.status_code == 400
    assert pagerduty.incidents() == []


def test_unknown_properties_are_recorded_and_the_event_accepted(pagerduty):
    """Properties the Events API does not define are accepted and recorded."""
    event = trigger(severity="critical", client="sidecar")
    event["payload"]["priority"] = "P1"

    assert send(pagerduty, event).status_code == 202

    assert pagerduty.unknown_properties == ["severity", "payload.priority"]


def test_routing_key_not_configured_is_refused(pagerduty):
    """With a list of existing keys, any other key gets a 400."""
    with FakePagerDuty(routing_keys=[KEY_A]) as fake:
        assert send(fake, trigger(KEY_B)).status_code == 400
        assert send(fake, trigger(KEY_A)).status_code == 202


def test_each_routing_key_is_throttled_over_a_sliding_window():
    """Over the per-routing-key limit: 429, the event is dropped; the window slides."""
    clock = ManualClock()
    with FakePagerDuty(
        events_per_window=2, window_seconds=60, rate_clock=clock
    ) as fake:
        assert [send(fake, trigger()).status_code for _ in range(3)] == [202, 202, 429]
        assert send(fake, trigger(KEY_B)).status_code == 202  # its own budget
        throttled = send(fake, follow_up("resolve"))
        assert throttled.status_code == 429
        assert throttled.json()["status"] == "throttle event"
        assert fake.incidents()[0].status == "triggered"  # the resolve was dropped

        clock.now += 60
        assert send(fake, follow_up("resolve")).status_code == 202
        assert fake.incidents()[0].status == "resolved"
