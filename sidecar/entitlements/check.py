"""Check the entitlements file against the policy and Zendesk; plan a field change.

The rules stay with :func:`sidecar.entitlements.decide.decide`: these checks
call it and read its verdict (plan, add-on, sources) instead of re-deriving
which source wins, so `sidecar orgs check|show|set` say exactly what the
service decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    Entitlement,
    EntitlementsFile,
    OrgEntitlement,
)
from sidecar.domain.models import Organization
from sidecar.entitlements.decide import FILE, decide, describe_plans
from sidecar.errors import ConfigError


@dataclass
class CheckReport:
    """What `sidecar orgs check` found: errors fail the check, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    in_zendesk: int | None = None  # None: Zendesk was not read
    entitled: int = 0


@dataclass(frozen=True)
class Judge:
    """Decide organizations with one set of field keys, eligible plans and date."""

    today: date
    plan_field: str
    enterprise_field: str
    eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS

    def __call__(
        self, org: Organization | None, entry: OrgEntitlement | None
    ) -> Entitlement:
        return decide(
            org,
            entry,
            today=self.today,
            plan_field=self.plan_field,
            enterprise_field=self.enterprise_field,
            eligible_plans=self.eligible_plans,
        )


def check_overrides(
    file: EntitlementsFile, targets: Iterable[int], policy_name: str
) -> list[str]:
    """Warn about enhanced SLAs for severities the policy has no target for."""
    # An enhanced SLA can shorten a target the policy has, not create one.
    known = set(targets)
    return [
        f"org {entry.key}: sla: sev{severity} has no target in policy "
        f"{policy_name!r}, so the override is ignored"
        for entry in file.orgs
        for severity in sorted(set(entry.sla_overrides) - known)
    ]


def check_orgs(
    file: EntitlementsFile,
    listed: Sequence[Organization],
    report: CheckReport,
    *,
    judge: Judge,
) -> None:
    """Check each file entry against its Zendesk org, then every org without one."""
    by_id = {org.id: org for org in listed}
    by_external = {org.external_id.casefold(): org for org in listed if org.external_id}
    checked: dict[int, OrgEntitlement] = {}
    for entry in file.orgs:
        if entry.org_id is not None:
            org = by_id.get(entry.org_id)
        else:
            org = by_external.get((entry.external_id or "").casefold())
        if org is None:
            report.errors.append(f"org {entry.key}: no such organization in Zendesk")
            continue
        first = checked.setdefault(org.id, entry)
        if first is not entry:
            report.errors.append(
                f"org {entry.key} ({org.name}): organization {org.id} is also listed "
                f"as [orgs.{first.key!r}]; keep one entry"
            )
            continue
        decided = judge(org, entry)
        add_on = decided.enterprise_support
        if decided.problem:
            report.errors.append(f"org {entry.key} ({org.name}): {decided.problem}")
        elif add_on and decided.plan not in judge.eligible_plans:
            # File and Zendesk together make an impossible combination.
            report.errors.append(f"org {entry.key} ({org.name}): {decided.reason}")
        elif not decided.entitled and add_on:
            report.warnings.append(f"org {entry.key} ({org.name}): {decided.reason}")
    report.in_zendesk = len(listed)
    for org in listed:
        # Count as the service decides: the entry found by id, then external id.
        decided = judge(org, file.lookup(org_id=org.id, external_id=org.external_id))
        report.entitled += decided.entitled
        if org.id not in checked and decided.problem:
            report.errors.append(
                f"org {org.id} ({org.name}, no entry in the file): {decided.problem}"
            )


@dataclass(frozen=True)
class InputSource:
    """One input of the decision as `orgs show` lists it."""

    name: str  # "plan" or "enterprise_support"
    zendesk_key: str
    file_value: object  # None: not set in the file
    winner: str  # "file" or "zendesk"


def input_sources(
    decided: Entitlement, entry: OrgEntitlement | None, judge: Judge
) -> list[InputSource]:
    """Where each input of ``decided`` came from (as decide() resolved it)."""
    return [
        InputSource(
            "plan",
            judge.plan_field,
            entry.plan if entry else None,
            "file" if decided.plan_source == FILE else "zendesk",
        ),
        InputSource(
            "enterprise_support",
            judge.enterprise_field,
            entry.enterprise_support if entry else None,
            "file" if decided.enterprise_support_source == FILE else "zendesk",
        ),
    ]


def plan_field_change(
    current: Mapping[str, object],
    *,
    plan: str | None,
    enterprise_support: bool | None,
    plan_field: str,
    enterprise_field: str,
    eligible_plans: Sequence[str] = ENTERPRISE_SUPPORT_PLANS,
) -> dict[str, object]:
    """The Zendesk organization fields to write; ConfigError if the result is impossible.

    Enterprise Support may be ticked only on an eligible plan, so neither
    ticking it on a lower plan nor lowering the plan under it is written.
    """
    new_plan = plan if plan is not None else current.get(plan_field)
    add_on = (
        enterprise_support
        if enterprise_support is not None
        else current.get(enterprise_field) is True
    )
    if add_on and new_plan not in eligible_plans:
        raise ConfigError(
            f"refusing: Enterprise Support is an add-on for "
            f"{describe_plans(eligible_plans)} plans only, and the plan "
            f"would be {new_plan!r}"
        )
    fields: dict[str, object] = {}
    if plan is not None:
        fields[plan_field] = plan
    if enterprise_support is not None:
        fields[enterprise_field] = enterprise_support
    return fields


def file_overrides(entry: OrgEntitlement | None) -> list[tuple[str, object]]:
    """The inputs the file sets for an org (they win over what Zendesk holds)."""
    if entry is None:
        return []
    return [
        (name, value)
        for name, value in (
            ("plan", entry.plan),
            ("enterprise_support", entry.enterprise_support),
        )
        if value is not None
    ]
