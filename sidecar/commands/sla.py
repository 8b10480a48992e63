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
    explain,
    first_response_due,
    format_utc,
    load_policies,
    load_policy,
)
from sidecar.words import counted


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


def _policy(path: str | None, name: str | None) -> Policy:
    """The policy --policy names, else the one the service uses (SIDECAR_POLICY_FILE)."""
    if path is None:
        context = cli_context()
        if name is None:
            return context.policy  # the same source as the worker's
        path = context.config.policy_file
        if path is None:
            raise _BadInput(
                "--policy-name needs --policy FILE (or SIDECAR_POLICY_FILE)"
            )
    return load_policy(path, name)


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
    """Validate a policy file and summarise it (every problem at once)."""
    policies = load_policies(file)
    noun = "policy" if len(policies) == 1 else "policies"
    click.echo(f"ok: {file}: {len(policies)} {noun} ({', '.join(policies)})")
    for found in policies.values():
        click.echo(found.describe())


@policy.command(cls=_OneLineCommand)
@click.option("--policy", "policy_file", metavar="FILE", help="policy TOML file")
@click.option("--policy-name", metavar="NAME", help="policy in FILE to show")
@click.option("--markdown", is_flag=True, help="print a markdown table")
def show(policy_file: str | None, policy_name: str | None, markdown: bool) -> None:
    """Print a policy's targets (without --policy: the one the service uses)."""
    click.echo(_policy(policy_file, policy_name).describe(markdown=markdown))


@policy.command("holidays", cls=_OneLineCommand)
@click.option("--year", type=click.IntRange(1971, 8999), required=True)
@click.option("--policy", "policy_file", metavar="FILE", help="policy TOML file")
@click.option("--policy-name", metavar="NAME", help="policy in FILE to use")
def holidays_command(
    year: int, policy_file: str | None, policy_name: str | None
) -> None:
    """List the days each schedule of a policy skips in YEAR, and why."""
    chosen = _policy(policy_file, policy_name)
    seen: set[str] = set()
    for target in chosen.targets.values():
        schedule = target.schedule
        if schedule.name in seen:
            continue
        seen.add(schedule.name)
        days = schedule.holidays_of(year)
        click.echo(
            f"schedule {schedule.name} ({schedule.describe()}): "
            f"{counted(len(days), 'day')}"
        )
        for day, reason in days.items():
            click.echo(f"  {day.isoformat()} {day.strftime('%a')}  {reason}")


policy.add_command(whatif_command)  # `policy whatif`: sidecar/commands/whatif.py

COMMANDS: list[click.Command] = [sla, policy]
