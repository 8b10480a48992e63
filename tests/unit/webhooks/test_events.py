"""Tests for sidecar.webhooks.events: samples on disk parse into normalized events."""

from __future__ import annotations

import json

import pytest

from sidecar.errors import BadEvent
from sidecar.webhooks.events import TRIGGER_BODY, WebhookEvent, parse_event
from tests.support import sample

EXPECTED = {
    "ticket_created": WebhookEvent(
        "ticket",
        5158,
        "4f3b0b44-1b55-4d6b-9a8a-0f9b3c6f2a01",
        "zen:event-type:ticket.created",
        9012,
        actor_id=9001,  # detail.actor_id: who made the change
        version="2025-03-04T10:05:00Z",  # detail.updated_at
    ),
    "ticket_status_changed": WebhookEvent(
        "ticket",
        5158,
        "7d0c8c1e-2b6b-4a43-8f0d-1f2a3b4c5d02",
        "zen:event-type:ticket.status_changed",
        9012,
        actor_id=9001,  # detail.actor_id: who made the change
        version="2025-03-04T10:05:00Z",  # detail.updated_at
    ),
    "ticket_custom_field_changed": WebhookEvent(
        "ticket",
        77,
        "a1b2c3d4-0000-4000-8000-000000000003",
        "zen:event-type:ticket.custom_field_changed",
        None,
        actor_id=9001,  # detail.actor_id: who made the change
        version="2025-03-04T10:05:00Z",  # detail.updated_at
    ),
    "ticket_comment_added": WebhookEvent(
        "ticket",
        5158,
        "a1b2c3d4-0000-4000-8000-000000000004",
        "zen:event-type:ticket.comment_added",
        9012,
        actor_id=9001,  # detail.actor_id: who made the change
        version="2025-03-04T10:05:00Z",  # detail.updated_at
    ),
    "ticket_subject_changed": WebhookEvent(
        "ignored",
        None,
        "a1b2c3d4-0000-4000-8000-000000000005",
        "zen:event-type:ticket.subject_changed",
    ),
    "organization_custom_field_changed": WebhookEvent(
        "organization",
        None,
        "a1b2c3d4-0000-4000-8000-000000000006",
        "zen:event-type:organization.custom_field_changed",
        9012,
    ),
    "user_active_changed": WebhookEvent(
        "ignored",
        None,
        "a1b2c3d4-0000-4000-8000-000000000007",
        "zen:event-type:user.active_changed",
    ),
    "trigger_ticket_changed": WebhookEvent(
        "ticket",
        5158,
        "8350205589",
        "trigger:ticket.changed",
        9012,
        version="2025-03-04T10:05Z",  # {{ticket.updated_at_with_timestamp}}: minutes
    ),
    "trigger_empty_placeholders": WebhookEvent(
        "ticket", 77, "8350205590", "trigger:ticket.changed", None
    ),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_sample_parses_to_normalized_event(case: str) -> None:
    """Each captured-style delivery parses into its normalized event."""
    body, headers = sample(case)
    assert parse_event(body, headers=_ci(headers)) == EXPECTED[case]


def test_event_id_falls_back_to_invocation_header() -> None:
    """An event payload without an id is deduplicated by the invocation id."""
    data = json.loads(sample("ticket_created")[0])
    del data["id"]
    event = parse_event(
        json.dumps(data).encode(), headers={"X-Zendesk-Webhook-Invocation-Id": "42"}
    )
    assert event.event_id == "42"


def test_ticket_id_falls_back_to_detail_id() -> None:
    """A ticket event whose subject is missing uses detail.id."""
    data = json.loads(sample("ticket_created")[0])
    data["subject"] = None
    assert parse_event(json.dumps(data).encode(), headers={}).ticket_id == 5158


def test_documented_trigger_body_renders_to_a_ticket_event() -> None:
    """The trigger body we document parses once Zendesk fills its placeholders."""
    rendered = (
        TRIGGER_BODY.replace("{{ticket.id}}", "12")
        .replace("{{ticket.updated_at_with_timestamp}}", "2025-03-04T10:05Z")
        .replace("{{ticket.organization.id}}", "")
    )
    event = parse_event(rendered.encode(), headers={})
    assert (event.kind, event.ticket_id, event.organization_id) == ("ticket", 12, None)
    assert event.event_id is None


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 400, "not a JSON object"),
        (b"[" * 100_000, 400, "nested too deeply"),
        (b"{}", 422, "no ticket_id"),
        (b'{"ticket_id": ""}', 422, "empty"),
        (b'{"ticket_id": null}', 422, "empty"),
        (b'{"ticket_id": "12a"}', 422, "positive integer"),
        (b'{"ticket_id": 0}', 422, "positive integer"),
        (b'{"ticket_id": true}', 422, "positive integer"),
        (b'{"ticket_id": "' + b"9" * 5000 + b'"}', 422, "positive integer"),
        (
            b'{"type": "zen:event-type:ticket.created", "subject": "zen:ticket:x"}',
            422,
            "without a ticket id",
        ),
        (
            b'{"type": "zen:event-type:organization.created", "detail": []}',
            422,
            "without an organization id",
        ),
    ],
)
def test_bad_bodies_name_the_problem(body: bytes, status: int, reason: str) -> None:
    """Unusable bodies raise BadEvent with the status and a reason to show."""
    with pytest.raises(BadEvent, match=reason) as caught:
        parse_event(body, headers={})
    assert caught.value.status == status


def test_integer_ids_are_accepted() -> None:
    """A trigger body with a bare number for ticket_id works too."""
    event = parse_event(b'{"ticket_id": 31, "organization_id": 4}', headers={})
    assert (event.ticket_id, event.organization_id) == (31, 4)


def _ci(headers: dict[str, str]) -> dict[str, str]:
    # Samples store headers lower-case as captured; Werkzeug's are case-insensitive.
    from werkzeug.datastructures import Headers

    return Headers(list(headers.items()))  # type: ignore[return-value]


@pytest.mark.parametrize(
    "body",
    [
        b'{"ticket_id": Infinity}',
        b'{"ticket_id": NaN}',
        b'{"ticket_id": 1e400}',
        b'{"ticket_id": true}',
        b'{"ticket_id": ["1"]}',
        b'{"ticket_id": {"id": 1}}',
        b'{"ticket_id": "' + b"9" * 5000 + b'"}',
        b'{"ticket_id": ' + b"9" * 5000 + b"}",
        b'{"type": "zen:event-type:ticket.status_changed", "subject": ["zen:ticket:1"],'
        b' "detail": {"id": Infinity}}',
        b'{"type": "zen:event-type:organization.created", "detail": "zen:organization:1"}',
        b'{"ticket_id": "\\ud800"}',
    ],
)
def test_hostile_json_is_a_clear_4xx(body: bytes) -> None:
    """Hostile-but-JSON bodies raise BadEvent with a 4xx status, never anything else."""
    with pytest.raises(BadEvent) as info:
        parse_event(body, headers={})
    assert info.value.status in (400, 422)
