"""`sidecar policy whatif NEW_POLICY.toml`: the open tickets under the current and a new policy.

A thin shell over :mod:`sidecar.whatif`: it builds the two configurations
from the CLI context and the options, and prints the comparison as a table,
CSV or JSON. It writes nothing, to Zendesk or to the queue.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from sidecar.commands.context import cli_context, existing_file
from sidecar.entitlements import EntitlementsStore
from sidecar.sla import format_duration, format_utc, load_policy
from sidecar.tasks.bulk import DEFAULT_STATUSES, STATUSES
from sidecar.tasks.handler import fields_from
from sidecar.whatif import (
    Comparison,
    Configuration,
    MetricComparison,
    MetricVerdict,
    Reads,
    Side,
    Summary,
    Tally,
    Verdict,
    WhatIf,
    summarize,
)
from sidecar.words import counted
from sidecar.zendesk.budget import BULK, lane

FORMATS = ("table", "csv", "json")
CSV_COLUMNS = (
    "ticket_id",
    "organization_id",
    "organization",
    "severity",
    "ticket_status",
    "current_due_at",
    "current_status",
    "new_due_at",
    "new_status",
    "moved",
    "shift_minutes",
    "becomes_breached",
    "comments_read",
)


def _statuses(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(STATUSES))
    if not chosen or unknown:
        raise click.BadParameter(
            f"unknown status {', '.join(unknown) or '(none)'}: use {', '.join(STATUSES)}",
            param_hint="--status",
        )
    return chosen


def _as_of(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time like 2026-11-27T06:00:00Z",
            param_hint="--at",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} needs a time zone (Z or +HH:MM)", param_hint="--at"
        )
    if (
        not datetime(1970, 1, 2, tzinfo=UTC)
        <= moment
        < datetime(9000, 1, 1, tzinfo=UTC)
    ):
        raise click.BadParameter(f"{text!r} is out of range", param_hint="--at")
    return moment.astimezone(UTC)


@click.command("whatif")
@click.argument("new_policy", metavar="NEW_POLICY.toml")
@click.option("--policy-name", metavar="NAME", help="the policy in NEW_POLICY to use")
@click.option(
    "--entitlements",
    "entitlements_file",
    metavar="FILE",
    help="entitlements file for the new configuration (default: the current one)",
)
@click.option(
    "--status",
    "status_text",
    default=",".join(DEFAULT_STATUSES),
    show_default=True,
    help="ticket statuses to compare, comma-separated",
)
@click.option("--org", "org_id", type=int, help="only this organization's tickets")
@click.option("--at", "at_text", help="compare as of this time (default: now)")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
)
@click.option(
    "--limit",
    default=50,
    show_default=True,
    help="tickets listed in the table (csv and json list all)",
)
def whatif_command(
    new_policy: str,
    policy_name: str | None,
    entitlements_file: str | None,
    status_text: str,
    org_id: int | None,
    at_text: str | None,
    output_format: str,
    limit: int,
) -> None:
    """Show what NEW_POLICY.toml would do to the open tickets; write nothing.

    Every matching ticket's first-response due time and status under the
    current configuration and under the new one, a summary (tickets that
    move, that become breached, by organization and severity), as a table,
    CSV or JSON. One pass over List Tickets, one read per organization, and a
    comment read only where the first reply decides (answered tickets are
    settled and do not move).
    """
    statuses = _statuses(status_text)
    now = _as_of(at_text)
    context = cli_context()
    config = context.config
    fields = fields_from(config)
    # Zendesk schedules the new file names: the account's, as the service has them.
    replacement = load_policy(
        existing_file(new_policy),
        policy_name,
        zendesk=lambda ref: context.schedules.book().schedule(ref),
    )
    current_store = context.entitlements
    new_store = current_store
    if entitlements_file is not None:
        new_store = EntitlementsStore(
            existing_file(entitlements_file),
            plan_field=config.org_plan_field,
            enterprise_field=config.org_enterprise_field,
            eligible_plans=config.eligible_plans,
        )
        new_store.load()
    fraction = config.at_risk_fraction
    run = WhatIf(
        # Bulk reads: through the deployment's budget when the service's queue is here.
        context.bulk_zendesk(context.service_queue()),
        fields=fields,
        current=Configuration(
            Side("current", context.policy, fraction), current_store.for_org
        ),
        new=Configuration(Side("new", replacement, fraction), new_store.for_org),
        statuses=statuses,
        now=now,
        org_id=org_id,
    )
    with lane(BULK):
        items = sorted(run, key=lambda c: c.ticket_id)
    summary = summarize(items)
    header = {
        "as_of": format_utc(now),
        "current": {"policy": context.policy.name, "file": config.policy_file},
        "new": {
            "policy": replacement.name,
            "file": new_policy,
            "entitlements": entitlements_file or current_store.path,
        },
        "statuses": list(statuses),
        "organization_id": org_id,
    }
    if output_format == "json":
        click.echo(json.dumps(_json(header, summary, run.reads, items), indent=2))
    elif output_format == "csv":
        click.echo(_csv(items, list(summary.by_metric)), nl=False)
    else:
        for line in _table(header, summary, run.reads, items, limit=limit):
            click.echo(line)


# --- output ---------------------------------------------------------------------


def _due(verdict: Verdict | MetricVerdict | None) -> str:
    if verdict is None or verdict.due_at is None:
        return ""
    return format_utc(verdict.due_at)


def _state(verdict: Verdict | MetricVerdict | None) -> str:
    return verdict.status if verdict is not None else "none"


def _shift_minutes(item: Comparison | MetricComparison) -> int | None:
    shift = item.shift
    return None if shift is None else round(shift / timedelta(minutes=1))


def _shift_text(item: Comparison | MetricComparison) -> str:
    shift = item.shift
    if shift is None:
        if not item.moved:
            return "0"
        gains = item.current is None or item.current.due_at is None
        return "gains SLA" if gains else "loses SLA"
    if not shift:
        return "0"
    sign = "-" if shift < timedelta(0) else "+"
    return sign + format_duration(abs(shift))


def _row(item: Comparison) -> dict[str, Any]:
    return {
        "ticket_id": item.ticket_id,
        "organization_id": item.organization_id,
        "organization": item.organization,
        "severity": item.severity,
        "ticket_status": item.ticket_status,
        "current_due_at": _due(item.current) or None,
        "current_status": _state(item.current),
        "new_due_at": _due(item.new) or None,
        "new_status": _state(item.new),
        "moved": item.moved,
        "shift_minutes": _shift_minutes(item),
        "becomes_breached": item.becomes_breached,
        "comments_read": item.comments_read,
    }


def _metric_row(metric: MetricComparison) -> dict[str, Any]:
    return {
        "metric": metric.name,
        "current_due_at": _due(metric.current) or None,
        "current_status": _state(metric.current),
        "new_due_at": _due(metric.new) or None,
        "new_status": _state(metric.new),
        "moved": metric.moved,
        "shift_minutes": _shift_minutes(metric),
        "becomes_breached": metric.becomes_breached,
    }


def _tally(tally: Tally) -> dict[str, int]:
    return {
        "tickets": tally.tickets,
        "moved": tally.moved,
        "earlier": tally.earlier,
        "later": tally.later,
        "gain_sla": tally.gain_sla,
        "lose_sla": tally.lose_sla,
        "becomes_breached": tally.becomes_breached,
        "stops_being_breached": tally.stops_being_breached,
    }


def _reads(reads: Reads) -> dict[str, int]:
    # audit_reads only when a metric beyond the first response needed them:
    # a first-response what-if reads (and prints) what it always did.
    audits = {"audit_reads": reads.audit_reads} if reads.audit_reads else {}
    return {
        **audits,
        "calls": reads.calls,
        "list_pages": reads.pages,
        "tickets_listed": reads.tickets,
        "organization_reads": reads.organizations,
        "comment_reads": reads.comment_reads,
        "settled_without_comment_read": reads.settled_without_read,
        "user_reads": reads.user_reads,
    }


def _json(
    header: dict[str, Any], summary: Summary, reads: Reads, items: Sequence[Comparison]
) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if summary.by_metric:
        metrics["by_metric"] = [
            {"metric": name, **_tally(tally)}
            for name, tally in summary.by_metric.items()
        ]
    return {
        **header,
        "reads": _reads(reads),
        "summary": _tally(summary.total),
        **metrics,
        "by_organization": [
            {"organization_id": org_id, "organization": name, **_tally(tally)}
            for (org_id, name), tally in sorted(
                summary.by_organization.items(), key=lambda kv: kv[0][0] or 0
            )
        ],
        "by_severity": [
            {"severity": severity, **_tally(tally)}
            for severity, tally in sorted(
                summary.by_severity.items(), key=lambda kv: kv[0] or 0
            )
        ],
        "tickets": [
            {**_row(item), "metrics": [_metric_row(m) for m in item.metrics]}
            if summary.by_metric
            else _row(item)
            for item in items
        ],
    }


_METRIC_CSV = ("current_due_at", "current_status", "new_due_at", "new_status")


def _csv(items: Iterable[Comparison], metrics: Sequence[str] = ()) -> str:
    """One row per ticket; per metric beyond the first response, four more columns."""
    columns = [*CSV_COLUMNS, *(f"{m}_{c}" for m in metrics for c in _METRIC_CSV)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for item in items:
        row = _row(item)
        for metric in item.metrics:
            found = _metric_row(metric)
            row.update({f"{metric.name}_{c}": found[c] for c in _METRIC_CSV})
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return out.getvalue()


def _columns(rows: Sequence[Sequence[object]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def _table(
    header: dict[str, Any],
    summary: Summary,
    reads: Reads,
    items: Sequence[Comparison],
    *,
    limit: int,
) -> list[str]:
    total = summary.total
    current, new = header["current"], header["new"]
    lines = [
        f"as of {header['as_of']}: current policy {current['policy']!r} "
        f"({current['file'] or 'built in'}) -> new policy {new['policy']!r} ({new['file']})",
        f"read: {counted(reads.pages, 'page')} of List Tickets "
        f"({counted(reads.tickets, 'ticket')}), "
        f"{counted(reads.organizations, 'organization')}, "
        f"{counted(reads.comment_reads, 'comment read')} "
        f"({counted(reads.settled_without_read, 'answered ticket')} needed none)"
        + (
            f", {counted(reads.audit_reads, 'status history', plural='status histories')}"
            if reads.audit_reads
            else ""
        )
        + ": "
        f"{counted(reads.calls, 'call')}; nothing written",
        f"tickets with an SLA (status {', '.join(header['statuses'])}): {total.tickets}",
        ("first response: " if summary.by_metric else "")
        + f"move: {total.moved} (earlier {total.earlier}, later {total.later}, "
        f"gain an SLA {total.gain_sla}, lose it {total.lose_sla})",
        f"become breached: {total.becomes_breached}; "
        f"stop being breached: {total.stops_being_breached}",
    ]
    if not items:
        return lines
    heading = ("TICKETS", "MOVE", "BECOME BREACHED")
    orgs = [("ORGANIZATION", *heading)] + [
        (
            f"{name or '(none)'} ({org_id})"
            if org_id is not None
            else "(no organization)",
            t.tickets,
            t.moved,
            t.becomes_breached,
        )
        for (org_id, name), t in sorted(
            summary.by_organization.items(), key=lambda kv: kv[0][0] or 0
        )
    ]
    severities = [("SEVERITY", *heading)] + [
        (f"SEV {severity}", t.tickets, t.moved, t.becomes_breached)
        for severity, t in sorted(
            summary.by_severity.items(), key=lambda kv: kv[0] or 0
        )
    ]
    lines += ["", *_columns(orgs), "", *_columns(severities)]
    if summary.by_metric:
        per_metric = [("METRIC", *heading, "STOP BEING BREACHED")] + [
            (name, t.tickets, t.moved, t.becomes_breached, t.stops_being_breached)
            for name, t in summary.by_metric.items()
        ]
        lines += ["", *_columns(per_metric)]
    moving = [item for item in items if item.moved or item.status_changes]
    if moving:
        rows: list[Sequence[object]] = [
            ("TICKET", "ORG", "SEV", "DUE NOW", "NOW", "DUE NEW", "NEW", "SHIFT")
        ]
        rows += [
            (
                item.ticket_id,
                item.organization_id or "",
                item.severity or "",
                _due(item.current) or "-",
                _state(item.current),
                _due(item.new) or "-",
                _state(item.new),
                _shift_text(item),
            )
            for item in moving[:limit]
        ]
        lines += ["", *_columns(rows)]
        if len(moving) > limit:
            lines.append(
                f"... {len(moving) - limit} more (--limit, or --format csv|json for all)"
            )
    changed = [
        (item, m) for item in items for m in item.metrics if m.moved or m.status_changes
    ]
    if changed:
        rows = [("TICKET", "METRIC", "DUE NOW", "NOW", "DUE NEW", "NEW", "SHIFT")]
        rows += [
            (
                item.ticket_id,
                m.name,
                _due(m.current) or "-",
                _state(m.current),
                _due(m.new) or "-",
                _state(m.new),
                _shift_text(m),
            )
            for item, m in changed[:limit]
        ]
        lines += ["", *_columns(rows)]
        if len(changed) > limit:
            lines.append(f"... {len(changed) - limit} more metric changes")
    return lines


__all__ = ["whatif_command"]  # attached to the `policy` group (commands/sla.py)
