"""Slack 🎫 tickets use the account's own severity tags, and a dropped value is seen.

The bridge runs in this process against the fake Zendesk and the fake Slack
over HTTP. The account's Issue Severity field uses ``severity_1``…``severity_5``
(the receiver reads those too); Zendesk drops a dropdown value that is not an
option with a 2xx (tests/fake_zendesk.py, ``_drop_unknown_options``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.config import Config
from sidecar.errors import ConfigError
from sidecar.metrics import SLACK_TICKET_MISMATCHES
from sidecar.slack.blocks import MessageRef, TicketRequest
from sidecar.tasks import slack_bridge
from sidecar.tasks.handler import ReconcilerFactory, build_handler
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.slack_bridge import SlackBridge
from sidecar.zendesk.client import ZendeskClient
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    DUE_DATE_FIELD,
    SEVERITY_FIELD,
    connected_env,
)
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_zendesk import FakeZendesk

CHANNEL, CUSTOMER, EMAIL = "C0SHARED01", "U0CUST0001", "ana@acme.example"
ACCOUNT_OPTIONS = [(f"Severity {n}", f"severity_{n}") for n in range(1, 6)]


class World:
    def __init__(
        self,
        zendesk: FakeZendesk,
        slack: FakeSlack,
        env: dict[str, str],
        queue: JobQueue,
    ) -> None:
        self.zendesk, self.slack, self.env, self.queue = zendesk, slack, env, queue
        self.config = Config.from_env(env)
        self.org = zendesk.add_org(
            name="Acme Corp", fields={"support_plan": "enterprise"}
        )
        customer = zendesk.add_user(name="Ana", email=EMAIL)
        zendesk.add_membership(customer, self.org)  # type: ignore[attr-defined]

    def bridge(self) -> SlackBridge:
        factory = ReconcilerFactory(self.config, queue=self.queue)
        return slack_bridge.build(self.config, queue=self.queue, factory=factory)

    def request(self, severity: int) -> TicketRequest:
        ts = self.slack.add_message(CHANNEL, user=CUSTOMER, text="Pushes fail")
        return TicketRequest(
            message=MessageRef(CHANNEL, ts, ts),
            severity=severity,
            subject="Pushes fail",
            description="Every push returns 503.",
            submitted_by=CUSTOMER,
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeZendesk() as zendesk, FakePagerDuty() as pagerduty, FakeSlack() as slack:
        zendesk.add_ticket_field(
            SEVERITY_FIELD,
            title="Issue Severity",
            type="tagger",
            options=ACCOUNT_OPTIONS,
            visible_in_portal=True,
            editable_in_portal=True,
            title_in_portal="Issue Severity",
        )
        zendesk.add_ticket_field(DUE_AT_FIELD, title="SLA first response due")
        zendesk.add_ticket_field(DUE_DATE_FIELD, title="SLA due date", type="date")
        slack.add_user(CUSTOMER, name="Ana", email=EMAIL)
        slack.add_channel(CHANNEL, members={CUSTOMER})
        entitlements = tmp_path / "entitlements.toml"
        env = connected_env(
            tmp_path,
            zendesk,
            pagerduty,
            SIDECAR_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.db'}",
            SIDECAR_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SIDECAR_SLACK_BOT_TOKEN=BOT_TOKEN,
            SIDECAR_SLACK_API_URL=slack.api_url,
            SIDECAR_ENTITLEMENTS_FILE=str(entitlements),
        )
        queue = JobQueue.from_url(Config.from_env(env).queue_url)
        try:
            w = World(zendesk, slack, env, queue)
            entitlements.write_text(
                f'[orgs."{w.org}"]\nslack_channel = "{CHANNEL}"\n'
                'default_requester_email = "ops@acme.example"\n'
            )
            yield w
        finally:
            queue.close()


def test_a_slack_ticket_carries_the_accounts_own_tag(world: World) -> None:
    """SEV 1 from Slack on a severity_N account is created with severity_1; no value is dropped."""
    bridge = world.bridge()
    bridge.create_ticket(world.request(1))
    (tid,) = list(world.zendesk._tickets)
    ticket = world.zendesk.ticket(tid)
    assert ticket.custom_fields[SEVERITY_FIELD] == "severity_1"
    assert "severity_1" in ticket.tags
    assert world.zendesk.dropped_values == []
    (create,) = world.zendesk.calls("POST", "/api/v2/tickets")
    assert create.json["ticket"]["custom_fields"] == [
        {"id": SEVERITY_FIELD, "value": "severity_1"}
    ]


def test_the_worker_refuses_to_start_when_a_severity_has_no_option(
    world: World,
) -> None:
    """Options for SEV 1-4 only: building the worker's handlers names the options and SEV 5."""
    world.zendesk.edit_ticket_field(
        SEVERITY_FIELD,
        custom_field_options=[
            {"id": 90 + n, "name": f"P{n}", "value": f"p{n}"} for n in range(1, 6)
        ][:1]
        + [{"id": 95 + n, "name": f"S{n}", "value": f"sev_{n}"} for n in range(1, 5)],
    )
    with pytest.raises(ConfigError) as caught:
        build_handler(world.config, queue=world.queue)
    assert "no option for SEV 5" in str(caught.value)
    assert "'P1' (tag 'p1')" in str(caught.value)


