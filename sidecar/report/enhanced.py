"""The policy each reported ticket was under: the base one, or its organization's enhanced SLA.

An organization's enhanced targets apply to a ticket only if the organization
was entitled on the day the ticket was created (UTC): the entitlements file's
``starts``/``ends`` dates bound the add-on, so a ticket from before the
contract or after it lapsed is reported under the base policy, as the
reconciler handled it. Zendesk's organization fields have no history: their
current values stand in for the ticket's day (docs/decisions.md, "Every
metric in the report, what-if and the entitlements file").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from sidecar.domain.entitlement import Entitlement, enhanced_policy
from sidecar.domain.models import Organization
from sidecar.sla import Policy

__all__ = ["EnhancedPolicies"]


class Decider(Protocol):
    """What decides an entitlement (sidecar.entitlements.EntitlementsStore)."""

    def for_org(self, org: Organization | None, *, today: date) -> Entitlement: ...


class EnhancedPolicies:
    """``policies(org_id, created_at)``: the policy a ticket was under, cached per decision."""

    def __init__(
        self,
        policy: Policy,
        decider: Decider,
        organizations: Mapping[int, Organization],
    ) -> None:
        self.policy = policy
        self.decider = decider
        self.organizations = organizations
        self._cache: dict[tuple[int, date], Policy] = {}

    def __call__(self, org_id: int | None, created_at: datetime) -> Policy:
        if org_id is None:
            return self.policy
        day = created_at.astimezone(UTC).date()
        key = (org_id, day)
        if key not in self._cache:
            org = self.organizations.get(org_id) or Organization(org_id, "", None, {})
            decided = self.decider.for_org(org, today=day)
            self._cache[key] = (
                enhanced_policy(
                    self.policy, decided.sla_overrides, decided.metric_overrides
                )
                if decided.entitled
                else self.policy
            )
        return self._cache[key]
