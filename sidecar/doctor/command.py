"""`sidecar doctor`: the installation checked from where the service runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from sidecar.commands.context import cli_context
from sidecar.doctor import gather, render


@click.command()
@click.option(
    "--url",
    help="The sidecar's public webhook URL (as given to `zendesk setup`): the "
    "webhooks must point at it.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object for monitoring.",
)
def doctor(url: str | None, fmt: str) -> None:
    """Check configuration, queue, Zendesk, PagerDuty and Slack; write nothing.

    Each line is ok, warn or fail, and a warn or fail says what to do next.
    Exit status: 0 all ok, 1 a warning, 2 a failure.
    """
    report = gather.run(cli_context(), url=url)
    if fmt == "json":
        click.echo(render.as_json(report))
    else:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(
            render.as_text(report, header=f"sidecar doctor: {os.getcwd()} ({now})")
        )
    raise SystemExit(int(report.status))


COMMANDS: list[click.Command] = [doctor]
