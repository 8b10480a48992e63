"""deploy/slack-manifest.yaml names what the code listens for."""

from __future__ import annotations

from pathlib import Path

from sidecar.slack.blocks import SHORTCUT_CALLBACK

MANIFEST = (Path(__file__).parents[3] / "deploy" / "slack-manifest.yaml").read_text()


def test_manifest_points_at_our_routes_and_shortcut() -> None:
    """The manifest's request URLs, shortcut callback and events are the ones the app serves."""
    assert "request_url: https://sidecar.example.com/slack/events" in MANIFEST
    assert "request_url: https://sidecar.example.com/slack/interactions" in MANIFEST
    assert f"callback_id: {SHORTCUT_CALLBACK}" in MANIFEST
    for event in ("reaction_added", "message.channels", "message.groups"):
        assert f"- {event}" in MANIFEST
    for scope in ("chat:write", "commands", "reactions:read", "users:read.email"):
        assert f"- {scope}" in MANIFEST
