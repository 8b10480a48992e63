"""The adapter reads `sidecar doctor` added, against the strict doubles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import pytest
from slack_sdk import WebClient

from sidecar.config import Config, Secret
from sidecar.errors import AuthFailed, Gone
from sidecar.slack import api as slack_api
from sidecar.zendesk.client import ZendeskClient
from tests.fake_slack import APP_SCOPES, BOT_TOKEN, BOT_USER, FakeSlack
from tests.fake_zendesk import FakeZendesk

URL = "https://sidecar.example.test/webhooks/zendesk"


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        yield fake


def _hook(client: ZendeskClient, name: str) -> str:
    body = {
        "webhook": {
            "name": name,
            "endpoint": URL,
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": ["conditional_ticket_events"],
        }
    }
    return str(
        client.admin_request("POST", "/api/v2/webhooks", json=body)["webhook"]["id"]
    )


def test_whoami_reads_the_api_user_and_keeps_the_headers(zendesk: FakeZendesk) -> None:
    """Show Self gives id and role; the answer's Date and rate-limit headers are kept."""
    zendesk.date_offset_seconds = -30
    with ZendeskClient.from_config(zendesk.config()) as client:
        me = client.whoami()
        assert (me.id, me.role, me.email) == (
            zendesk.api_user_id,
            "admin",
            zendesk.email,
        )
        assert client.current_user_id() == me.id
        date = parsedate_to_datetime(client.last_headers["Date"]).timestamp()
        assert abs(time.time() - 30 - date) < 3
        assert client.last_headers["X-Rate-Limit"] == "700"
        assert client.calls_made == 1


def test_whoami_with_a_wrong_token_is_auth_failed(zendesk: FakeZendesk) -> None:
    """401 from Zendesk: AuthFailed, as for every other call."""
    config = zendesk.config(zendesk_api_token=Secret("wrong"))
    with ZendeskClient.from_config(config) as client, pytest.raises(AuthFailed):
        client.whoami()


def test_webhooks_secret_and_triggers_are_read_with_gets_only(
    zendesk: FakeZendesk,
) -> None:
    """List Webhooks, Show Signing Secret (GET: a POST would reset it), List Triggers."""
    with ZendeskClient.from_config(zendesk.config()) as client:
        hook = _hook(client, "one")
        zendesk.reset_calls()
        assert [h["id"] for h in client.list_webhooks()] == [hook]
        assert client.webhook_signing_secret(hook).reveal() == zendesk.webhook_secret(
            hook
        )
        assert client.list_triggers() == []
        assert {c.method for c in zendesk.calls()} == {"GET"}
        with pytest.raises(ValueError):
            client.webhook_signing_secret("../tickets")


def test_signing_secret_of_an_unknown_webhook_is_gone(zendesk: FakeZendesk) -> None:
    """404 for a webhook that is not there."""
    with ZendeskClient.from_config(zendesk.config()) as client, pytest.raises(Gone):
        client.webhook_signing_secret("01NOSUCHWEBHOOK")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _client(slack: FakeSlack, token: str = BOT_TOKEN) -> WebClient:
    config = Config(slack_bot_token=Secret(token), slack_api_url=slack.api_url)
    return slack_api.web_client(config)


def test_bot_identity_reads_the_scopes_header(slack: FakeSlack) -> None:
    """auth.test's identity, and the token's scopes from x-oauth-scopes."""
    bot = slack_api.bot_identity(_client(slack))
    assert bot.user_id == BOT_USER and bot.scopes == frozenset(APP_SCOPES)


def test_bot_identity_with_a_wrong_token_is_auth_failed(slack: FakeSlack) -> None:
    """invalid_auth: AuthFailed."""
    with pytest.raises(AuthFailed):
        slack_api.bot_identity(_client(slack, "xoxb-wrong"))


def test_bot_in_channel(slack: FakeSlack) -> None:
    """is_member for public channels; a private one without the bot is not found."""
    slack.add_channel("C1", members=set())
    slack.add_channel("C2", members={"U1"}, bot=False)
    slack.add_channel("G3", members={"U1"}, bot=False, private=True)
    client = _client(slack)
    assert slack_api.bot_in_channel(client, "C1") is True
    assert slack_api.bot_in_channel(client, "C2") is False
    with pytest.raises(Gone):
        slack_api.bot_in_channel(client, "G3")


def test_bot_in_channel_without_read_scope_is_auth_failed() -> None:
    """conversations.info without channels:read: missing_scope, an AuthFailed."""
    scopes = tuple(s for s in APP_SCOPES if s != "channels:read")
    with FakeSlack(scopes=scopes) as slack:
        slack.add_channel("C1", members=set())
        with pytest.raises(AuthFailed):
            slack_api.bot_in_channel(_client(slack), "C1")
