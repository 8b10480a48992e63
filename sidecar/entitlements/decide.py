"""Decide whether an organization holds Enterprise Support today, and say why.

Precedence: a value the entitlements file sets explicitly wins over the Zendesk
organization field (the file is the contract record, reviewed in version
control); a value the file leaves out comes from Zendesk. The file's dates bound
the add-on whichever source granted it. A bad value in Zendesk means "not
entitled", with ``problem`` set for the caller to log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    PLANS,
    Entitlement,
    OrgEntitlement,
)
from sidecar.domain.models import Organization

ZENDESK = "zendesk"
FILE = "file"
BOTH = "file+zendesk"
NONE = "none"


def describe_plans(plans: Sequence[str]) -> str:
    """Name the eligible plans for messages: "ultra and enterprise"."""
    return " and ".join(plans) if len(plans) < 3 else ", ".join(plans)


@dataclass(frozen=True)
class _Value:
    """One input to the decision: its value, where it came from, what is wrong."""

    value: object
    source: str
    where: str  # for humans: "the entitlements file" or "Zendesk field 'x'"
    problem: str | None = None


def decide(
    org: Organization | None,
    entry: OrgEntitlement | None,
    *,
    today: date,
    plan_field: str,
    enterprise_field: str,
    eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS,
) -> Entitlement:
    """Return the organization's entitlement from its Zendesk fields and file entry.

    ``eligible_plans`` are the plans that may hold the add-on (SIDECAR_ORG_PLANS).
    """
    if org is None and entry is None:
        return Entitlement(False, "not entitled: the ticket has no organization", NONE)
    org_id = org.id if org is not None else entry.org_id if entry is not None else None
    fields: Mapping[str, object] = org.fields if org is not None else {}
    plan = _plan(fields, entry, plan_field, (*PLANS, *eligible_plans))
    enterprise = _enterprise(fields, entry, enterprise_field)
    plan_name = plan.value if isinstance(plan.value, str) else None

    def no(reason: str, source: str, problem: str | None = None) -> Entitlement:
        return Entitlement(
            False,
            f"not entitled: {reason}",
            source,
            plan=plan_name,
            org_id=org_id,
            plan_source=plan.source,
            enterprise_support_source=enterprise.source,
            enterprise_support=enterprise.value is True,
            # Where the org's incidents go, even after the add-on lapsed: a page
            # opened while it was entitled must be resolved on the same service.
            routing_key=entry.pagerduty_routing_key if entry is not None else None,
            problem=problem,
        )

    # A bad Zendesk value decides first: the admin must hear about it.
    for value in (plan, enterprise):
        if value.problem is not None:
            return no(value.problem, ZENDESK, value.problem)
    if enterprise.value is not True:
        return no(f"Enterprise Support is off ({enterprise.where})", enterprise.source)
    if plan_name not in eligible_plans:
        shown = "no plan" if plan_name is None else f"plan {plan_name!r}"
        reason = (
            f"Enterprise Support is on ({enterprise.where}) but {shown} "
            f"({plan.where}) may not hold it: only {describe_plans(eligible_plans)} may"
        )
        # Both values from Zendesk: an admin saved an impossible combination there.
        both_zendesk = plan.source == ZENDESK and enterprise.source == ZENDESK
        return no(reason, _combined(plan, enterprise), reason if both_zendesk else None)
    if entry is not None and entry.starts is not None and today < entry.starts:
        return no(
            f"the Enterprise Support add-on starts on {entry.starts.isoformat()} "
            "(the entitlements file)",
            FILE,
        )
    if entry is not None and entry.ends is not None and today > entry.ends:
        return no(
            f"the Enterprise Support add-on ended on {entry.ends.isoformat()} "
            "(the entitlements file)",
            FILE,
        )

    reason = f"entitled: Enterprise Support on plan {plan_name!r}"
    if plan.source == enterprise.source == FILE:
        reason += " (the entitlements file)"
    else:
        reason += f" (plan: {plan.where}; add-on: {enterprise.where})"
    if entry is not None and entry.ends is not None:
        reason += f", until {entry.ends.isoformat()}"
    return Entitlement(
        True,
        reason,
        _combined(plan, enterprise),
        plan=plan_name,
        org_id=org_id,
        plan_source=plan.source,
        enterprise_support_source=enterprise.source,
        enterprise_support=True,
        sla_overrides=entry.sla_overrides if entry is not None else {},
        metric_overrides=entry.metric_overrides if entry is not None else {},
        routing_key=entry.pagerduty_routing_key if entry is not None else None,
        slack_webhook_url=entry.slack_webhook_url if entry is not None else None,
        csm_user_id=entry.csm_user_id if entry is not None else None,
    )


def _plan(
    fields: Mapping[str, object],
    entry: OrgEntitlement | None,
    field: str,
    known: Sequence[str],
) -> _Value:
    if entry is not None and entry.plan is not None:
        return _Value(entry.plan, FILE, "the entitlements file")
    where = f"Zendesk field {field!r}"
    raw = fields.get(field)
    if raw is None or raw == "":
        return _Value(None, ZENDESK, where)
    if isinstance(raw, str) and raw.strip().casefold() in known:
        return _Value(raw.strip().casefold(), ZENDESK, where)
    problem = (
        f"Zendesk organization field {field!r} has an unknown plan {raw!r} "
        f"(known: {', '.join(dict.fromkeys(known))})"
    )
    return _Value(None, ZENDESK, where, problem)


def _enterprise(
    fields: Mapping[str, object], entry: OrgEntitlement | None, field: str
) -> _Value:
    if entry is not None and entry.enterprise_support is not None:
        return _Value(entry.enterprise_support, FILE, "the entitlements file")
    where = f"Zendesk field {field!r}"
    raw = fields.get(field)
    if raw is None:  # an unticked checkbox Zendesk has never saved
        return _Value(False, ZENDESK, where)
    if isinstance(raw, bool):
        return _Value(raw, ZENDESK, where)
    problem = f"Zendesk organization field {field!r} is not a checkbox value: {raw!r}"
    return _Value(None, ZENDESK, where, problem)


def _combined(first: _Value, second: _Value) -> str:
    return first.source if first.source == second.source else BOTH
