"""Tests for sidecar.zendesk.events: samples on disk parse into normalized events."""

from __future__ import annotations

import json

import pytest

from sidecar.errors import BadEvent
from sidecar.zendesk.events import (
    INVOCATION_HEADER,
    TRIGGER_BODY,
    WebhookEvent,
    parse_event,
    trigger_body,
)
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
    assert (
        parse_event(body, invocation_id=_ci(headers).get(INVOCATION_HEADER))
        == EXPECTED[case]
    )


def test_event_id_falls_back_to_invocation_header() -> None:
    """An event payload without an id is deduplicated by the invocation id."""
    data = json.loads(sample("ticket_created")[0])
    del data["id"]
    event = parse_event(json.dumps(data).encode(), invocation_id="42")
    assert event.event_id == "42"


def test_ticket_id_falls_back_to_detail_id() -> None:
    """A ticket event whose subject is missing uses detail.id."""
    data = json.loads(sample("ticket_created")[0])
    data["subject"] = None
    assert parse_event(json.dumps(data).encode()).ticket_id == 5158


def test_documented_trigger_body_renders_to_a_ticket_event() -> None:
    """The trigger body we document parses once Zendesk fills its placeholders."""
    rendered = (
        TRIGGER_BODY.replace("{{ticket.id}}", "12")
        .replace("{{ticket.updated_at_with_timestamp}}", "2025-03-04T10:05Z")
        .replace("{{ticket.organization.id}}", "")
    )
    event = parse_event(rendered.encode())
    assert (event.kind, event.ticket_id, event.organization_id) == ("ticket", 12, None)
    assert event.event_id is None


def render(template: str, *, severity: str, ticket_id: str = "12") -> bytes:
    """Fill the trigger body's placeholders as Zendesk does: unescaped text."""
    return (
        template.replace("{{ticket.id}}", ticket_id)
        .replace("{{ticket.updated_at_with_timestamp}}", "2025-03-04T10:05Z")
        .replace("{{ticket.organization.id}}", "7")
        .replace("{{ticket.ticket_field_360}}", severity)
        .encode()
    )


@pytest.mark.parametrize(
    ("rendered", "severity"),
    [
        ("sev_1", 1),  # the option tag setup creates
        ("sev_2", 2),
        ("SEV 1 - Critical (Business-Critical Impact)", 1),  # a title, if rendered so
        ("sev_4", 4),
        ("", None),  # no value: the placeholder renders blank
        ("urgent", None),  # not a severity: no hint, no error
        ("x" * 500, None),
    ],
)
def test_the_trigger_body_names_the_severity_as_a_hint(
    rendered: str, severity: int | None
) -> None:
    """With the severity field, the rendered body carries the severity (1..5) or None."""
    template = trigger_body(360)
    assert template.endswith(', "severity": "{{ticket.ticket_field_360}}"}')
    event = parse_event(render(template, severity=rendered))
    assert (event.ticket_id, event.organization_id, event.severity) == (12, 7, severity)
    assert event.version == "2025-03-04T10:05Z"


def test_without_a_severity_field_the_body_is_the_plain_one() -> None:
    assert trigger_body(None) == TRIGGER_BODY
    assert parse_event(render(TRIGGER_BODY, severity="")).severity is None


def test_a_body_broken_by_a_rendered_quote_still_names_its_ticket() -> None:
    """Zendesk renders placeholders unescaped: a quote breaks the JSON, not the ticket."""
    body = render(trigger_body(360), severity='sev "1"', ticket_id="31")
    event = parse_event(body, invocation_id="inv-9")
    assert (event.kind, event.ticket_id, event.event_id) == ("ticket", 31, "inv-9")
    assert (event.severity, event.version, event.event_type) == (
        None,
        None,
        "trigger:unparsed",
    )


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 400, "not valid JSON"),
        (b'{"ticket_id": "0", "x": "\\"}', 400, "not valid JSON"),
        (b'{"ticket_id": 12, "x": "\\"}', 400, "not valid JSON"),
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
        parse_event(body)
    assert caught.value.status == status


def test_integer_ids_are_accepted() -> None:
    """A trigger body with a bare number for ticket_id works too."""
    event = parse_event(b'{"ticket_id": 31, "organization_id": 4}')
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
        parse_event(body)
    assert info.value.status in (400, 422)
