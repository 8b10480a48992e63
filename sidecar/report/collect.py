"""Stream the export into the attainment tallies: the report's one pass over tickets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sidecar.report.attainment import Attainment, ReportBuilder, assess
from sidecar.report.source import ExportReader, ReadStats, ReportFields, facts_from
from sidecar.sla import NoTargetError, Policy

__all__ = ["ReportData", "collect"]


@dataclass(frozen=True)
class ReportData:
    """The numbers and what they cover."""

    attainment: Attainment
    start: datetime
    end: datetime
    now: datetime
    policy: Policy
    organization_id: int | None  # the --org filter, if any
    counted: int  # tickets in the period under an SLA (counted once each)
    left_out: int  # tickets in the period without SLA marks or severity
    read: ReadStats


def collect(
    reader: ExportReader,
    *,
    fields: ReportFields,
    policy: Policy,
    start: datetime,
    end: datetime,
    now: datetime,
    organization_id: int | None = None,
    policy_for: Callable[[int | None, datetime], Policy] | None = None,
) -> ReportData:
    """Read every ticket updated since ``start`` and tally those created in ``[start, end)``.

    ``policy_for(org_id, created_at)`` gives the policy a ticket of that
    organization created then was under (enhanced SLAs in force that day);
    by default every ticket is under ``policy``.
    """
    builder = ReportBuilder(
        targets={severity: t.duration for severity, t in policy.targets.items()}
    )
    left_out: set[int] = set()
    for ticket, metric_set in reader.tickets(start):
        if not start <= ticket.created_at < end:
            continue
        if organization_id is not None and ticket.organization_id != organization_id:
            continue
        facts = facts_from(ticket, metric_set, fields)
        outcome = None
        if facts is not None:
            effective = (
                policy_for(ticket.organization_id, ticket.created_at)
                if policy_for
                else policy
            )
            try:
                outcome = assess(facts, effective, now=now)
            except NoTargetError:
                outcome = None
        if outcome is None:
            builder.discard(ticket.id)
            left_out.add(ticket.id)
        else:
            builder.add(outcome)
            left_out.discard(ticket.id)
        reader.note = f"{len(builder):,} under an SLA in the period"
    reader.progress.done()
    return ReportData(
        attainment=builder.result(),
        start=start,
        end=end,
        now=now,
        policy=policy,
        organization_id=organization_id,
        counted=len(builder),
        left_out=len(left_out),
        read=reader.stats,
    )
