"""Tests for the pure maps from an upstream answer to what the worker does."""

from __future__ import annotations

import pytest

from sidecar.errors import (
    AuthFailed,
    BadResponse,
    Conflict,
    Disposition,
    NotFound,
    RateLimited,
    Rejected,
    TicketClosed,
    Transient,
)
from sidecar.oncall import pagerduty
from sidecar.zendesk.decipher import decipher

# Zendesk's answer to an update of a closed ticket, as public API clients record it.
CLOSED = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}
INVALID_FIELD = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {
        "base": [
            {
                "description": "Due: is not valid",
                "error": "InvalidValue",
                "ticket_field_id": 360002,
                "ticket_field_type": "FieldDate",
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "disposition"),
    [
        (
            429,
            {"error": "APIRateLimitExceeded"},
            {"Retry-After": "7"},
            RateLimited,
            Disposition.RETRY,
        ),
        (409, {"error": "UpdateConflict"}, {}, Conflict, Disposition.RETRY),
        (503, None, {"Retry-After": "3"}, Transient, Disposition.RETRY),
        (404, {"error": "RecordNotFound"}, {}, NotFound, Disposition.DROP),
        (422, CLOSED, {}, TicketClosed, Disposition.DROP),
        (
            401,
            {"error": "Couldn't authenticate you"},
            {},
            AuthFailed,
            Disposition.DEAD_LETTER,
        ),
        (403, {"error": "Forbidden"}, {}, AuthFailed, Disposition.DEAD_LETTER),
        (422, INVALID_FIELD, {}, Rejected, Disposition.DEAD_LETTER),
        (400, {"error": "InvalidJSON"}, {}, Rejected, Disposition.DEAD_LETTER),
    ],
)
def test_zendesk_answers(status, body, headers, kind, disposition) -> None:  # type: ignore[no-untyped-def]
    """Each Zendesk status maps to one error class, and the class to one disposition."""
    error = decipher("PUT", "/api/v2/tickets/5.json", status, headers, body)
    assert type(error) is kind
    assert error.disposition is disposition
    assert error.status == status


def test_zendesk_retry_after_is_kept() -> None:
    """Retry-After rides along on 429 and 5xx answers."""
    error = decipher("GET", "/api/v2/tickets/5.json", 429, {"Retry-After": "7"}, None)
    assert error.retry_after == 7.0


def test_a_422_for_another_reason_names_the_field() -> None:
    """A RecordInvalid that is not a closed ticket stays a failure naming the field."""
    error = decipher("PUT", "/api/v2/tickets/5.json", 422, {}, INVALID_FIELD)
    assert "ticket field 360002: Due: is not valid" in str(error)


def test_only_credentials_refusals_raise_the_health_flag() -> None:
    """AuthFailed marks the service's credentials as refused; nothing else does."""
    assert AuthFailed("x", service="zendesk").credentials_refused
    assert not Rejected("x", service="zendesk").credentials_refused
    assert not BadResponse("x", service="zendesk").retryable


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, RateLimited),
        (500, Transient),
        (202, Transient),  # a 2xx without dedup_key: a malformed answer
        (400, Rejected),
        (401, AuthFailed),
        (403, AuthFailed),
        (404, Rejected),  # a wrong endpoint: loud, never dropped
    ],
)
def test_pagerduty_answers(status: int, kind: type) -> None:
    """PagerDuty statuses map to the same dispositions as Zendesk's, by the same classes."""
    error = pagerduty.decipher("trigger", status, {}, "detail", host="events.example")
    assert type(error) is kind
    assert error.disposition is not Disposition.DROP
