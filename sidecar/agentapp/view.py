"""What the agents' sidebar app shows for one ticket: a plan, as JSON (pure).

The numbers come from the same plan and explanation as `sidecar explain`
(:meth:`Reconciler.plan`, :func:`sidecar.sla.explain`); this module only
arranges them, and names the stretches the clock did not run in (nights,
closed days, holidays) from the schedule's own windows and holiday list.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sidecar.domain.metric_plan import metric_json
from sidecar.domain.oncall import OncallState
from sidecar.domain.plan import (
    ACKED_TAG,
    PAGED_TAG,
    PAGING_SEVERITIES,
    RESOLVED_TAG,
    Plan,
)
from sidecar.oncall.pagerduty import dedup_key
from sidecar.oncall.whois import OnCallNow
from sidecar.sla import Explanation, Schedule, Segment, format_utc
from sidecar.sla import explain as explain_due


def _utc(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment is not None else None


def _closed_days(schedule: Schedule, start: date, end: date) -> list[dict[str, str]]:
    """The local dates a gap skipped: holidays in [start, end], closed days inside it.

    A closed weekday counts from the gap's first date on, not on its last (a
    gap that merely ends on it did not skip it); a holiday anywhere in it
    removed its windows.
    """
    holidays: dict[date, str] = {}
    for year in range(start.year, end.year + 1):
        holidays.update(schedule.holidays_of(year))
    days: list[dict[str, str]] = []
    day = start
    while day <= end:
        if day in holidays:
            days.append(
                {"date": day.isoformat(), "reason": f"holiday ({holidays[day]})"}
            )
        elif day < end and not schedule.windows[day.weekday()]:
            days.append({"date": day.isoformat(), "reason": "closed day"})
        day += timedelta(days=1)
    return days


def skipped(explanation: Explanation) -> list[dict[str, Any]]:
    """Return the gaps the clock did not count, each with why (night, closed day, holiday).

    A gap is the time from creation to the clock's start, or between two
    covered segments. Its ``kind`` is ``holiday`` when a holiday falls in it,
    else ``weekend`` when a whole day without windows does, else ``night``.
    """
    schedule = explanation.target.schedule
    if schedule.continuous:
        return []
    bounds: list[tuple[datetime, datetime]] = []
    previous_end = explanation.created_at
    segments: tuple[Segment, ...] = explanation.segments
    for segment in segments:
        if segment.start > previous_end:
            bounds.append((previous_end, segment.start))
        previous_end = segment.end
    gaps = []
    zone = schedule.timezone
    for start, end in bounds:
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        closed = _closed_days(schedule, local_start.date(), local_end.date())
        if any(d["reason"].startswith("holiday") for d in closed):
            kind = "holiday"
        elif closed:
            kind = "weekend"
        else:
            kind = "night"
        gaps.append(
            {
                "start": format_utc(start),
                "end": format_utc(end),
                "minutes": int((end - start).total_seconds() // 60),
                "kind": kind,
                "days": closed,
            }
        )
    return gaps


def ticket_sla(
    decided: Plan,
    *,
    account: str,
    oncall: OncallState | None = None,
    oncall_now: OnCallNow | None = None,
) -> dict[str, Any]:
    """Return the sidebar's JSON for one planned ticket (no secrets, no other ticket).

    ``oncall``: what PagerDuty last told us about the ticket's incident
    (sidecar.tasks.oncall_back), when it told us anything. ``oncall_now``: who
    PagerDuty would page now for the ticket's routing key (None: the lookup is
    off, or the ticket's organization cannot be paged).
    """
    ticket = decided.ticket
    ent = decided.entitlement
    policy = decided.policy
    body: dict[str, Any] = {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "created_at": _utc(ticket.created_at),
        "severity": {
            "value": decided.severity,
            "problem": decided.severity_error,
        },
        "entitlement": {
            "entitled": ent.entitled,
            "reason": ent.reason,
            "source": ent.source,
            "plan": ent.plan,
            "enterprise_support": ent.enterprise_support,
            # Enhanced SLAs replace the targets (plan.effective_policy).
            "enhanced_policy": ent.entitled and bool(ent.sla_overrides),
            "organization": (
                {"id": decided.organization.id, "name": decided.organization.name}
                if decided.organization is not None
                else None
            ),
        },
        "policy": policy.name,
        "sla": None,
        "why": None,
    }
    if decided.sla is not None:
        sla = decided.sla
        body["sla"] = {
            "status": sla.status,
            "due_at": _utc(sla.due_at),
            "at_risk_at": _utc(sla.at_risk_at),
            "first_response_at": _utc(decided.first_response_at),
            "target": sla.target.label,
            "settled_kept": decided.settled_kept,
        }
        explanation = explain_due(ticket.created_at, sla.severity, policy)
        schedule = explanation.target.schedule
        body["why"] = {
            "target": explanation.target.label,
            "schedule": explanation.target.schedule_name,
            "hours": schedule.describe(),
            "clock_start": _utc(explanation.clock_start),
            "counted": [
                {
                    "start": format_utc(s.start),
                    "end": format_utc(s.end),
                    "minutes": int(s.duration.total_seconds() // 60),
                }
                for s in explanation.segments
            ],
            "skipped": skipped(explanation),
            "lines": explanation.lines(),
        }
    # Every metric beyond the first response the policy sets (issue 21), as
    # `explain --format json` shows them; empty for a first-response-only ticket.
    body["metrics"] = [metric_json(state) for state in decided.metrics]
    body["metrics_error"] = decided.metrics_error
    tags = ticket.tags
    pages = (
        ent.entitled
        and decided.severity in PAGING_SEVERITIES
        and ticket.status not in {"solved", "closed"}
    ) or decided.requested is not None  # an agent's page, about to go out
    paged = PAGED_TAG in tags
    body["oncall"] = {
        "pages": pages,
        "paged": paged,
        "resolved": RESOLVED_TAG in tags,
        # The Events API returns no incident URL; the dedup key finds the
        # incident in PagerDuty's search (docs/decisions.md).
        "dedup_key": dedup_key(account, ticket.id) if paged or pages else None,
        "reason": decided.page_reason,
        "requested_by": decided.requested.requested_by if decided.requested else None,
        "now": oncall_now.as_json() if oncall_now is not None else None,
        # PagerDuty's answers (issue 22): the tag is the ticket's own record of
        # an acknowledgement; who, when and the incident come from the store.
        "acknowledged": ACKED_TAG in tags,
        "incident": _incident(oncall),
    }
    return body


def _incident(state: OncallState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "status": state.status,
        "number": state.incident_number,
        "url": state.incident_url,
        "acknowledged_by": state.acked_by,
        "acknowledged_at": state.acked_at,
        "assignees": list(state.assignees),
    }
