"""The `sidecar sla` and `sidecar policy` commands: due times and policy files.

Bad input exits 2 with a single ``Error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from sidecar.commands.context import BadInputGroup, cli_context
from sidecar.commands.orgs import find_org, parse_org_ref
from sidecar.commands.whatif import whatif_command
from sidecar.domain.models import Organization
from sidecar.domain.plan import effective_policy
from sidecar.entitlements.check import Judge
from sidecar.errors import ConfigError
from sidecar.sla import (
    Policy,
    Schedule,
    explain,
    first_response_due,
    format_utc,
    load_policies,
    read_policy_file,
    zendesk_schedule_refs,
)
from sidecar.tasks.handler import configured_policy_source, fields_from
from sidecar.tasks.schedules import (
    AccountSchedules,
    PolicySource,
    describe_origin,
    reconcile_open_tickets,
)
from sidecar.words import counted
from sidecar.zendesk.budget import BULK, lane
from sidecar.zendesk.schedules import fetch_business_hours


class _BadInput(click.ClickException):
    """Bad input: exit 2 with one line on stderr."""

    exit_code = 2


class _OneLineCommand(click.Command):
    """A command whose usage errors are one line (no usage block)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _BadInput(exc.format_message()) from None


def _created(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _BadInput(
            f"--created {text!r} is not an ISO 8601 time like 2026-11-27T15:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise _BadInput(f"--created {text!r} needs a time zone (Z or +HH:MM)")
    return moment


def _source(path: str | None, name: str | None) -> PolicySource:
    """The policy --policy names, else the one the service uses (SIDECAR_POLICY_FILE)."""
    context = cli_context()
    if path is None:
        if name is None:
            return context.policy_source  # the same source as the worker's
        path = context.config.policy_file
        if path is None:
            raise _BadInput(
                "--policy-name needs --policy FILE (or SIDECAR_POLICY_FILE)"
            )
    return PolicySource(policy_file=path, policy_name=name, schedules=context.schedules)


def _policy(path: str | None, name: str | None) -> Policy:
    return _source(path, name).policy()


def _org_policy(policy: Policy, ref: str) -> Policy:
    """The policy with ORG's enhanced SLA applied; ConfigError when it has no SLA."""
    context = cli_context()
    config = context.config
    org_id, external_id = parse_org_ref(ref)
    store = context.entitlements
    organization: Organization | None = None
    if config.zendesk_connected:
        organization = find_org(context.zendesk(), ref)
        entry = store.entry_for(organization)
    else:
        entry = store.file.lookup(org_id=org_id, external_id=external_id)
        if entry is None:
            raise ConfigError(
                f"--org {ref}: not in the entitlements file, and Zendesk is not "
                "connected to look it up"
            )
    judge = Judge(
        today=datetime.now(UTC).date(),
        plan_field=config.org_plan_field,
        enterprise_field=config.org_enterprise_field,
        eligible_plans=config.eligible_plans,
    )
    decided = judge(organization, entry)
    if not decided.entitled:
        raise ConfigError(f"--org {ref}: {decided.reason}: no SLA applies")
    return effective_policy(policy, decided)


_OPTIONS: Sequence[Any] = (
    click.option("--severity", required=True, help="1-5, sev_3, 'SEV 3', ..."),
    click.option(
        "--created", required=True, help="ticket creation, e.g. 2026-11-27T15:00:00Z"
    ),
    click.option(
        "--policy",
        "policy_file",
        metavar="FILE",
        help="policy TOML file (default: SIDECAR_POLICY_FILE, else the built-in one)",
    ),
    click.option("--policy-name", metavar="NAME", help="policy in FILE to use"),
    click.option(
        "--org",
        metavar="ID|NAME",
        help="apply this organization's enhanced SLA (id, ext:<external id> or name)",
    ),
)


def _with_options(func: Any) -> Any:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


@click.group(cls=BadInputGroup)
def sla() -> None:
    """Compute first-response due times."""


def _chosen_policy(
    policy_file: str | None, policy_name: str | None, org: str | None
) -> Policy:
    policy = _policy(policy_file, policy_name)
    return _org_policy(policy, org) if org else policy


@sla.command(cls=_OneLineCommand)
@_with_options
def due(
    severity: str,
    created: str,
    policy_file: str | None,
    policy_name: str | None,
    org: str | None,
) -> None:
    """Print the first-response due time (ISO 8601 UTC)."""
    policy = _chosen_policy(policy_file, policy_name, org)
    click.echo(format_utc(first_response_due(_created(created), severity, policy)))


@sla.command("explain", cls=_OneLineCommand)
@_with_options
def explain_command(
    severity: str,
    created: str,
    policy_file: str | None,
    policy_name: str | None,
    org: str | None,
) -> None:
    """Print the covered segments the clock runs in, and the due time."""
    policy = _chosen_policy(policy_file, policy_name, org)
    click.echo(str(explain(_created(created), severity, policy)))


@click.group(cls=BadInputGroup)
def policy() -> None:
    """Inspect and validate SLA policy files."""


@policy.command(cls=_OneLineCommand)
@click.argument("file")
def check(file: str) -> None:
    """Validate a policy file and summarise it (every problem at once).

    The Zendesk schedules it names are looked up in the account (read now
    when connected, else the service's last copy): an unknown name is an
    error listing the schedules the account has.
    """
    refs = zendesk_schedule_refs(read_policy_file(file))
    context = cli_context()
    live = context.account_schedules(prefer_stored=False)
    policies = load_policies(file, zendesk=lambda ref: live.book().schedule(ref))
    noun = "policy" if len(policies) == 1 else "policies"
    click.echo(f"ok: {file}: {len(policies)} {noun} ({', '.join(policies)})")
    if refs:
        book = live.book()
        how = (
            "the last good copy in the queue store (Zendesk not read: "
            f"{live.last_error})"
            if book.cached
            else "read from Zendesk now"
        )
        click.echo(
            f"Zendesk schedules: {len(refs)} named, all found ({how}, "
            f"fetched at {format_utc(book.fetched_at)})"
        )
        for ref in refs:
            hours = book.find(ref)
            click.echo(
                f"  {hours.name!r} (id {hours.id}): {book.schedule(ref).describe()}"
            )
    for found in policies.values():
        click.echo(found.describe())


@policy.command(cls=_OneLineCommand)
@click.option("--policy", "policy_file", metavar="FILE", help="policy TOML file")
@click.option("--policy-name", metavar="NAME", help="policy in FILE to show")
@click.option("--markdown", is_flag=True, help="print a markdown table")
def show(policy_file: str | None, policy_name: str | None, markdown: bool) -> None:
    """Print a policy's targets and its schedules' windows, each with where it came from.

    Without --policy: the one the service uses, with the Zendesk schedules the
    service computes with (its last good copy; read from Zendesk without one).
    """
    source = _source(policy_file, policy_name)
    chosen = source.policy()
    click.echo(chosen.describe(markdown=markdown))
    click.echo("")
    book = source.book()
    if markdown:
        click.echo("| Schedule | Windows | From |\n|---|---|---|")
    else:
        click.echo("schedules:")
    for schedule in _schedules_of(chosen):
        origin = describe_origin(source, schedule)
        hours = book.origin(schedule) if book is not None else None
        holidays = [str(h) for h in hours.holidays] if hours is not None else []
        if markdown:
            windows = "; ".join([schedule.describe(), *holidays])
            click.echo(f"| {schedule.name} | {windows} | {origin} |")
            continue
        click.echo(f"  {schedule.name}: {schedule.describe()}")
        click.echo(f"    from: {origin}")
        for holiday in holidays:
            click.echo(f"    holiday: {holiday}")


def _schedules_of(chosen: Policy) -> list[Schedule]:
    """Every schedule a policy's targets run on, once each, in table order."""
    found: list[Schedule] = []
    targets = [*chosen.targets.values()]
    for named in chosen.metrics.values():
        targets.extend(named.values())
    for target in targets:
        if all(target.schedule is not s for s in found):
            found.append(target.schedule)
    return found


@policy.command("holidays", cls=_OneLineCommand)
@click.option("--year", type=click.IntRange(1971, 8999), required=True)
@click.option("--policy", "policy_file", metavar="FILE", help="policy TOML file")
@click.option("--policy-name", metavar="NAME", help="policy in FILE to use")
def holidays_command(
    year: int, policy_file: str | None, policy_name: str | None
) -> None:
    """List the days each schedule of a policy skips in YEAR, and why."""
    source = _source(policy_file, policy_name)
    chosen = source.policy()
    book = source.book()
    for schedule in _schedules_of(chosen):
        days = schedule.holidays_of(year)
        hours = book.origin(schedule) if book is not None else None
        if hours is not None:  # Zendesk's holidays carry their names
            names = {d: h.name for h in hours.holidays for d in h.days()}
            days = {d: f"{names.get(d, 'listed')} (Zendesk)" for d in days}
        click.echo(
            f"schedule {schedule.name} ({schedule.describe()}): "
            f"{counted(len(days), 'day')}"
        )
        for day, reason in days.items():
            click.echo(f"  {day.isoformat()} {day.strftime('%a')}  {reason}")


@policy.command("refresh", cls=_OneLineCommand)
def refresh_command() -> None:
    """Read the Zendesk schedules the policy names now; apply a change at once.

    What the worker does every SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS,
    for an admin who just edited a schedule in Admin Center: a change is
    stored in the service's queue (every process computes with it from its
    next ticket on) and the open tickets are enqueued for a reconcile.
    """
    context = cli_context()
    config = context.config
    context.require_zendesk()
    queue = context.queue()
    schedules = AccountSchedules(
        fetch=lambda: fetch_business_hours(context.zendesk()),
        store=lambda: queue,
        save=True,
        prefer_stored=True,  # compare with what the service computes with
        account=config.zendesk_subdomain or "",
    )
    source = configured_policy_source(config, schedules=schedules)
    if not source.uses_zendesk:
        click.echo("the policy names no Zendesk schedule: nothing to refresh")
        return
    before = source.book()
    source.policy()
    changes = source.refresh()
    if not changes:
        assert before is not None
        click.echo(
            "no change: the service's copy (fetched at "
            f"{format_utc(before.fetched_at)}) matches Zendesk"
        )
        return
    for change in changes:
        click.echo(f"changed: {change}")
    with lane(BULK):
        count = reconcile_open_tickets(
            context.bulk_zendesk(queue), queue, fields=fields_from(config)
        )
    click.echo(f"{counted(count, 'open ticket')} enqueued for a reconcile")


policy.add_command(whatif_command)  # `policy whatif`: sidecar/commands/whatif.py

COMMANDS: list[click.Command] = [sla, policy]
