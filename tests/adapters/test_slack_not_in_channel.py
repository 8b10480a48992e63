"""A Slack post the bot cannot make because it was never invited: dropped, but never silently.

The bridge runs in this process against the fake Zendesk and the fake Slack
over HTTP. The fake answers chat.postMessage in a channel the bot is not a
member of as Slack documents it: HTTP 200 ``{"ok": false, "error":
"not_in_channel"}`` (docs.slack.dev/reference/methods/chat.postMessage,
Errors). The operator gets one warning naming the channel, the organization
and the fix, and ``sidecar_slack_not_in_channel_total`` counts it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from sidecar.config import Config
from sidecar.domain.plan import PAGED_TAG
from sidecar.errors import Disposition, Gone
from sidecar.slack import api
from sidecar.slack.blocks import MessageRef
from sidecar.tasks import slack_bridge
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_bridge import SlackBridge
from tests.e2e.conftest import SEVERITY_FIELD, connected_env, define_fields
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_zendesk import FakeZendesk
from tests.support import http

UNINVITED, JOINED, CUSTOMER = "C0NOTIN001", "C0JOINED01", "U0CUST0001"


@dataclass
class World:
    zendesk: FakeZendesk
    slack: FakeSlack
    bridge: SlackBridge
    org: int


def not_in_channel(kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "sidecar_slack_not_in_channel_total", {"kind": kind}
    )
    assert value is not None
    return value


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty() as pagerduty,
        FakeSlack() as slack,
    ):
        define_fields(zendesk)
        slack.add_user(CUSTOMER, name="Ana", email="ana@acme.example")
        slack.add_channel(UNINVITED, members={CUSTOMER}, bot=False)
        slack.add_channel(JOINED, members={CUSTOMER})
        org = zendesk.add_org(name="Acme Corp", fields={"support_plan": "enterprise"})
        entitlements = tmp_path / "entitlements.toml"
        entitlements.write_text(f'[orgs."{org}"]\nslack_channel = "{UNINVITED}"\n')
        env = connected_env(
            tmp_path,
            zendesk,
            pagerduty,
            SIDECAR_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
            SIDECAR_ENTITLEMENTS_FILE=str(entitlements),
            SIDECAR_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SIDECAR_SLACK_BOT_TOKEN=BOT_TOKEN,
            SIDECAR_SLACK_API_URL=slack.api_url,
        )
        config = Config.from_env(env)
        queue = JobQueue.from_url(config.queue_url)
        try:
            factory = ReconcilerFactory(config, queue=queue)
            bridge = slack_bridge.build(config, queue=queue, factory=factory)
            yield World(zendesk, slack, bridge, org)
        finally:
            queue.close()


def test_an_org_notice_in_a_channel_without_the_bot_warns_with_the_fix(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The on-call notice fails not_in_channel: one warning naming channel, organization and "invite @bot", counted; the job is dropped."""
    tid = world.zendesk.add_ticket(
        organization_id=world.org,
        custom_fields={SEVERITY_FIELD: "sev_1"},
        tags=[PAGED_TAG],
    )
    before = not_in_channel("org_notice")
    with (
        caplog.at_level(logging.INFO, logger="sidecar"),
        pytest.raises(api.NotInChannel) as caught,
    ):
        world.bridge.follow(tid)
    # The worker drops it (retrying cannot invite the bot)…
    assert isinstance(caught.value, Gone)
    assert caught.value.disposition is Disposition.DROP
    # …but the operator is told, once, what to do.
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    assert UNINVITED in text and "Acme Corp" in text
    assert f"invite @ticket-bridge to #{UNINVITED}" in text
    assert getattr(warning, "outcome", None) == "not_in_channel"
    assert not_in_channel("org_notice") == before + 1
    assert len(world.slack.calls("chat.postMessage")) == 1  # one try, no loop


def test_a_thread_reply_in_a_channel_the_bot_left_warns_too(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A ticket's thread in a channel the bot is not (any longer) in: the same warning, counted as a thread post."""
    tid = world.zendesk.add_ticket(
        organization_id=world.org, custom_fields={SEVERITY_FIELD: "sev_3"}
    )
    world.bridge.links.remember(tid, MessageRef(UNINVITED, "1.000100", "1.000100"))
    before = not_in_channel("thread")
    with caplog.at_level(logging.INFO, logger="sidecar"), pytest.raises(Gone):
        world.bridge.follow(tid)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "thread reply" in warning.getMessage()
    assert "invite @ticket-bridge" in warning.getMessage()
    assert not_in_channel("thread") == before + 1


def test_a_channel_the_bot_is_in_gets_the_notice(world: World) -> None:
    """The control: with the bot invited, the notice goes out and nothing is counted."""
    ok = world.zendesk.add_org(name="Beta", fields={"support_plan": "enterprise"})
    tid = world.zendesk.add_ticket(
        organization_id=ok, custom_fields={SEVERITY_FIELD: "sev_1"}, tags=[PAGED_TAG]
    )
    world.bridge.links.remember(tid, MessageRef(JOINED, "1.000100", "1.000100"))
    before = not_in_channel("thread"), not_in_channel("org_notice")
    world.bridge.follow(tid)
    assert world.slack.posts(JOINED)
    assert (not_in_channel("thread"), not_in_channel("org_notice")) == before


def test_the_fake_answers_not_in_channel_as_slack_documents() -> None:
    """chat.postMessage where the bot is no member: HTTP 200, ok false, error not_in_channel."""
    with FakeSlack() as slack:
        slack.add_channel(UNINVITED, members={CUSTOMER}, bot=False)
        status, _, body = http(
            "POST",
            slack.api_url + "chat.postMessage",
            body=json.dumps({"channel": UNINVITED, "text": "x"}).encode(),
            headers={
                "Authorization": f"Bearer {BOT_TOKEN}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        assert (status, json.loads(body)) == (
            200,
            {"ok": False, "error": "not_in_channel"},
        )
