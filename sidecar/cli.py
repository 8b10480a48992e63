"""The `sidecar` command: wiring of the subcommands, nothing else."""

from __future__ import annotations

import click

from sidecar import __version__
from sidecar.commands import jobs, orgs, run, sla, tickets


@click.group()
@click.version_option(__version__, prog_name="sidecar")
def main() -> None:
    """SLA and on-call escalation sidecar for Zendesk."""


# Each command module owns one area and lists its commands in COMMANDS.
for _module in (sla, run, tickets, jobs, orgs):
    for _command in _module.COMMANDS:
        main.add_command(_command)
