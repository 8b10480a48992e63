"""Tests for sidecar.webhooks.signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.errors import InvalidSignature
from sidecar.webhooks.signature import sign, verify

# Zendesk signs test requests of not-yet-created webhooks with this literal string
# (reference §1.5); it is NOT base64-decoded before use.
ZENDESK_TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
TS = "2021-03-25T05:09:27Z"
NOW = datetime(2021, 3, 25, 5, 9, 30, tzinfo=UTC)

# Expected values computed independently:
#   printf '%s%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
VECTORS = [
    (
        ZENDESK_TEST_SECRET,
        TS,
        b'{"type":"zen:event-type:ticket.created","id":"1"}',
        "/RaFRpF1yPtIqvZ8xIJXRkOhC/yO3OcchM1yaGhumKI=",
    ),
    (ZENDESK_TEST_SECRET, TS, b"", "wCdBvXaHttn0wRVIYctzZ9O6O0bnqWakJMEKZ9VoRWw="),
    (
        "my-secret",
        "2025-03-04T10:05:00Z",
        b'{"ticket_id": "5158"}',
        "eBvG3RUKTRGsHbTlxyn/J8RshVnNRSk7vnNRmEc8fFQ=",
    ),
]


@pytest.mark.parametrize(("secret", "timestamp", "body", "expected"), VECTORS)
def test_sign_matches_known_answers(
    secret: str, timestamp: str, body: bytes, expected: str
) -> None:
    """sign() gives base64(HMAC-SHA256(secret, timestamp + body)) as openssl does."""
    assert sign(body, timestamp=timestamp, secret=secret) == expected


@pytest.mark.parametrize(("secret", "timestamp", "body", "expected"), VECTORS)
def test_verify_accepts_known_answers(
    secret: str, timestamp: str, body: bytes, expected: str
) -> None:
    """A correct signature within the window verifies."""
    now = datetime.fromisoformat(timestamp) + timedelta(seconds=3)
    verify(body, signature=expected, timestamp=timestamp, secret=secret, now=now)


def test_base64_decoded_secret_is_not_the_key() -> None:
    """The test secret is used as the literal string, so its decoded form fails."""
    _secret, timestamp, body, expected = VECTORS[0]
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(
            body,
            signature=expected,
            timestamp=timestamp,
            secret="this_secret_is_for_testing_only",
            now=NOW,
        )


def test_tampered_body_is_rejected() -> None:
    """Changing one byte of the body breaks the signature."""
    secret, timestamp, body, expected = VECTORS[0]
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(
            body.replace(b"1", b"2"),
            signature=expected,
            timestamp=timestamp,
            secret=secret,
            now=NOW,
        )


def test_tampered_timestamp_is_rejected() -> None:
    """A different (still fresh) timestamp breaks the signature: it is signed too."""
    secret, _, body, expected = VECTORS[0]
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(
            body,
            signature=expected,
            timestamp="2021-03-25T05:09:28Z",
            secret=secret,
            now=NOW,
        )


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=5, seconds=1), timedelta(hours=-1)]
)
def test_stale_and_future_timestamps_are_rejected(offset: timedelta) -> None:
    """A timestamp more than the tolerance before or after now is rejected."""
    signed_at = NOW - offset
    timestamp = signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = b"{}"
    with pytest.raises(InvalidSignature, match="window"):
        verify(
            body,
            signature=sign(body, timestamp=timestamp, secret="s"),
            timestamp=timestamp,
            secret="s",
            now=NOW,
        )


def test_tolerance_is_configurable_and_inclusive() -> None:
    """A timestamp exactly at the tolerance edge is accepted."""
    timestamp = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = b"{}"
    verify(
        body,
        signature=sign(body, timestamp=timestamp, secret="s"),
        timestamp=timestamp,
        secret="s",
        now=NOW,
        tolerance=timedelta(seconds=30),
    )


@pytest.mark.parametrize(
    ("signature", "timestamp", "message"),
    [
        (None, TS, "missing X-Zendesk-Webhook-Signature header"),
        ("", TS, "missing X-Zendesk-Webhook-Signature header"),
        (VECTORS[0][3], None, "missing X-Zendesk-Webhook-Signature-Timestamp header"),
        (VECTORS[0][3], "1616648967", "not ISO 8601"),
        (VECTORS[0][3], "2021-03-25T05:09:27", "no UTC offset"),
        (VECTORS[0][3], "２０２１-03-25T05:09:27Z", "not ISO 8601"),
        ("not base64 at all ÿ", TS, "does not match"),
    ],
)
def test_missing_or_malformed_headers_are_rejected(
    signature: str | None, timestamp: str | None, message: str
) -> None:
    """Missing headers, epoch or naive timestamps and garbage signatures all fail."""
    with pytest.raises(InvalidSignature, match=message):
        verify(
            VECTORS[0][2],
            signature=signature,
            timestamp=timestamp,
            secret=ZENDESK_TEST_SECRET,
            now=NOW,
        )


def test_empty_secret_fails_closed() -> None:
    """With no secret nothing verifies, not even an 'unsigned' request."""
    with pytest.raises(InvalidSignature, match="no webhook secret"):
        verify(b"{}", signature="x", timestamp=TS, secret="", now=NOW)


def test_any_of_several_secrets_verifies() -> None:
    """With several secrets (two webhooks, or a rotation), a body signed with any one verifies."""
    now = datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC)
    stamp = "2021-03-25T05:09:27Z"
    body = b'{"ticket_id": "1"}'
    for key in ("old-secret", "new-secret"):
        signature = sign(body, timestamp=stamp, secret=key)
        verify(
            body,
            signature=signature,
            timestamp=stamp,
            secret=("old-secret", "new-secret"),
            now=now,
        )
    other = sign(body, timestamp=stamp, secret="someone-else")
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(
            body,
            signature=other,
            timestamp=stamp,
            secret=("old-secret", "new-secret"),
            now=now,
        )
    with pytest.raises(InvalidSignature, match="no webhook secret"):
        verify(body, signature=other, timestamp=stamp, secret=("", ""), now=now)
