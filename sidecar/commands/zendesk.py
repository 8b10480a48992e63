"""`sidecar zendesk setup`: wire Zendesk for the sidecar through the API, idempotently."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from sidecar.commands.context import SidecarGroup, cli_context
from sidecar.domain.metric_plan import used_metrics
from sidecar.envfile import git_exposure, write_private
from sidecar.zendesk.setup import (
    CHANGED,
    Setup,
    check_webhook_url,
    env_lines,
    merge_env_file,
)


@click.group(cls=SidecarGroup)
def zendesk() -> None:
    """Set up Zendesk for the sidecar (fields, forms, webhooks, trigger, views)."""


@zendesk.command("setup")
@click.option(
    "--url",
    required=True,
    help="The sidecar's public webhook URL: https://HOST/webhooks/zendesk",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan as a table; write nothing."
)
@click.option("--repair", is_flag=True, help="Rewrite objects someone changed.")
@click.option(
    "--form",
    "forms",
    multiple=True,
    metavar="NAME|ID",
    help="Add the fields to this ticket form only (repeatable; default: every "
    "active form).",
)
@click.option(
    "--require-severity",
    is_flag=True,
    help="Make Issue Severity required on Help Center requests.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Also write the resulting env lines to this file (mode 0600, merged); "
    "load it with `set -a; . FILE; set +a` (README).",
)
@click.option(
    "--app",
    "app_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Also install or update the agents' sidebar app from this folder "
    "(the repository's zendesk-app); needs SIDECAR_APP_SECRET.",
)
@click.option(
    "--allow-unreachable-url",
    is_flag=True,
    help="Accept a loopback/private --url Zendesk cannot reach (tests, tunnels).",
)
@click.option(
    "--allow-http", is_flag=True, help="Accept a plain http:// --url (not advised)."
)
def setup(
    url: str,
    dry_run: bool,
    repair: bool,
    forms: tuple[str, ...],
    require_severity: bool,
    env_file: str | None,
    allow_unreachable_url: bool,
    allow_http: bool,
    app_dir: Path | None,
) -> None:
    """Create what the sidecar needs in Zendesk; a second run writes nothing.

    Finds each object by its name first. A changed object is reported, and
    rewritten only with --repair. The ids (and, once, the new webhooks'
    signing secrets) are printed as env lines.
    """
    allowed = {"allow_unreachable": allow_unreachable_url, "allow_http": allow_http}
    # Refused before any credential is read or any call made.
    check_webhook_url(url, **allowed)
    context = cli_context()
    result = Setup(
        context.zendesk(),
        context.config,
        url=url,
        dry_run=dry_run,
        repair=repair,
        forms=forms,
        require_severity=require_severity,
        **allowed,
        app_dir=app_dir,
        metrics=used_metrics(context.policy),
    ).run()
    rows = [("OBJECT", "NAME", "ACTION", "ID", "")] + [
        (s.kind, s.name, s.action, s.object_id, s.note) for s in result.steps
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[4]]).rstrip())
    for note in result.notes:
        click.echo(f"note: {note}")
    if dry_run:
        click.echo("dry run: nothing written")
    elif result.up_to_date:
        click.echo("up to date: nothing written")
    else:
        click.echo(f"{result.writes} write(s)")
    if result.drifted and not repair:
        click.echo(
            f"{len(result.drifted)} object(s) changed in Zendesk "
            f"({', '.join(s.name for s in result.drifted)}): --repair rewrites them"
        )
    lines = env_lines(result)
    if lines:
        click.echo("")
        for line in lines:
            click.echo(line)
    if result.new_secrets:
        click.echo(
            "# the signing secrets are shown only now: keep them "
            "(SIDECAR_WEBHOOK_SECRET takes several, comma-separated)"
        )
    if env_file and not dry_run:
        path = Path(env_file)
        old = path.read_text() if path.exists() else ""
        write_private(path, merge_env_file(old, lines))
        # `. name` searches PATH in a POSIX sh: always give it a slash.
        shown = shlex.quote(str(path) if "/" in str(path) else f"./{path}")
        click.echo(f"wrote {path} (mode 0600; load it with: set -a; . {shown}; set +a)")
        exposure = git_exposure(path)
        if exposure:
            click.echo(f"warning: {exposure}", err=True)
    if any(step.action == CHANGED for step in result.steps) and not repair:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [zendesk]
