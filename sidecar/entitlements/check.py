"""Check the entitlements file against the policy and Zendesk; plan a field change.

The rules stay with :func:`sidecar.entitlements.decide.decide`: these checks
call it and read its verdict (plan, add-on, sources) instead of re-deriving
which source wins, so `sidecar orgs check|show|set` say exactly what the
service decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sidecar.domain.entitlement import (
    ENTERPRISE_SUPPORT_PLANS,
    Entitlement,
    EntitlementsFile,
    OrgEntitlement,
)
from sidecar.domain.models import Organization
from sidecar.entitlements.decide import FILE, decide, describe_plans
from sidecar.errors import ConfigError
from sidecar.sla import Policy, format_duration


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


def check_overrides(file: EntitlementsFile, policy: Policy) -> list[str]:
    """Warn about enhanced SLAs for targets the policy does not set."""
    # An enhanced SLA can shorten a target the policy has, not create one.
    warnings = []
    for entry in file.orgs:
        for severity in sorted({*entry.sla_overrides, *entry.metric_overrides}):
            known = policy.metric_targets(severity)
            named = [
                *(["first_response"] if severity in entry.sla_overrides else []),
                *entry.metric_overrides.get(severity, {}),
            ]
            for metric in named:
                if metric in known:
                    continue
                what = (
                    f"sev{severity}"
                    if metric == "first_response"
                    else (f"sev{severity}.{metric}")
                )
                warnings.append(
                    f"org {entry.key}: sla: {what} has no target in policy "
                    f"{policy.name!r}, so the override is ignored"
                )
    return warnings


def enhanced_lines(file: EntitlementsFile) -> list[str]:
    """One line per organization with enhanced targets: what `orgs check` shows."""
    lines = []
    for entry in file.orgs:
        shown = describe_overrides(entry.sla_overrides, entry.metric_overrides)
        if shown:
            lines.append(f"org {entry.key}: enhanced SLA: {shown}")
    return lines


def describe_overrides(
    sla_overrides: Mapping[int, timedelta],
    metric_overrides: Mapping[int, Mapping[str, timedelta]],
) -> str:
    """``SEV 1 30m; SEV 2 first_response 1h, next_reply 2h`` (empty when none).

    A severity with only a first-response override reads as it always did.
    """
    parts = []
    for severity in sorted({*sla_overrides, *metric_overrides}):
        others = metric_overrides.get(severity, {})
        first = sla_overrides.get(severity)
        if not others and first is not None:
            parts.append(f"SEV {severity} {format_duration(first)}")
            continue
        named = [
            *([f"first_response {format_duration(first)}"] if first else []),
            *(f"{m} {format_duration(d)}" for m, d in others.items()),
        ]
        parts.append(f"SEV {severity} {', '.join(named)}")
    # Today's one-duration form reads as it always did: "SEV 1 30m, SEV 3 4h".
    return ("; " if metric_overrides else ", ").join(parts)


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
