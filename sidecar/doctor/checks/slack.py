"""The Slack app: token, scopes, channel membership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sidecar.doctor.checks.lines import Line, fail, ok, warn

SLACK = "slack"
# The bot scopes of deploy/slack-manifest.yaml.
APP_SCOPES = (
    "chat:write",
    "commands",
    "reactions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
)


def check_slack_identity(
    *, user_id: str, team: str, scopes: frozenset[str] | None
) -> list[Line]:
    """The token works; it holds the scopes the app needs."""
    lines = [ok(SLACK, "token", f"bot {user_id} in {team or 'the workspace'}")]
    if scopes is None:
        lines.append(
            warn(
                SLACK,
                "scopes",
                "Slack did not say the token's scopes (no x-oauth-scopes header)",
                "compare OAuth & Permissions > Bot Token Scopes with "
                "deploy/slack-manifest.yaml",
            )
        )
        return lines
    missing = [s for s in APP_SCOPES if s not in scopes]
    if missing:
        lines.append(
            fail(
                SLACK,
                "scopes",
                f"the token lacks {', '.join(missing)}",
                "add them under OAuth & Permissions > Bot Token Scopes (or paste "
                "deploy/slack-manifest.yaml), reinstall the app, and update "
                "SIDECAR_SLACK_BOT_TOKEN if it changed",
            )
        )
    else:
        lines.append(ok(SLACK, "scopes", "every scope the app needs"))
    return lines


@dataclass(frozen=True)
class ChannelState:
    """A mapped channel: is the bot in it? (``error``: Slack's error code instead)."""

    channel: str
    org: str
    member: bool = False
    error: str | None = None


def check_channels(channels: Sequence[ChannelState]) -> list[Line]:
    """The bot is a member of every channel the entitlements file maps."""
    lines = []
    for state in channels:
        check = f"channel {state.channel}"
        if state.error == "missing_scope":
            lines.append(
                warn(
                    SLACK,
                    check,
                    f"({state.org}) not checked: the token lacks channels:read / "
                    "groups:read",
                    "add both scopes to the app (deploy/slack-manifest.yaml) and reinstall",
                )
            )
        elif state.error is not None:
            lines.append(
                fail(
                    SLACK,
                    check,
                    f"({state.org}) {state.error}: the channel does not exist or is "
                    "private without the bot",
                    f"check slack_channel of {state.org} in the entitlements file, "
                    "and /invite the app there",
                )
            )
        elif not state.member:
            lines.append(
                fail(
                    SLACK,
                    check,
                    f"({state.org}) the bot is not a member: no 🎫 events from it, "
                    "and notices there fail",
                    "type `/invite @<the app>` in the channel",
                )
            )
        else:
            lines.append(ok(SLACK, check, f"({state.org}) the bot is a member"))
    return lines
