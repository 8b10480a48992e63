"""Check the endpoints that adapters send credentials to."""

from __future__ import annotations

import ipaddress


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
