"""Zendesk webhook signatures: pure sign and verify on the raw request bytes.

https://developer.zendesk.com/documentation/webhooks/verifying/ :
``X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, TIMESTAMP + BODY))``,
where TIMESTAMP is the ``X-Zendesk-Webhook-Signature-Timestamp`` header exactly as
sent (ISO 8601 UTC, ``2021-03-25T05:09:27Z``) and the secret string's bytes are the
key as-is (not base64-decoded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

from sidecar.errors import InvalidSignature

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
DEFAULT_TOLERANCE = timedelta(minutes=5)


def sign(body: bytes, *, timestamp: str, secret: str) -> str:
    """Return the signature Zendesk sends for this body and timestamp."""
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_timestamp(value: str) -> datetime:
    """Parse the ISO 8601 timestamp header into an aware datetime.

    Raises InvalidSignature when it is not ISO 8601 or carries no UTC offset.
    """
    if not value.isascii():
        raise InvalidSignature("signature timestamp is not ISO 8601")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidSignature("signature timestamp is not ISO 8601") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidSignature("signature timestamp has no UTC offset")
    return parsed


def verify(
    body: bytes,
    *,
    signature: str | None,
    timestamp: str | None,
    secret: str | Sequence[str],
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Verify a webhook signature on the raw body, or raise InvalidSignature.

    Fails closed: a missing header, a timestamp further than ``tolerance`` from
    ``now`` in either direction (replays, skewed clocks), or a signature that does
    not match all raise. ``now`` must be aware. ``secret`` may be several secrets:
    each Zendesk webhook has its own, and a rotation has an old and a new one.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    secrets = [s for s in secrets if s]
    if not secrets:
        raise InvalidSignature("no webhook secret configured")
    if not signature:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise InvalidSignature(f"missing {TIMESTAMP_HEADER} header")
    signed_at = parse_timestamp(timestamp)
    if abs(now - signed_at) > tolerance:
        raise InvalidSignature("signature timestamp outside the allowed window")
    # Header values reach us latin-1 decoded (WSGI); encoding back cannot fail.
    given = signature.strip().encode("latin-1", errors="replace")
    matches = [
        hmac.compare_digest(
            sign(body, timestamp=timestamp, secret=key).encode("ascii"), given
        )
        for key in secrets  # every key is tried: the time taken reveals nothing
    ]
    if not any(matches):
        raise InvalidSignature("signature does not match")
