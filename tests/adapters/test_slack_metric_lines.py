"""The ticket's Slack thread hears of each missed metric target once (issue 21).

The bridge runs in this process against the fake Zendesk (with its audits) and
the fake Slack over HTTP, with a policy that sets a next reply for SEV 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.config import Config
from sidecar.slack.blocks import MessageRef
from sidecar.tasks import slack_bridge
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_bridge import SlackBridge
from tests.e2e.conftest import SEVERITY_FIELD, connected_env, define_fields
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_zendesk import FakeZendesk

CHANNEL, VENDOR = "C0SHARED01", "U0VEND0001"
POLICY = """
[policies.metrics]
sev1 = { target = "1h", schedule = "24/7" }

[policies.metrics.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "4h", schedule = "24/7" }
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeZendesk, FakeSlack, SlackBridge]]:
    with FakeZendesk() as zendesk, FakePagerDuty() as pagerduty, FakeSlack() as slack:
        define_fields(zendesk)
        slack.add_user(VENDOR, name="Vera Vendor", email="vera@vendor.example")
        slack.add_channel(CHANNEL, members={VENDOR})
        policy = tmp_path / "metrics-policy.toml"  # connected_env writes policy.toml
        policy.write_text(POLICY)
        env = connected_env(
            tmp_path,
            zendesk,
            pagerduty,
            SIDECAR_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
            SIDECAR_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SIDECAR_SLACK_BOT_TOKEN=BOT_TOKEN,
            SIDECAR_SLACK_API_URL=slack.api_url,
            SIDECAR_POLICY_FILE=str(policy),
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


def test_a_missed_next_reply_is_said_once_per_turn(
    world: tuple[FakeZendesk, FakeSlack, SlackBridge],
) -> None:
    zendesk, slack, bridge = world
    org = zendesk.add_org(
        name="Acme Corp",
        fields={"support_plan": "enterprise", "enterprise_support": True},
    )
    agent = zendesk.add_user(role="agent", name="Agent Smith")
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=9)
    tid = zendesk.add_ticket(
        organization_id=org,
        created_at=created,
        status="open",
        custom_fields={SEVERITY_FIELD: "sev_2"},
    )
    requester = zendesk.ticket(tid).requester_id
    zendesk.add_comment(tid, agent, at=created + timedelta(minutes=30))
    zendesk.add_comment(tid, requester, at=created + timedelta(hours=1))  # due +5 h
    ts = slack.add_message(CHANNEL, user=VENDOR, text="Registry is down")
    bridge.links.remember(tid, MessageRef(CHANNEL, ts, ts))
    bridge.links.say_once(tid, "opened", lambda: None)

    def missed() -> list[str]:
        return [
            str(p.get("text"))
            for p in slack.posts(CHANNEL, thread_ts=ts)
            if "missed its next-reply target" in str(p.get("text"))
        ]

    bridge.follow(tid)
    bridge.follow(tid)
    due = created + timedelta(hours=5)
    (line,) = missed()  # twice followed, said once
    assert line.startswith(":warning: <") and f"|Ticket #{tid}>" in line
    assert line.endswith(
        f"missed its next-reply target (due {due:%Y-%m-%d %H:%M} UTC)."
    )
    # Answered late, then a new turn answered in time: nothing more is said.
    zendesk.add_comment(tid, agent, at=created + timedelta(hours=7))
    zendesk.add_comment(tid, requester, at=created + timedelta(hours=8))
    bridge.follow(tid)
    assert len(missed()) == 1
