"""`sidecar orgs`: which organizations the sidecar treats as entitled, and why.

The commands are thin: the rules live in ``sidecar.entitlements`` (decide,
check), the world in the CLI context, the error translation in SidecarGroup.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import click

from sidecar.commands.context import SidecarGroup, cli_context
from sidecar.domain.entitlement import EntitlementsFile
from sidecar.domain.models import Organization
from sidecar.entitlements import (
    PLANS,
    Entitlement,
    EntitlementsError,
    EntitlementsStore,
    OrgEntitlement,
    entitlements_source,
)
from sidecar.entitlements.check import (
    CheckReport,
    Judge,
    check_orgs,
    check_overrides,
    describe_overrides,
    enhanced_lines,
    file_overrides,
    input_sources,
    plan_field_change,
)
from sidecar.entitlements.loader import load_entitlements
from sidecar.errors import ConfigError, NotFound, UpstreamError
from sidecar.words import counted
from sidecar.zendesk.client import ZendeskClient


@click.group(cls=SidecarGroup)
def orgs() -> None:
    """Show, check and set organization entitlements (Enterprise Support)."""


_ON_OPTION = click.option(
    "--on",
    "on_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Decide as of this date (YYYY-MM-DD) instead of today (UTC).",
)


def _judge(on_date: datetime | None) -> Judge:
    config = cli_context().config
    today: date = on_date.date() if on_date else datetime.now(UTC).date()
    return Judge(
        today=today,
        plan_field=config.org_plan_field,
        enterprise_field=config.org_enterprise_field,
        eligible_plans=config.eligible_plans,
    )


def _store() -> EntitlementsStore:
    try:
        return cli_context().entitlements
    except EntitlementsError as exc:
        raise ConfigError(
            f"{exc}\nrun `sidecar orgs check` after fixing the file"
        ) from None


# --- show -------------------------------------------------------------------


@orgs.command("show")
@click.argument("org")
@_ON_OPTION
def show(org: str, on_date: datetime | None) -> None:
    """Show whether ORG is entitled, why, and from where.

    ORG: an organization id, ext:<external id>, or its name (then, failing
    that, an external id), the same ways `sla due --org` and `report --org`
    take.
    """
    context = cli_context()
    store = _store()
    judge = _judge(on_date)
    org_id, external_id = parse_org_ref(org)
    entry = store.file.lookup(org_id=org_id, external_id=external_id)
    organization: Organization | None = None
    notes: list[str] = []
    if not context.config.zendesk_connected:
        notes.append("Zendesk was not read: no Zendesk credentials configured")
    else:
        organization = find_org(context.zendesk(), org)
        # The org's entry may be keyed by its other identifier.
        entry = store.entry_for(organization)
    if organization is None and entry is None:
        raise click.ClickException(
            f"{org}: not in the entitlements file and not read from Zendesk"
        )
    decided = judge(organization, entry)
    for line in _describe(organization, entry, decided, judge, org):
        click.echo(line)
    for note in notes:
        click.echo(f"note: {note}")


def find_org(client: ZendeskClient, ref: str) -> Organization:
    """Read the organization ORG names: an id, ext:<external id>, or a name.

    A plain word is a name first (exact, case-insensitive), then an external id:
    every command that takes an organization accepts the same forms.
    """
    org_id, external_id = parse_org_ref(ref)
    if org_id is None and not ref.strip().startswith("ext:"):
        word = ref.strip()
        found = client.find_organization_by_name(word) or client.find_organization(word)
        if found is None:
            raise click.ClickException(
                f"no organization named {ref.strip()!r} (nor with that external id) "
                "in Zendesk; give its id, ext:<external id> or its exact name"
            )
        return found
    return read_org(client, org_id=org_id, external_id=external_id)


def read_org(
    client: ZendeskClient, *, org_id: int | None, external_id: str | None
) -> Organization:
    """Read the organization an id or external id names, or fail with a CLI error."""
    if org_id is None:
        assert external_id is not None
        found = client.find_organization(external_id)
        if found is None:
            raise click.ClickException(
                f"no organization with external id {external_id!r} in Zendesk"
            )
        return found
    try:
        return client.get_organization(org_id)
    except NotFound:
        raise click.ClickException(
            f"organization {org_id} does not exist in Zendesk"
        ) from None


def _describe(
    org: Organization | None,
    entry: OrgEntitlement | None,
    decided: Entitlement,
    judge: Judge,
    ref: str,
) -> list[str]:
    if org is not None:
        ext = f" (external id {org.external_id})" if org.external_id else ""
        title = f"Organization {org.id} {org.name!r}{ext}"
    else:
        title = f"Organization {ref} (not read from Zendesk)"
    lines = [
        title,
        f"Entitled:  {'yes' if decided.entitled else 'no'}",
        f"Why:       {decided.reason}",
        f"Source:    {decided.source}",
    ]
    if decided.problem:
        lines.append(f"Problem:   {decided.problem} (fix it in Zendesk)")
    lines.append("Inputs:")
    for source in input_sources(decided, entry, judge):
        zendesk = (
            repr(org.fields.get(source.zendesk_key))
            if org is not None
            else "(not read)"
        )
        in_file = "(not set)" if source.file_value is None else repr(source.file_value)
        lines.append(
            f"  {source.name}: Zendesk field {source.zendesk_key!r} = {zendesk}; "
            f"file = {in_file} -> {source.winner} wins"
        )
    if entry is None:
        lines.append("  entitlements file: no entry for this organization")
        return lines
    lines.append(f"  entitlements file entry: [orgs.{entry.key!r}]")
    if entry.starts or entry.ends:
        starts = entry.starts.isoformat() if entry.starts else "(open)"
        ends = entry.ends.isoformat() if entry.ends else "(open)"
        lines.append(f"  add-on dates: {starts} to {ends} (inclusive)")
    if entry.sla_overrides or entry.metric_overrides:
        shown = describe_overrides(entry.sla_overrides, entry.metric_overrides)
        lines.append(f"  enhanced SLA targets: {shown}")
    route = "organization override" if entry.pagerduty_routing_key else "default"
    lines.append(f"  PagerDuty routing key: {route}")
    if entry.slack_webhook_url:
        lines.append("  Slack channel webhook: set")
    if entry.csm_user_id:
        lines.append(f"  Customer Success Manager: Zendesk user {entry.csm_user_id}")
    if not decided.entitled:
        lines.append("  (the extras above apply only while the org is entitled)")
    return lines


# --- check ------------------------------------------------------------------


def _file_offline(path: str | None, *, embedded: bool) -> EntitlementsFile:
    """The file checked for CI: every rule, but env:VARIABLE names only, no secrets read."""
    if path is None:
        return EntitlementsFile()
    return load_entitlements(
        path,
        embedded=embedded,
        eligible_plans=cli_context().config.eligible_plans,
        resolve_secrets=False,
    )


@orgs.command("check")
@click.option(
    "--offline",
    is_flag=True,
    help="Validate the file only (for CI): no Zendesk, no secrets resolved.",
)
@_ON_OPTION
def check(offline: bool, on_date: datetime | None) -> None:
    """Validate the entitlements file and every organization in Zendesk.

    Exits 1 when anything is wrong.
    """
    context = cli_context()
    config = context.config
    path, embedded = entitlements_source(config)
    if path is None:
        click.echo("no entitlements file configured (SIDECAR_ENTITLEMENTS_FILE)")
    try:
        file = (
            _file_offline(path, embedded=embedded)
            if offline
            else context.entitlements.file
        )
    except EntitlementsError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}")
        click.echo(
            f"{path}: rejected as a whole ({counted(len(exc.problems), 'problem')})"
        )
        raise SystemExit(1) from None
    report = CheckReport()
    policy = context.policy
    report.warnings.extend(check_overrides(file, policy))
    for line in enhanced_lines(file):
        click.echo(line)
    if offline:
        report.warnings.append("--offline: organizations were not checked in Zendesk")
        # Information, not a failure: CI has no production secrets. Presence
        # only; the values are never read.
        for key, field, variable in file.references:
            if not os.environ.get(variable):
                click.echo(
                    f"info: org {key}: {field}: env:{variable} is not set here "
                    "(the service needs it where it runs; --offline checks the "
                    "name only)"
                )
    elif not config.zendesk_connected:
        report.errors.append(
            "no Zendesk credentials: cannot check organizations (use --offline to "
            "validate the file only)"
        )
    else:
        try:
            listed = context.zendesk().list_organizations()
        except UpstreamError as exc:
            report.errors.append(f"Zendesk: {exc}")
        else:
            check_orgs(file, listed, report, judge=_judge(on_date))
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for error in report.errors:
        click.echo(f"error: {error}")
    where = f"{path}{' [orgs]' if embedded else ''}" if path else "no file"
    counts = f"{counted(len(file.orgs), 'organization')} in the file"
    if report.in_zendesk is not None:
        counts = (
            f"{counted(report.in_zendesk, 'organization')} in Zendesk, "
            f"{report.entitled} entitled, {counts}"
        )
    click.echo(
        f"{where}: {counts}, {counted(len(report.errors), 'error')}, "
        f"{counted(len(report.warnings), 'warning')}"
    )
    if report.errors:
        raise SystemExit(1)


# --- set --------------------------------------------------------------------


@orgs.command("set")
@click.argument("org")
@click.option(
    "--plan", type=click.Choice(PLANS), help="Support plan to set in Zendesk."
)
@click.option(
    "--enterprise-support",
    type=click.Choice(["on", "off"]),
    help="Tick or untick the Enterprise Support checkbox in Zendesk.",
)
def set_(org: str, plan: str | None, enterprise_support: str | None) -> None:
    """Write ORG's plan and Enterprise Support fields in Zendesk (ORG: an org id)."""
    if plan is None and enterprise_support is None:
        raise click.UsageError("give --plan and/or --enterprise-support")
    org_id, _ = parse_org_ref(org)
    if org_id is None:
        raise click.UsageError("ORG must be the organization id (digits)")
    context = cli_context()
    config = context.config
    store = _store()
    client = context.zendesk()
    current = read_org(client, org_id=org_id, external_id=None)
    fields = plan_field_change(
        current.fields,
        plan=plan,
        enterprise_support=None
        if enterprise_support is None
        else enterprise_support == "on",
        plan_field=config.org_plan_field,
        enterprise_field=config.org_enterprise_field,
        eligible_plans=config.eligible_plans,
    )
    updated = client.update_organization_fields(org_id, fields)
    shown = ", ".join(f"{k} = {v!r}" for k, v in fields.items())
    click.echo(f"Organization {org_id} {current.name!r}: set {shown}")
    for name, value in file_overrides(store.entry_for(updated)):
        click.echo(
            f"note: the entitlements file sets {name} = {value!r} for this "
            "organization, and the file wins over Zendesk"
        )


# --- helpers ----------------------------------------------------------------


def parse_org_ref(ref: str) -> tuple[int | None, str | None]:
    """Split ORG into an organization id or an external id (``ext:`` optional)."""
    text = ref.strip()
    if text.isascii() and text.isdigit():
        return int(text), None
    external = text.removeprefix("ext:").strip()
    if not external:
        raise click.UsageError(
            "ORG must be an organization id, ext:<external id> or a name"
        )
    return None, external


COMMANDS: list[click.Command] = [orgs]
