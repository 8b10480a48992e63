"""A thread reply written to Zendesk, and a sync that runs before it is recorded as ours.

Writing a Slack reply as a Zendesk comment fires the account's trigger; its
webhook can bring a sync of the ticket's thread before the bridge has recorded
the new comment's id as its own (it learns the id from Zendesk's answer). That
sync must not take the vendor engineer's Slack words for the agent's first
reply: it would echo them into the thread and then never announce the real
first reply. Found by a CI run under load (the e2e thread test timed out).

The bridge runs in this process against the fake Zendesk and the fake Slack
over HTTP; the interleaving is forced: the bridge's "this comment is ours"
record waits until a sync, started by the fake's write hook, has run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.config import Config
from sidecar.errors import Transient
from sidecar.slack.blocks import MessageRef
from sidecar.tasks import slack_bridge
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_bridge import SlackBridge
from tests.e2e.conftest import SEVERITY_FIELD, connected_env, define_fields
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_zendesk import FakeZendesk, WriteEvent

CHANNEL, VENDOR = "C0SHARED01", "U0VEND0001"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeZendesk, FakeSlack, SlackBridge]]:
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty() as pagerduty,
        FakeSlack() as slack,
    ):
        define_fields(zendesk)
        slack.add_user(VENDOR, name="Vera Vendor", email="vera@vendor.example")
        slack.add_channel(CHANNEL, members={VENDOR})
        env = connected_env(
            tmp_path,
            zendesk,
            pagerduty,
            SIDECAR_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
            SIDECAR_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SIDECAR_SLACK_BOT_TOKEN=BOT_TOKEN,
            SIDECAR_SLACK_API_URL=slack.api_url,
        )
        config = Config.from_env(env)
        queue = JobQueue.from_url(config.queue_url)
        try:
            factory = ReconcilerFactory(config, queue=queue)
            yield (
                zendesk,
                slack,
                slack_bridge.build(config, queue=queue, factory=factory),
            )
        finally:
            queue.close()


def test_a_sync_between_the_write_and_its_record_does_not_echo_the_reply(
    world: tuple[FakeZendesk, FakeSlack, SlackBridge],
) -> None:
    zendesk, slack, bridge = world
    org = zendesk.add_org(name="Acme Corp", fields={"support_plan": "enterprise"})
    vendor = zendesk.add_user(
        role="agent", name="Vera Vendor", email="vera@vendor.example"
    )
    agent = zendesk.add_user(role="agent", name="Agent Smith")
    tid = zendesk.add_ticket(
        organization_id=org, custom_fields={SEVERITY_FIELD: "sev_3"}
    )
    ts = slack.add_message(CHANNEL, user=VENDOR, text="Docker pulls are slow")
    bridge.links.remember(tid, MessageRef(CHANNEL, ts, ts))
    bridge.links.say_once(tid, "opened", lambda: None)

    synced = threading.Event()
    deferred: list[Transient] = []

    def sync_on_the_trigger(event: WriteEvent) -> None:
        # The trigger's webhook, and the sync it brings, before the bridge has
        # read Zendesk's answer.
        if (
            event.resource == "ticket"
            and event.id == tid
            and "comment" in event.body.get("ticket", {})
        ):
            try:
                bridge.follow(tid)
            except Transient as exc:  # the sync job retries later
                deferred.append(exc)
            finally:
                synced.set()

    zendesk.on_write(sync_on_the_trigger)
    record = bridge.links.own_comment

    def record_after_the_sync(comment_id: int) -> None:
        assert synced.wait(10), "the write fired no sync"
        record(comment_id)

    bridge.links.own_comment = record_after_the_sync  # type: ignore[method-assign]
    slack_reply = slack.add_message(
        CHANNEL, user=VENDOR, text="Looking into it from Slack", thread_ts=ts
    )
    bridge.add_comment(
        {"channel": CHANNEL, "thread_ts": ts, "ts": slack_reply, "user": VENDOR,
         "text": "Looking into it from Slack"}
    )  # fmt: skip

    def thread() -> list[str]:
        return [str(p.get("text")) for p in slack.posts(CHANNEL, thread_ts=ts)]

    # The reply became a comment as the vendor engineer (an agent in Zendesk)…
    assert [c.author_id for c in zendesk.comments(tid)][-1] == vendor
    # …and it is not echoed into the thread: the sync in between held back,
    # and its retry knows the comment is ours.
    bridge.follow(tid)  # the sync's retry
    assert not any("Looking into it" in text for text in thread())
    assert deferred, "the sync did not wait for the comment to be recorded"
    # The agent's first reply in Zendesk is the one announced, once.
    zendesk.add_comment(tid, agent, public=True, body="We found a slow mirror.")
    bridge.follow(tid)
    bridge.follow(tid)
    assert [t for t in thread() if "slow mirror" in t and "Agent Smith" in t] != []
    assert len([t for t in thread() if "replied" in t]) == 1
