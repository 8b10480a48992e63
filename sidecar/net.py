"""HTTP helpers every adapter shares: safe endpoints, Retry-After."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses, where plain http is acceptable."""
    # Test doubles listen on 127.0.0.1; anywhere else a credential must not
    # travel in clear text.
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Return the seconds to wait (delay-seconds or HTTP date); None if absent/bad."""
    # https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
