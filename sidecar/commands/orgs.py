"""`sidecar orgs`: which organizations the sidecar treats as entitled, and why."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeVar

import click

from sidecar.config import Config
from sidecar.entitlements import (
    ENTERPRISE_SUPPORT_PLANS,
    PLANS,
    Entitlement,
    EntitlementsError,
    EntitlementsFile,
    EntitlementsStore,
    OrgEntitlement,
    decide,
    entitlements_source,
)
from sidecar.errors import ConfigError, NotFound, UpstreamError
from sidecar.sla import Policy
from sidecar.sla.schedule import format_duration
from sidecar.tasks.handler import load_configured_policy
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.models import Organization

T = TypeVar("T")


@click.group()
def orgs() -> None:
    """Show, check and set organization entitlements (Enterprise Support)."""


def _today(value: date | None) -> date:
    return value if value is not None else datetime.now(UTC).date()


_ON_OPTION = click.option(
    "--on",
    "on_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Decide as of this date (YYYY-MM-DD) instead of today (UTC).",
)


# --- show -------------------------------------------------------------------


@orgs.command("show")
@click.argument("org")
@_ON_OPTION
def show(org: str, on_date: datetime | None) -> None:
    """Show whether ORG (id or ext:<external id>) is entitled, why, and from where."""
    config = _config()
    store = _store(config)
    org_id, external_id = _parse_org_ref(org)
    entry = store.file.lookup(org_id=org_id, external_id=external_id)
    organization: Organization | None = None
    notes: list[str] = []
    if not config.zendesk_connected:
        notes.append("Zendesk was not read: no Zendesk credentials configured")
    else:
        with ZendeskClient.from_config(config) as client:
            organization = _read_org(client, org_id=org_id, external_id=external_id)
        # The org's entry may be keyed by its other identifier.
        entry = store.entry_for(organization)
    if organization is None and entry is None:
        raise click.ClickException(
            f"{org}: not in the entitlements file and not read from Zendesk"
        )
    decided = decide(
        organization,
        entry,
        today=_today(on_date.date() if on_date else None),
        plan_field=config.org_plan_field,
        enterprise_field=config.org_enterprise_field,
    )
    for line in _describe(organization, entry, decided, config, org):
        click.echo(line)
    for note in notes:
        click.echo(f"note: {note}")


def _read_org(
    client: ZendeskClient, *, org_id: int | None, external_id: str | None
) -> Organization:
    """Read the organization ORG names from Zendesk, or fail with a CLI error."""
    if org_id is None:
        assert external_id is not None
        found = _call(lambda: client.find_organization(external_id))
        if found is None:
            raise click.ClickException(
                f"no organization with external id {external_id!r} in Zendesk"
            )
        return found
    try:
        return _call(lambda: client.get_organization(org_id))
    except NotFound:
        raise click.ClickException(
            f"organization {org_id} does not exist in Zendesk"
        ) from None


def _describe(
    org: Organization | None,
    entry: OrgEntitlement | None,
    decided: Entitlement,
    config: Config,
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
    for name, key, file_value in (
        ("plan", config.org_plan_field, entry.plan if entry else None),
        (
            "enterprise_support",
            config.org_enterprise_field,
            entry.enterprise_support if entry else None,
        ),
    ):
        zendesk = repr(org.fields.get(key)) if org is not None else "(not read)"
        in_file = "(not set)" if file_value is None else repr(file_value)
        wins = "file" if file_value is not None else "zendesk"
        lines.append(
            f"  {name}: Zendesk field {key!r} = {zendesk}; file = {in_file}"
            f" -> {wins} wins"
        )
    if entry is None:
        lines.append("  entitlements file: no entry for this organization")
        return lines
    lines.append(f"  entitlements file entry: [orgs.{entry.key!r}]")
    if entry.starts or entry.ends:
        starts = entry.starts.isoformat() if entry.starts else "(open)"
        ends = entry.ends.isoformat() if entry.ends else "(open)"
        lines.append(f"  add-on dates: {starts} to {ends} (inclusive)")
    if entry.sla_overrides:
        shown = ", ".join(
            f"SEV {sev} {format_duration(d)}"
            for sev, d in sorted(entry.sla_overrides.items())
        )
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


@dataclass
class _Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    in_zendesk: int | None = None  # None: Zendesk was not read
    entitled: int = 0


@orgs.command("check")
@click.option(
    "--offline", is_flag=True, help="Validate the file only; do not read Zendesk."
)
@_ON_OPTION
def check(offline: bool, on_date: datetime | None) -> None:
    """Validate the entitlements file and every organization in Zendesk.

    Exits 1 when anything is wrong.
    """
    config = _config()
    path, embedded = entitlements_source(config)
    if path is None:
        click.echo("no entitlements file configured (SIDECAR_ENTITLEMENTS_FILE)")
    try:
        store = EntitlementsStore.from_config(config)
    except EntitlementsError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}")
        click.echo(f"{path}: rejected as a whole ({len(exc.problems)} problems)")
        raise SystemExit(1) from None
    file = store.file
    report = _Report()
    _check_overrides(file, _policy(config), report)
    if offline:
        report.warnings.append("--offline: organizations were not checked in Zendesk")
    elif not config.zendesk_connected:
        report.errors.append(
            "no Zendesk credentials: cannot check organizations (use --offline to "
            "validate the file only)"
        )
    else:
        with ZendeskClient.from_config(config) as client:
            try:
                listed = client.list_organizations()
            except UpstreamError as exc:
                report.errors.append(f"Zendesk: {exc}")
            else:
                _check_orgs(
                    file,
                    listed,
                    report,
                    today=_today(on_date.date() if on_date else None),
                    plan_field=config.org_plan_field,
                    enterprise_field=config.org_enterprise_field,
                )
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for error in report.errors:
        click.echo(f"error: {error}")
    where = f"{path}{' [orgs]' if embedded else ''}" if path else "no file"
    counts = f"{len(file.orgs)} organizations in the file"
    if report.in_zendesk is not None:
        counts = (
            f"{report.in_zendesk} organizations in Zendesk, {report.entitled} "
            f"entitled, {counts}"
        )
    click.echo(
        f"{where}: {counts}, {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings"
    )
    if report.errors:
        raise SystemExit(1)


def _policy(config: Config) -> Policy:
    try:
        return load_configured_policy(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _check_overrides(file: EntitlementsFile, policy: Policy, report: _Report) -> None:
    # An enhanced SLA can shorten a target the policy has, not create one.
    for entry in file.orgs:
        for severity in sorted(set(entry.sla_overrides) - set(policy.targets)):
            report.warnings.append(
                f"org {entry.key}: sla: sev{severity} has no target in policy "
                f"{policy.name!r}, so the override is ignored"
            )


def _check_orgs(
    file: EntitlementsFile,
    listed: list[Organization],
    report: _Report,
    *,
    today: date,
    plan_field: str,
    enterprise_field: str,
) -> None:
    """Check each file entry against its Zendesk org, then every org without one."""

    def judge(org: Organization, entry: OrgEntitlement | None) -> Entitlement:
        return decide(
            org,
            entry,
            today=today,
            plan_field=plan_field,
            enterprise_field=enterprise_field,
        )

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
        enterprise_on = (
            entry.enterprise_support
            if entry.enterprise_support is not None
            else org.fields.get(enterprise_field) is True
        )
        if decided.problem:
            report.errors.append(f"org {entry.key} ({org.name}): {decided.problem}")
        elif enterprise_on and decided.plan not in ENTERPRISE_SUPPORT_PLANS:
            # File and Zendesk together make an impossible combination.
            report.errors.append(f"org {entry.key} ({org.name}): {decided.reason}")
        elif not decided.entitled and enterprise_on:
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
    org_id, _ = _parse_org_ref(org)
    if org_id is None:
        raise click.UsageError("ORG must be the organization id (digits)")
    config = _config()
    store = _store(config)
    if not config.zendesk_connected:
        raise click.ClickException("no Zendesk credentials configured")
    with ZendeskClient.from_config(config) as client:
        try:
            current = _call(lambda: client.get_organization(org_id))
        except NotFound:
            raise click.ClickException(
                f"organization {org_id} does not exist in Zendesk"
            ) from None
        new_plan = (
            plan if plan is not None else current.fields.get(config.org_plan_field)
        )
        enterprise = (
            enterprise_support == "on"
            if enterprise_support is not None
            else current.fields.get(config.org_enterprise_field) is True
        )
        if enterprise and new_plan not in ENTERPRISE_SUPPORT_PLANS:
            raise click.ClickException(
                f"refusing: Enterprise Support is an add-on for "
                f"{' and '.join(ENTERPRISE_SUPPORT_PLANS)} plans only, and the plan "
                f"would be {new_plan!r}"
            )
        fields: dict[str, object] = {}
        if plan is not None:
            fields[config.org_plan_field] = plan
        if enterprise_support is not None:
            fields[config.org_enterprise_field] = enterprise
        updated = _call(lambda: client.update_organization_fields(org_id, fields))
    shown = ", ".join(f"{k} = {v!r}" for k, v in fields.items())
    click.echo(f"Organization {org_id} {current.name!r}: set {shown}")
    entry = store.entry_for(updated if isinstance(updated, Organization) else current)
    if entry is not None:
        for name, value in (
            ("plan", entry.plan),
            ("enterprise_support", entry.enterprise_support),
        ):
            if value is not None:
                click.echo(
                    f"note: the entitlements file sets {name} = {value!r} for this "
                    "organization, and the file wins over Zendesk"
                )


# --- helpers ----------------------------------------------------------------


def _config() -> Config:
    try:
        return Config.from_env(os.environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store(config: Config) -> EntitlementsStore:
    try:
        return EntitlementsStore.from_config(config)
    except EntitlementsError as exc:
        raise click.ClickException(
            f"{exc}\nrun `sidecar orgs check` after fixing the file"
        ) from None


def _parse_org_ref(ref: str) -> tuple[int | None, str | None]:
    """Split ORG into an organization id or an external id (``ext:`` optional)."""
    text = ref.strip()
    if text.isascii() and text.isdigit():
        return int(text), None
    external = text.removeprefix("ext:").strip()
    if not external:
        raise click.UsageError("ORG must be an organization id or ext:<external id>")
    return None, external


def _call(fn: Callable[[], T]) -> T:
    """Run one Zendesk call; upstream failures become a one-line CLI error."""
    try:
        return fn()
    except NotFound:
        raise
    except UpstreamError as exc:
        raise click.ClickException(f"Zendesk: {exc}") from None


COMMANDS: list[click.Command] = [orgs]
