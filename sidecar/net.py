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


# Names that only resolve inside a site, never on the internet: RFC 6761
# (localhost), RFC 6762 (.local, mDNS), RFC 8375 (home.arpa), and .internal
# (ICANN reserved it for private use in 2024).
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")


def unreachable_reason(host: str | None) -> str | None:
    """Why a server on the internet could never connect to ``host``; None if it could.

    Judged from the text alone, without DNS: an IP address that is not global
    (loopback, private, link-local, CGNAT, unspecified...) or a name that only
    resolves inside a site (a single label, localhost, .local, .internal).
    """
    if not host:
        return "there is no host"
    name = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
            return f"{host} resolves only on this machine or site"
        if "." not in name:
            return f"{host} is a name without a domain, resolvable only inside a site"
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback:
        return f"{host} is a loopback address (this machine only)"
    if address.is_link_local:
        return f"{host} is a link-local address"
    if address.is_unspecified:
        return f"{host} is the unspecified address"
    if address.is_private:
        return f"{host} is a private network address"
    if not address.is_global:
        return f"{host} is not a public internet address"
    return None


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
