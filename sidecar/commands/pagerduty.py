"""`sidecar pagerduty setup`: the webhook subscription that brings on-call's answers back."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlsplit

import click

from sidecar.commands.context import SidecarGroup, cli_context
from sidecar.envfile import git_exposure, write_private
from sidecar.errors import ConfigError
from sidecar.net import unreachable_reason
from sidecar.oncall.pagerduty_setup import FILTER_TYPES, PagerDutyRest, setup
from sidecar.zendesk.setup import merge_env_file

SECRET_ENV = "SIDECAR_PAGERDUTY_WEBHOOK_SECRET"


@click.group(cls=SidecarGroup)
def pagerduty() -> None:
    """Set up PagerDuty for the sidecar (the V3 webhook subscription)."""


def check_url(url: str, *, allow_unreachable: bool, allow_http: bool) -> None:
    """Raise ConfigError unless PagerDuty's servers could deliver to ``url``."""
    form = "https://<public host>/webhooks/pagerduty"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--url {url!r}: not a web address; expected {form}")
    if parts.username or parts.password:
        raise ConfigError(f"--url: credentials in the URL are refused; expected {form}")
    if not parts.path.rstrip("/").endswith("/webhooks/pagerduty"):
        raise ConfigError(
            f"--url {url!r}: the sidecar receives PagerDuty at /webhooks/pagerduty; "
            f"expected {form}"
        )
    reason = unreachable_reason(parts.hostname)
    if reason and not allow_unreachable:
        raise ConfigError(
            f"--url {url!r}: {reason}, which PagerDuty's servers cannot reach; "
            "use the sidecar's public address (--allow-unreachable-url for tests)"
        )
    if parts.scheme == "http" and not allow_http:
        raise ConfigError(
            f"--url {url!r}: plain http would send incident details in clear; use "
            "https (--allow-http to accept it anyway)"
        )


@pagerduty.command("setup")
@click.option(
    "--url",
    required=True,
    help="The sidecar's public URL for PagerDuty: https://HOST/webhooks/pagerduty",
)
@click.option(
    "--service",
    "service_id",
    metavar="ID",
    help="Only incidents of this PagerDuty service (the one the routing key pages).",
)
@click.option(
    "--team", "team_id", metavar="ID", help="Only incidents of this PagerDuty team."
)
@click.option(
    "--dry-run", is_flag=True, help="Say what would be created; write nothing."
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Also write the secret line to this file (mode 0600, merged).",
)
@click.option(
    "--allow-unreachable-url",
    is_flag=True,
    help="Accept a loopback/private --url PagerDuty cannot reach (tests, tunnels).",
)
@click.option(
    "--allow-http", is_flag=True, help="Accept a plain http:// --url (not advised)."
)
def setup_command(
    url: str,
    service_id: str | None,
    team_id: str | None,
    dry_run: bool,
    env_file: str | None,
    allow_unreachable_url: bool,
    allow_http: bool,
) -> None:
    """Create the V3 webhook subscription to --url, or check it; a second run writes nothing.

    Needs SIDECAR_PAGERDUTY_API_TOKEN (a REST API token with write access).
    The signing secret is printed once, as an env line for
    SIDECAR_PAGERDUTY_WEBHOOK_SECRET.
    """
    check_url(url, allow_unreachable=allow_unreachable_url, allow_http=allow_http)
    if service_id and team_id:
        raise ConfigError("--service and --team: give one (or neither: the account)")
    filter_type, filter_id = FILTER_TYPES[2], None
    if service_id:
        filter_type, filter_id = FILTER_TYPES[0], service_id
    elif team_id:
        filter_type, filter_id = FILTER_TYPES[1], team_id
    config = cli_context().config
    if config.pagerduty_api_token is None:
        raise ConfigError(
            "SIDECAR_PAGERDUTY_API_TOKEN is not set: create a REST API key in "
            "PagerDuty (Integrations > API Access Keys) and set it"
        )
    api = PagerDutyRest(
        token=config.pagerduty_api_token, base_url=config.pagerduty_api_url
    )
    try:
        result = setup(
            api, url=url, filter_type=filter_type, filter_id=filter_id, dry_run=dry_run
        )
    finally:
        api.close()
    scope = f"{filter_type} {filter_id}" if filter_id else "the whole account"
    shown = result.subscription_id or "—"
    click.echo(f"webhook subscription  {url}  ({scope})  {result.action}  {shown}")
    if result.note:
        click.echo(f"note: {result.note}")
    if dry_run:
        click.echo("dry run: nothing written")
    if result.secret is not None:
        line = f"{SECRET_ENV}={shlex.quote(result.secret)}"
        click.echo("")
        click.echo(line)
        click.echo(
            "# the signing secret is shown only now: keep it (during a rotation "
            f"{SECRET_ENV} takes old and new, comma-separated)"
        )
        if env_file:
            path = Path(env_file)
            old = path.read_text() if path.exists() else ""
            write_private(path, merge_env_file(old, [line], accumulate=(SECRET_ENV,)))
            quoted = shlex.quote(str(path) if "/" in str(path) else f"./{path}")
            click.echo(
                f"wrote {path} (mode 0600; load it with: set -a; . {quoted}; set +a)"
            )
            exposure = git_exposure(path)
            if exposure:
                click.echo(f"warning: {exposure}", err=True)
    if result.action == "differs":
        raise SystemExit(1)


COMMANDS: list[click.Command] = [pagerduty]
