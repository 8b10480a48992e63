"""`sidecar report`: first-response SLA attainment of a period, as HTML, CSV or JSON."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from sidecar.commands.context import cli_context
from sidecar.domain.models import Organization
from sidecar.errors import ConfigError

FORMATS = ("html", "csv", "json")
DEFAULT_PACE = 7.5


def _day(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def resolve_organization(wanted: str, organizations: list[Organization]) -> int:
    """Return the id of ``wanted``: an id, ``ext:<external id>``, or a name."""
    text = wanted.strip()
    if text.isdigit():
        return int(text)
    if text.lower().startswith("ext:"):
        ext = text[4:].casefold()
        found = [o for o in organizations if (o.external_id or "").casefold() == ext]
    else:
        found = [o for o in organizations if o.name.casefold() == text.casefold()]
    if len(found) == 1:
        return found[0].id
    if not found:
        raise ConfigError(f"--org {wanted}: no such organization")
    ids = ", ".join(str(o.id) for o in found)
    raise ConfigError(
        f"--org {wanted}: several organizations match ({ids}); give the id"
    )


@click.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="First day of the period (UTC); tickets belong to it by creation time.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day of the period, included (default: up to now).",
)
@click.option(
    "--org", "org", help="Only this organization: an id, a name or ext:<external id>."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from --out's extension, else html).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File to write (default: standard output).",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=DEFAULT_PACE,
    show_default=True,
    help="Seconds between export requests: 8 of Zendesk's 10 a minute leave room "
    "for the worker's sweep.",
)
def report(
    since: datetime,
    until: datetime | None,
    org: str | None,
    fmt: str | None,
    out: Path | None,
    pace: float,
) -> None:
    """SLA attainment of a period: by severity, organization and month.

    The first response always; every other metric the policy sets (next reply,
    periodic update, resolution) counted per cycle.
    """
    from sidecar.report.collect import collect
    from sidecar.report.enhanced import EnhancedPolicies
    from sidecar.report.render import ReportView, render_csv, render_html, render_json
    from sidecar.report.source import (
        ExportReader,
        HistoryReader,
        Progress,
        ReportFields,
        period_bounds,
    )

    context = cli_context()
    config = context.config
    if config.severity_field_id is None:
        raise ConfigError(
            'SIDECAR_SEVERITY_FIELD_ID is not set: the id of the "Issue Severity" '
            "ticket field is needed to report on SLAs"
        )
    fmt = fmt or (out.suffix.lstrip(".").lower() if out else "html")
    if fmt not in FORMATS:
        raise click.BadParameter(
            f"cannot tell the format from {out}; give --format", param_hint="--out"
        )
    now = datetime.now(UTC)
    start, end = period_bounds(_day(since), _day(until), now=now)  # type: ignore[arg-type]
    if start >= end:
        raise click.BadParameter(
            "the period is empty or in the future", param_hint="--since"
        )

    client = context.zendesk()
    organizations = {o.id: o for o in client.list_organizations()}
    org_id = resolve_organization(org, list(organizations.values())) if org else None
    fields = ReportFields(
        severity=config.severity_field_id,
        due_at=config.due_at_field_id,
        first_response_at=config.first_response_at_field_id,
        breach_minutes=config.breach_minutes_field_id,
    )
    reader = ExportReader(client, min_interval=pace, progress=Progress())
    data = collect(
        reader,
        fields=fields,
        policy=context.policy,
        start=start,
        end=end,
        now=now,
        organization_id=org_id,
        policy_for=EnhancedPolicies(
            context.policy, context.entitlements, organizations
        ),
        # Per-ticket reads (metrics beyond the first response only) spend
        # through the deployment's API budget at bulk priority, like backfill's.
        histories=HistoryReader(
            connect=lambda: context.bulk_zendesk(context.service_queue())
        ),
    )
    view = ReportView(
        data=data,
        account=client.account,
        ticket_url=client.ticket_url,
        organization_names={o.id: o.name for o in organizations.values()},
    )
    render = {"html": render_html, "csv": render_csv, "json": render_json}[fmt]
    text = render(view)
    if out is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(out, text)
    overall = data.attainment.overall
    met = (
        f"{overall.attainment:.1f} % met"
        if overall.attainment is not None
        else "none decided"
    )
    click.echo(
        f"{out or 'report'}: {overall.total:,} tickets under an SLA, {met}, "
        f"{overall.breached:,} breached, {overall.unknown:,} unknown",
        err=True,
    )
    for metric in data.metrics:
        if metric.name == "first_response":
            continue
        row = metric.overall
        share = (
            f"{row.attainment:.1f} % met"
            if row.attainment is not None
            else "none decided"
        )
        click.echo(
            f"  {metric.name}: {row.total:,} cycles, {share}, {row.breached:,} "
            f"breached, {row.open:,} open, {row.unknown:,} unknown",
            err=True,
        )


def _write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing (a half-written report is worse than none)."""
    directory = path.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        # mkstemp makes the file private; a report gets the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


COMMANDS = [report]
