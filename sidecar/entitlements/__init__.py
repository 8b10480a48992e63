"""Which organizations hold Enterprise Support (Zendesk fields + entitlements file)."""

from __future__ import annotations

from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    PLANS,
    Entitlement,
    EntitlementsError,
    EntitlementsFile,
    OrgEntitlement,
)
from sidecar.entitlements.decide import decide
from sidecar.entitlements.loader import load_entitlements, parse_entitlements
from sidecar.entitlements.store import EntitlementsStore, entitlements_source

__all__ = [
    "ENTERPRISE_SUPPORT_PLANS",
    "PLANS",
    "Entitlement",
    "EntitlementsError",
    "EntitlementsFile",
    "EntitlementsStore",
    "OrgEntitlement",
    "decide",
    "entitlements_source",
    "load_entitlements",
    "parse_entitlements",
]