def test_options_changed_after_start_reach_the_operator(world: World) -> None:
    """Tags renamed after the bridge read them: Zendesk drops the value; log, metric, ephemeral and private note say so."""
    bridge = world.bridge()
    assert bridge.severity_tags()[2] == "severity_2"
    world.zendesk.edit_ticket_field(
        SEVERITY_FIELD,
        custom_field_options=[
            {"id": 80 + n, "name": f"SEV {n}", "value": f"sev_{n}"} for n in range(1, 6)
        ],
    )
    before = SLACK_TICKET_MISMATCHES.labels("severity")._value.get()
    bridge.create_ticket(world.request(2))
    assert SLACK_TICKET_MISMATCHES.labels("severity")._value.get() == before + 1
    (dropped,) = world.zendesk.dropped_values
    assert dropped[1:] == (SEVERITY_FIELD, "severity_2")
    (tid,) = [t for t in world.zendesk._tickets]
    notes = [c for c in world.zendesk.comments(tid) if not c.public]
    assert notes and "did not keep the Issue Severity sent (SEV 2" in notes[-1].body
    (ephemeral,) = [c.args for c in world.slack.calls("chat.postEphemeral")]
    assert ephemeral["user"] == CUSTOMER and f"Ticket #{tid}" in ephemeral["text"]
    # Read again: the next ticket uses the new tags.
    assert bridge.severity_tags()[2] == "sev_2"


def test_setup_then_a_slack_ticket_on_an_account_with_three_forms(world: World) -> None:
    """Setup keeps the severity_N options and adds the fields to the active forms; the Slack ticket then uses severity_1; no unknown tag is ever written."""
    zendesk = world.zendesk
    other = zendesk.add_ticket_field(title="Product")
    forms = [
        zendesk.add_ticket_form("Web", [other]),
        zendesk.add_ticket_form("Enterprise", [other, SEVERITY_FIELD]),
        zendesk.add_ticket_form("Legacy", [other], active=False),
    ]
    env: dict[str, str | None] = {**world.env, "SIDECAR_CONFIG": None}
    result = CliRunner().invoke(
        main,
        ["zendesk", "setup", "--url", "https://sidecar.example.test/webhooks/zendesk"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "SEV 1 = severity_1" in result.output
    web, enterprise, legacy = (
        zendesk.ticket_form(f)["ticket_field_ids"] for f in forms
    )
    assert web[:2] == [other, SEVERITY_FIELD] and DUE_AT_FIELD in web
    assert enterprise[:2] == [other, SEVERITY_FIELD] and DUE_AT_FIELD in enterprise
    assert legacy == [other]
    bridge = world.bridge()
    bridge.create_ticket(world.request(1))
    (tid,) = list(zendesk._tickets)
    assert zendesk.ticket(tid).custom_fields[SEVERITY_FIELD] == "severity_1"
    assert zendesk.dropped_values == []


def test_an_organization_zendesk_did_not_keep_is_reported(world: World) -> None:
    """A create answer with another organization than the one sent: counted, noted privately, the reporter told; no second ticket."""
    bridge = world.bridge()
    bridge.create_ticket(world.request(3))
    (tid,) = list(world.zendesk._tickets)
    with ZendeskClient.from_config(world.config) as client:
        ticket = client.get_ticket(tid)
        sent = {
            "organization_id": world.org + 1000,
            "custom_fields": [{"id": SEVERITY_FIELD, "value": "severity_3"}],
        }
        before = SLACK_TICKET_MISMATCHES.labels("organization")._value.get()
        bridge._check_created(client, ticket, sent, world.request(3))
    assert SLACK_TICKET_MISMATCHES.labels("organization")._value.get() == before + 1
    note = [c for c in world.zendesk.comments(tid) if not c.public][-1]
    assert f"did not keep the organization sent ({world.org + 1000}" in note.body
    assert "Issue Severity" not in note.body
    (ephemeral,) = [c.args for c in world.slack.calls("chat.postEphemeral")]
    assert f"Ticket #{tid} was opened, but zendesk did not keep" in ephemeral["text"]
    assert len(world.zendesk._tickets) == 1
