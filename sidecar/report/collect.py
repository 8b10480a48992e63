"""Stream the export into the attainment tallies: the report's one pass over tickets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sidecar.report.attainment import Attainment, ReportBuilder, assess
from sidecar.report.cycles import CycleBuilder, MetricAttainment
from sidecar.report.source import (
    ExportReader,
    HistoryReader,
    HistoryStats,
    ReadStats,
    ReportFields,
    facts_from,
)
from sidecar.sla import MetricState, NoTargetError, Policy

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
    # Every metric's cycles; empty when no counted ticket's policy sets a
    # metric beyond the first response (the report then reads as it always did).
    metrics: tuple[MetricAttainment, ...] = ()
    history: HistoryStats | None = None  # what reading ticket histories cost


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
    histories: HistoryReader | None = None,
) -> ReportData:
    """Read every ticket updated since ``start`` and tally those created in ``[start, end)``.

    ``policy_for(org_id, created_at)`` gives the policy a ticket of that
    organization created then was under (enhanced SLAs in force that day);
    by default every ticket is under ``policy``. ``histories`` reads a
    ticket's comments and status history when its policy sets a metric beyond
    the first response (without it, such metrics are ``unknown``).
    """
    builder = ReportBuilder(
        targets={severity: t.duration for severity, t in policy.targets.items()}
    )
    cycles = CycleBuilder()
    left_out: set[int] = set()
    for ticket, metric_set in reader.tickets(start):
        if not start <= ticket.created_at < end:
            continue
        if organization_id is not None and ticket.organization_id != organization_id:
            continue
        facts = facts_from(ticket, metric_set, fields)
        outcome = None
        effective = policy
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
            cycles.discard(ticket.id)
            left_out.add(ticket.id)
        else:
            builder.add(outcome)
            names = list(effective.metric_targets(outcome.severity))
            states: tuple[MetricState, ...] | None = ()
            if len(names) > 1:  # a metric beyond the first response: its history
                states = (
                    histories.states(
                        ticket,
                        metric_set,
                        severity=outcome.severity,
                        policy=effective,
                        now=now,
                    )
                    if histories is not None
                    else None
                )
            cycles.add(
                ticket.id,
                severity=outcome.severity,
                organization_id=ticket.organization_id,
                ticket_status=ticket.status,
                first_response=outcome.status,
                names=names,
                states=states,
            )
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
        metrics=cycles.result(),
        history=histories.stats if histories is not None else None,
    )
