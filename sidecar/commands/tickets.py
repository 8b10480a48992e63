"""`sidecar reconcile TICKET_ID` and `sidecar explain TICKET_ID`: one ticket, in the foreground."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import click

from sidecar.commands.context import cli_context
from sidecar.config import Config
from sidecar.domain.metric_plan import metric_json
from sidecar.domain.oncall import OncallState, shown
from sidecar.domain.plan import ACKED_TAG, SETTLED_TAGS, Plan
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.oncall.whois import OnCallDirectory, OnCallNow
from sidecar.sla import MetricState, format_duration, format_utc
from sidecar.sla import explain as explain_due
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.oncall_back import states_for
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.reconcile import Outcome, Reconciler, describe_update


def _oncall(queue: JobQueue | None, ticket_id: int) -> OncallState | None:
    """What PagerDuty last told the service about the ticket's incident (None: nothing)."""
    if queue is None:
        return None
    try:
        return states_for(cli_context().config, queue).get(ticket_id)
    except QueueUnavailable:
        return None


def _reconciler(*, dry_run: bool) -> tuple[Reconciler, JobQueue | None]:
    """A reconciler and its queue: a dry run needs none, a real one the service's (never a new one)."""
    context = cli_context()
    config = context.config
    context.require_zendesk()
    if dry_run:
        config = dataclasses.replace(config, dry_run=True)
        queue = context.service_queue()
    else:
        # Its follow-ups (page, timers) must reach the service's workers.
        queue = context.queue()
    return ReconcilerFactory(config, queue=queue).reconciler(), queue


@click.command()
@click.argument("ticket_id", type=int)
@click.option(
    "--dry-run", is_flag=True, help="Compute and print the diff; write nothing."
)
def reconcile(ticket_id: int, dry_run: bool) -> None:
    """Reconcile one ticket now and print what was (or would be) written."""
    outcome = _reconciler(dry_run=dry_run)[0].reconcile(ticket_id)
    diff = describe_update(outcome.plan.update)
    if not diff:
        click.echo(f"ticket {ticket_id}: nothing to write")
    else:
        verb = "would write" if outcome.dry_run else "wrote"
        click.echo(f"ticket {ticket_id}: {verb}")
        click.echo(json.dumps(diff, indent=2, sort_keys=True))
    if outcome.plan.page or outcome.plan.resolve_page:
        click.echo(escalation_line(outcome))


def escalation_line(outcome: Outcome) -> str:
    """What happened to the page (or its resolve) this reconcile decided."""
    reason = outcome.plan.page_reason
    if outcome.paged_now:
        return f"paged on-call now; the escalate job records it ({reason})"
    action = "page on-call" if outcome.plan.page else "resolve the page"
    queued = "would queue" if outcome.dry_run else "queued"
    return f"{queued}: {action} ({reason})"


@click.command()
@click.argument("ticket_id", type=int)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object with every metric's due time, state, pauses and windows.",
)
def explain(ticket_id: int, output: str) -> None:
    """Explain a ticket's SLA: severity, entitlement, policy, clock, due time, paging."""
    reconciler, queue = _reconciler(dry_run=True)
    decided = reconciler.plan(ticket_id)
    if output == "json":
        click.echo(json.dumps(explain_json(decided), indent=2))
        return
    config = cli_context().config
    lines = explain_lines(decided, reconciler, oncall=_oncall(queue, ticket_id))
    lines.extend(oncall_lines(decided, config))
    for line in lines:
        click.echo(line)


def explain_json(decided: Plan) -> dict[str, Any]:
    """A plan as one JSON object: every metric (the first response included) and why not."""
    ticket = decided.ticket
    metrics: list[dict[str, Any]] = []
    sla = decided.sla
    if sla is not None:
        metrics.append(
            {
                "name": "first_response",
                "due": format_utc(sla.due_at),
                "state": next(iter(ticket.tags & SETTLED_TAGS)).removeprefix("sla_")
                if decided.settled_kept
                else sla.status,
                "start": format_utc(ticket.created_at),
                "at_risk_at": format_utc(sla.at_risk_at),
                "stop": format_utc(decided.first_response_at)
                if decided.first_response_at
                else None,
                "paused": False,
                "target": format_duration(sla.target.duration),
                "schedule": sla.target.schedule_name,
                "pauses": [],
                "windows": [
                    [format_utc(w.start), format_utc(w.end)]
                    for w in sla.target.schedule.segments(
                        ticket.created_at, decided.first_response_at or sla.due_at
                    )
                ],
                "cycles": [],
            }
        )
    metrics.extend(metric_json(state) for state in decided.metrics)
    return {
        "ticket": ticket.id,
        "status": ticket.status,
        "created": format_utc(ticket.created_at),
        "severity": decided.severity,
        "severity_error": decided.severity_error,
        "entitled": decided.entitlement.entitled,
        "entitlement": decided.entitlement.reason,
        "policy": decided.policy.name,
        "metrics": metrics,
        "metrics_error": decided.metrics_error,
        "paging": decided.page_reason,
        "pending_write": describe_update(decided.update) or None,
    }


