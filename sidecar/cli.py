"""The `sidecar` command: wiring of the subcommands, nothing else."""

from __future__ import annotations

import click

from sidecar import __version__


@click.group()
@click.version_option(__version__, prog_name="sidecar")
def main() -> None:
    """SLA and on-call escalation sidecar for Zendesk."""


def _register() -> None:
    # Each command module owns one area; importing here keeps `sidecar --help` complete.
    from sidecar.commands import sla as sla_commands

    for command in sla_commands.COMMANDS:
        main.add_command(command)


_register()
