"""The `sidecar` command: wiring of the subcommands, nothing else."""

from __future__ import annotations

import click

from sidecar import __version__
from sidecar.commands import (
    bulk,
    jobs,
    orgs,
    pagerduty,
    report,
    run,
    sla,
    tickets,
    zendesk,
)
from sidecar.commands.context import SidecarGroup
from sidecar.doctor import command as doctor


@click.group(cls=SidecarGroup)
@click.version_option(__version__, prog_name="sidecar")
def main() -> None:
    """SLA and on-call escalation sidecar for Zendesk."""


# Each command module owns one area and lists its commands in COMMANDS.
for _module in (
    sla,
    run,
    tickets,
    jobs,
    orgs,
    report,
    bulk,
    zendesk,
    pagerduty,
    doctor,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)