def oncall_lines(decided: Plan, config: Config) -> list[str]:
    """Where the ticket's pages go and, with SIDECAR_PAGERDUTY_API_TOKEN, who is on call now."""
    own = decided.entitlement.routing_key
    key = own or config.pagerduty_routing_key
    if key is None:
        return ["routing key   none configured (SIDECAR_PAGERDUTY_ROUTING_KEY)"]
    whose = "the organization's own" if own else "default"
    # The fingerprint names the key in SIDECAR_PAGERDUTY_ONCALL_POLICIES.
    lines = [f"routing key   {whose} (fingerprint {key_fingerprint(key)})"]
    try:
        directory = OnCallDirectory.from_config(config)
    except ConfigError as exc:
        return [*lines, f"on call now   {OnCallNow(False, reason=str(exc)).text()}"]
    if directory is not None:
        lines.append(f"on call now   {directory.who(key).text()}")
    return lines


def explain_lines(
    decided: Plan, reconciler: Reconciler, *, oncall: OncallState | None = None
) -> list[str]:
    """Render a plan for humans (``oncall``: PagerDuty's news about its incident)."""
    ticket = decided.ticket
    ent = decided.entitlement
    org = decided.organization
    lines = [
        f"ticket        #{ticket.id} {ticket.subject!r} ({ticket.status})",
        f"created       {format_utc(ticket.created_at)}",
        "organization  " + (f"{org.name} (id {org.id})" if org else "none"),
        # The reason starts with the verdict ("entitled: ..."): not said twice.
        f"entitlement   {ent.reason} [source: {ent.source}]",
    ]
    raw = ticket.custom_fields.get(reconciler.fields.severity)
    if decided.severity_error:
        lines.append(f"severity      {raw!r}: {decided.severity_error} -> no SLA")
    elif decided.severity is None:
        lines.append("severity      not set -> no SLA")
    else:
        lines.append(f"severity      SEV {decided.severity} (field value {raw!r})")
    policy = decided.policy
    enhanced = (
        " with the organization's enhanced SLA" if policy != reconciler.policy else ""
    )
    lines.append(f"policy        {policy.name}{enhanced}")
    if decided.sla is None:
        lines.append("sla           none: the ticket carries no SLA fields or tags")
    else:
        sla = decided.sla
        explanation = explain_due(ticket.created_at, sla.severity, policy)
        lines.extend("  " + line for line in explanation.lines())
        lines.append(f"at risk from  {format_utc(sla.at_risk_at)}")
        response = (
            format_utc(decided.first_response_at)
            if decided.first_response_at
            else "none yet"
        )
        lines.append(f"first response {response}")
        lines.append(f"status        {sla.status}")
        if decided.settled_kept:
            lines.append("              (settled: kept as the ticket records it)")
    for state in decided.metrics:
        lines.extend(_metric_lines(state))
    if decided.metrics_error:
        lines.append(f"other metrics not measured: {decided.metrics_error}")
        lines.append(
            "              (no due time is written for them until it can be read)"
        )
    lines.append(f"paging        {decided.page_reason}")
    lines.extend(incident_lines(ticket.tags, oncall))
    diff = describe_update(decided.update)
    lines.append(
        "pending write " + (json.dumps(diff, sort_keys=True) if diff else "none")
    )
    return lines


def incident_lines(tags: frozenset[str], state: OncallState | None) -> list[str]:
    """What PagerDuty said about the page: the incident, acknowledged by whom, assignees."""
    if state is None:
        if ACKED_TAG in tags:
            return ["on-call       acknowledged in PagerDuty (tag oncall_acked)"]
        return []
    incident = (
        f"incident #{state.incident_number}"
        if state.incident_number is not None
        else f"incident {state.incident_id}"
    )
    where = f" {state.incident_url}" if state.incident_url else ""
    if state.acknowledged:
        said = f"acknowledged by {state.acked_by or 'PagerDuty'} at {shown(state.acked_at)}"
    elif state.status == "resolved":
        said = f"resolved in PagerDuty at {shown(state.status_at)}"
    else:
        said = "not acknowledged yet"
    lines = [f"on-call       {incident} {said}{where}"]
    if state.assignees:
        lines.append(f"assigned to   {', '.join(state.assignees)}")
    if state.pending:
        lines.append(
            f"              {len(state.pending)} PagerDuty update(s) not yet on the ticket"
        )
    return lines


def _metric_lines(state: MetricState) -> list[str]:
    """One metric beyond the first response, for humans."""
    due = format_utc(state.due) if state.due else "none"
    if state.paused:
        due += " (paused: due once the clock resumes)"
    target = state.target
    lines = [
        f"{state.name:<13} {state.state}, due {due}"
        f" [{format_duration(target.duration)} on {target.schedule_name}]"
    ]
    if state.start is not None:
        counted = sum((w.end - w.start for w in state.windows), timedelta())
        counted -= timedelta(microseconds=counted.microseconds)  # whole seconds
        lines.append(
            f"  started     {format_utc(state.start)}; counted {format_duration(counted)}"
            f" in {len(state.windows)} window(s)"
        )
    for pause in state.pauses:
        lines.append(
            f"  paused      {format_utc(pause.start)} -> {format_utc(pause.end)}"
        )
    done = [c for c in state.cycles if c.stop is not None]
    if len(state.cycles) > 1 or done:
        tally = ", ".join(
            f"{n} {word}"
            for word in ("met", "breached")
            if (n := sum(c.state == word for c in done))
        )
        lines.append(f"  cycles      {len(state.cycles)} ({tally or 'none finished'})")
    return lines


COMMANDS = [reconcile, explain]
