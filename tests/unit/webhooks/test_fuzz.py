"""Property: no request to the webhook endpoint produces a 5xx."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import signed_headers

URL = "/webhooks/zendesk"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
header_names = st.sampled_from(
    [
        "Content-Type",
        "X-Zendesk-Webhook-Signature",
        "X-Zendesk-Webhook-Signature-Timestamp",
        "X-Zendesk-Webhook-Invocation-Id",
        "Content-Length",
        "X-Other",
    ]
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["ticket_id", "type", "id", "subject", "detail", "x"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)
event_types = st.sampled_from(
    [
        "zen:event-type:ticket.created",
        "zen:event-type:organization.created",
        "zen:event-type:user.created",
        "zen:event-type:",
    ]
)


@FUZZ
@given(
    body=st.binary(max_size=512), headers=st.dictionaries(header_names, header_values)
)
def test_random_bytes_and_headers_never_5xx(
    client: FlaskClient, body: bytes, headers: dict[str, str]
) -> None:
    """Random bodies with random headers get a 2xx/4xx answer, never a 5xx."""
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code < 500
    assert response.is_json


@FUZZ
@given(value=json_values)
def test_signed_random_json_never_5xx(client: FlaskClient, value: object) -> None:
    """Correctly signed random JSON is accepted or rejected, never a 5xx."""
    body = json.dumps(value).encode()
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code < 500


@FUZZ
@given(
    event_type=event_types,
    subject=st.one_of(st.none(), st.integers(), st.text(max_size=30)),
    detail=json_values,
    event_id=st.one_of(st.none(), st.integers(), st.text(max_size=40)),
)
def test_signed_event_shapes_never_5xx(
    client: FlaskClient,
    event_type: str,
    subject: object,
    detail: object,
    event_id: object,
) -> None:
    """Envelopes with odd subjects, details and ids never produce a 5xx."""
    payload = {"type": event_type, "subject": subject, "detail": detail, "id": event_id}
    body = json.dumps(payload).encode()
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code < 500
