"""The Slack app's adapters against HTTP doubles: the Slack Web API boundary and the new Zendesk calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sidecar.config import Config, Secret
from sidecar.errors import AuthFailed, Gone, RateLimited, Rejected, Transient
from sidecar.slack import api
from sidecar.zendesk.client import ZendeskClient
from tests.fake_slack import BOT_TOKEN, FakeSlack
from tests.fake_zendesk import FakeZendesk
from tests.support import free_port


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("U1", name="Ana", email="ana@acme.example")
        fake.add_user("U2", name="Stranger", email=None, stranger=True)
        fake.add_channel("C0SHARED01", members={"U1"})
        yield fake


def client_for(fake: FakeSlack, token: str = BOT_TOKEN) -> object:
    config = Config(slack_bot_token=Secret(token), slack_api_url=fake.api_url)
    return api.web_client(config)


def test_a_posted_message_comes_back_as_data(slack: FakeSlack) -> None:
    """chat.postMessage through the client: the answer's JSON, recorded by the fake."""
    client = client_for(slack)
    data = api.call(
        "chat.postMessage", client.chat_postMessage, channel="C0SHARED01", text="hi"
    )  # type: ignore[attr-defined]
    assert data["ok"] is True and data["channel"] == "C0SHARED01"
    assert slack.posts("C0SHARED01")[0]["text"] == "hi"


def test_rate_limit_is_retried_later_with_slacks_delay(slack: FakeSlack) -> None:
    """HTTP 429 becomes RateLimited carrying Retry-After; nothing sleeps in the call."""
    slack.fail_next("chat.postMessage", 429, retry_after=7)
    client = client_for(slack)
    with pytest.raises(RateLimited) as caught:
        api.call(
            "chat.postMessage", client.chat_postMessage, channel="C0SHARED01", text="x"
        )  # type: ignore[attr-defined]
    assert caught.value.retry_after == 7
    assert len(slack.calls("chat.postMessage")) == 1


def test_error_codes_map_to_what_the_worker_must_do(slack: FakeSlack) -> None:
    """channel_not_found is Gone (dropped); a refused token is AuthFailed (dead letter, flag)."""
    with pytest.raises(Gone, match=r"channel_not_found"):
        api.call(
            "chat.postMessage",
            client_for(slack).chat_postMessage,
            channel="C0NOPE0001",
            text="x",
        )  # type: ignore[attr-defined]
    with pytest.raises(AuthFailed, match=r"invalid_auth") as caught:
        api.call("auth.test", client_for(slack, "xoxb-wrong").auth_test)  # type: ignore[attr-defined]
    assert "xoxb" not in str(caught.value)


def test_slack_unreachable_is_transient() -> None:
    """A refused connection is Transient (retried), with no URL or token in the message."""
    config = Config(
        slack_bot_token=Secret(BOT_TOKEN),
        slack_api_url=f"http://127.0.0.1:{free_port()}/api/",
    )
    with pytest.raises(Transient, match=r"connection failed"):
        api.call("auth.test", api.web_client(config).auth_test)


def test_user_identity_tolerates_a_hidden_email(slack: FakeSlack) -> None:
    """Email when Slack shares it; None for a Slack Connect stranger or an unknown user."""
    client = client_for(slack)
    assert api.user_identity(client, "U1") == ("Ana", "ana@acme.example")  # type: ignore[arg-type]
    assert api.user_identity(client, "U2") == ("Stranger", None)  # type: ignore[arg-type]
    assert api.user_identity(client, "U9") == ("U9", None)  # type: ignore[arg-type]


@pytest.fixture
def zendesk() -> Iterator[tuple[FakeZendesk, ZendeskClient, int, int]]:
    with FakeZendesk() as fake:
        org = fake.add_org(name="Acme")
        member = fake.add_user(name="Ana", email="ana@acme.example")
        fake.add_membership(member, org)  # type: ignore[attr-defined]
        with ZendeskClient.from_config(fake.config()) as client:
            yield fake, client, org, member


def test_create_then_find_by_external_id(
    zendesk: tuple[FakeZendesk, ZendeskClient, int, int],
) -> None:
    """A created ticket carries what was sent and is found again by its external id."""
    _, client, org, member = zendesk
    ticket = client.create_ticket(
        {
            "subject": "Pushes fail",
            "comment": {"body": "Every push 503s", "public": True},
            "requester": {"name": "Ana", "email": "ANA@acme.example"},
            "organization_id": org,
            "custom_fields": [{"id": 360001, "value": "sev_1"}],
            "tags": ["slack", "slack_c0shared01"],
            "external_id": "slack-C0SHARED01-1.2",
        }
    )
    assert ticket.requester_id == member and ticket.organization_id == org
    assert ticket.custom_fields[360001] == "sev_1"
    assert [
        t.id for t in client.find_tickets_by_external_id("slack-C0SHARED01-1.2")
    ] == [ticket.id]
    assert client.find_tickets_by_external_id("slack-C0SHARED01-9.9") == []


def test_an_org_the_requester_does_not_belong_to_is_refused(
    zendesk: tuple[FakeZendesk, ZendeskClient, int, int],
) -> None:
    """A new requester (not a member) with the org's id gets Zendesk's 422 as Rejected."""
    _, client, org, _ = zendesk
    with pytest.raises(Rejected) as caught:
        client.create_ticket(
            {
                "comment": {"body": "x"},
                "requester": {"name": "New", "email": "new@elsewhere.example"},
                "organization_id": org,
            }
        )
    assert caught.value.status == 422


def test_users_by_email_comments_as_them_and_comment_texts(
    zendesk: tuple[FakeZendesk, ZendeskClient, int, int],
) -> None:
    """Search by exact email; a comment authored as that user; its text and author read back."""
    fake, client, org, member = zendesk
    tid = fake.add_ticket(organization_id=org, requester_id=member)
    assert client.find_user_id_by_email("Ana@Acme.example") == member
    assert client.find_user_id_by_email("nobody@acme.example") is None
    comment_id = client.add_public_comment(tid, body="still failing", author_id=member)
    texts = client.list_comment_texts(tid)
    last = texts[-1]
    assert last.id == comment_id and last.author_id == member and last.public
    assert last.body == "still failing" and last.author_name == "Ana"
