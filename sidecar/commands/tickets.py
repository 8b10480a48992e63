"""`sidecar reconcile TICKET_ID` and `sidecar explain TICKET_ID`: one ticket, in the foreground."""

from __future__ import annotations

import dataclasses
import json

import click

from sidecar.commands.context import cli_context
from sidecar.config import Config
from sidecar.domain.plan import Plan
from sidecar.errors import ConfigError
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.oncall.whois import OnCallDirectory, OnCallNow
from sidecar.sla import explain as explain_due
from sidecar.sla import format_utc
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.reconcile import Reconciler, describe_update


def _reconciler(*, dry_run: bool) -> Reconciler:
    """A reconciler: a dry run needs no queue, a real one the service's (never a new one)."""
    context = cli_context()
    config = context.config
    context.require_zendesk()
    if dry_run:
        config = dataclasses.replace(config, dry_run=True)
        queue = context.service_queue()
    else:
        # Its follow-ups (page, timers) must reach the service's workers.
        queue = context.queue()
    return ReconcilerFactory(config, queue=queue).reconciler()


@click.command()
@click.argument("ticket_id", type=int)
@click.option(
    "--dry-run", is_flag=True, help="Compute and print the diff; write nothing."
)
def reconcile(ticket_id: int, dry_run: bool) -> None:
    """Reconcile one ticket now and print what was (or would be) written."""
    outcome = _reconciler(dry_run=dry_run).reconcile(ticket_id)
    diff = describe_update(outcome.plan.update)
    if not diff:
        click.echo(f"ticket {ticket_id}: nothing to write")
    else:
        verb = "would write" if outcome.dry_run else "wrote"
        click.echo(f"ticket {ticket_id}: {verb}")
        click.echo(json.dumps(diff, indent=2, sort_keys=True))
    if outcome.plan.page or outcome.plan.resolve_page:
        action = "page on-call" if outcome.plan.page else "resolve the page"
        queued = "would queue" if outcome.dry_run else "queued"
        click.echo(f"{queued}: {action} ({outcome.plan.page_reason})")


@click.command()
@click.argument("ticket_id", type=int)
def explain(ticket_id: int) -> None:
    """Explain a ticket's SLA: severity, entitlement, policy, clock, due time, paging."""
    reconciler = _reconciler(dry_run=True)
    decided = reconciler.plan(ticket_id)
    config = cli_context().config
    lines = explain_lines(decided, reconciler)
    lines.extend(oncall_lines(decided, config))
    for line in lines:
        click.echo(line)


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


def explain_lines(decided: Plan, reconciler: Reconciler) -> list[str]:
    """Render a plan for humans."""
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
    lines.append(f"paging        {decided.page_reason}")
    diff = describe_update(decided.update)
    lines.append(
        "pending write " + (json.dumps(diff, sort_keys=True) if diff else "none")
    )
    return lines


COMMANDS = [reconcile, explain]
