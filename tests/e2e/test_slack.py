"""End to end: 🎫 in a customer's shared Slack channel opens a ticket, and the thread follows it.

Real `sidecar serve` (gunicorn + worker) with the Slack app on, a fake Slack
Web API, the fake Zendesk and the fake PagerDuty on 127.0.0.1; every request
from "Slack" is signed with the test signing secret, exactly as Slack signs.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sidecar.slack.blocks import (
    DESCRIPTION_ACTION,
    DESCRIPTION_BLOCK,
    MODAL_CALLBACK,
    OPEN_MODAL_ACTION,
    SEVERITY_ACTION,
    SEVERITY_BLOCK,
    SHORTCUT_CALLBACK,
    SUBJECT_ACTION,
    SUBJECT_BLOCK,
)
from tests.e2e.conftest import DUE_AT_FIELD, SEVERITY_FIELD, Stack, running_stack
from tests.fake_slack import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    FakeSlack,
    post_event,
    post_interaction,
)
from tests.support import wait_for

pytestmark = pytest.mark.e2e

CHANNEL, UNMAPPED = "C0SHARED01", "C0ELSEWHERE1"
CUSTOMER, STRANGER, VENDOR = "U0CUST0001", "U0EXTRN001", "U0VEND0001"
CUSTOMER_EMAIL, DEFAULT_REQUESTER = "ana@acme.example", "ops@acme.example"


@dataclass
class SlackStack:
    """The running sidecar, its fakes, and the Zendesk users Slack people map to."""

    stack: Stack
    slack: FakeSlack
    customer: int  # Zendesk user with the customer's Slack email
    default_requester: int

    @property
    def url(self) -> str:
        return self.stack.serve.url

    def react(
        self,
        ts: str,
        *,
        user: str = CUSTOMER,
        channel: str = CHANNEL,
        event_id: str,
        **signing: Any,
    ) -> int:
        """Send the reaction_added event for 🎫 on a message; return the HTTP status."""
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": "ticket",
            "item_user": CUSTOMER,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        return post_event(self.url, event, event_id=event_id, **signing)[0]

    def prompt_value(self, user: str = CUSTOMER) -> str:
        """The button value of the last ephemeral prompt shown to ``user``."""

        def found() -> str | None:
            for call in reversed(self.slack.calls("chat.postEphemeral")):
                if call.args.get("user") == user and call.args.get("blocks"):
                    blocks = call.args["blocks"]
                    return str(blocks[1]["elements"][0]["value"])
            return None

        return str(wait_for(found, timeout=10))

    def click(self, value: str, *, user: str = CUSTOMER) -> dict[str, Any]:
        """Press the prompt's button; return the modal view it opened."""
        before = len(self.slack.calls("views.open"))
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "username": "ana", "team_id": TEAM},
            "api_app_id": "A0APP0001",
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": "1.2",
                "channel_id": CHANNEL,
                "is_ephemeral": True,
            },
            "trigger_id": self.slack.new_trigger(),
            "channel": {"id": CHANNEL, "name": "acme-support"},
            "response_url": "http://127.0.0.1:9/unused",
            "actions": [
                {
                    "action_id": OPEN_MODAL_ACTION,
                    "block_id": "b",
                    "type": "button",
                    "value": value,
                    "action_ts": "1.3",
                }
            ],
        }
        status, _ = post_interaction(self.url, payload)
        assert status == 200
        opened = self.slack.calls("views.open")[before:]
        assert len(opened) == 1, opened
        view = opened[0].args["view"]
        return json.loads(view) if isinstance(view, str) else view

    def shortcut(self, ts: str, text: str, *, user: str) -> dict[str, Any]:
        """Use the "Create Zendesk ticket" message shortcut; return the modal view."""
        before = len(self.slack.calls("views.open"))
        payload = {
            "type": "message_action",
            "callback_id": SHORTCUT_CALLBACK,
            "trigger_id": self.slack.new_trigger(),
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "name": "someone"},
            "channel": {"id": CHANNEL, "name": "acme-support"},
            "message_ts": ts,
            "message": {"type": "message", "user": user, "ts": ts, "text": text},
            "response_url": "http://127.0.0.1:9/unused",
            "action_ts": "1.4",
        }
        status, _ = post_interaction(self.url, payload)
        assert status == 200
        (opened,) = self.slack.calls("views.open")[before:]
        view = opened.args["view"]
        return json.loads(view) if isinstance(view, str) else view

    def submit(
        self,
        view: dict[str, Any],
        *,
        severity: int,
        user: str = CUSTOMER,
        subject: str | None = None,
    ) -> tuple[int, bytes]:
        """Submit the modal with ``severity`` (and the prefilled or given subject)."""
        blocks = {b.get("block_id"): b for b in view["blocks"]}
        initial_subject = blocks[SUBJECT_BLOCK]["element"].get("initial_value", "")
        initial_description = blocks[DESCRIPTION_BLOCK]["element"].get(
            "initial_value", ""
        )
        values: dict[str, Any] = {
            SUBJECT_BLOCK: {
                SUBJECT_ACTION: {
                    "type": "plain_text_input",
                    "value": initial_subject if subject is None else subject,
                }
            },
            DESCRIPTION_BLOCK: {
                DESCRIPTION_ACTION: {
                    "type": "plain_text_input",
                    "value": initial_description,
                }
            },
            SEVERITY_BLOCK: {
                SEVERITY_ACTION: {"type": "radio_buttons", "selected_option": None}
            },
        }
        if severity:
            option = next(
                o
                for o in blocks[SEVERITY_BLOCK]["element"]["options"]
                if o["value"] == str(severity)
            )
            values[SEVERITY_BLOCK][SEVERITY_ACTION]["selected_option"] = option
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "username": "ana", "team_id": TEAM},
            "api_app_id": "A0APP0001",
            "token": "legacy",
            "trigger_id": self.slack.new_trigger(),
            "view": {
                **view,
                "id": "V0VIEW0001",
                "team_id": TEAM,
                "state": {"values": values},
            },
            "response_urls": [],
        }
        return post_interaction(self.url, payload)

    def ticket_for(self, ts: str, channel: str = CHANNEL) -> int:
        """Wait for the ticket of a Slack message; return its id."""
        found = wait_for(
            lambda: self.stack.zendesk.tickets_with_external_id(
                f"slack-{channel}-{ts}"
            ),
            timeout=15,
        )
        assert len(found) == 1, found
        return int(found[0])

    def thread(self, ts: str) -> list[str]:
        """Texts the bot posted in the thread of ``ts``."""
        return [str(p.get("text")) for p in self.slack.posts(CHANNEL, thread_ts=ts)]

    def thread_message(self, ts: str, text: str, *, user: str, event_id: str) -> int:
        """Post a reply in the thread as ``user`` and deliver its message event."""
        reply_ts = self.slack.add_message(CHANNEL, user=user, text=text, thread_ts=ts)
        event = {
            "type": "message",
            "channel": CHANNEL,
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": reply_ts,
            "thread_ts": ts,
            "event_ts": reply_ts,
        }
        return post_event(self.url, event, event_id=event_id)[0]


@contextlib.contextmanager
def slack_stack(tmp_path: Path, **options: Any) -> Iterator[SlackStack]:
    with FakeSlack() as slack:
        slack.add_user(CUSTOMER, name="Ana Customer", email=CUSTOMER_EMAIL)
        slack.add_user(STRANGER, name="Ext Person", email=None, stranger=True)
        slack.add_user(VENDOR, name="Vera Vendor", email="vera@vendor.example")
        slack.add_channel(CHANNEL, members={CUSTOMER, STRANGER, VENDOR})
        slack.add_channel(UNMAPPED, members={CUSTOMER})

        def entitlements(org: int) -> str:
            return (
                f'[orgs."{org}"]\nslack_channel = "{CHANNEL}"\n'
                f'default_requester_email = "{DEFAULT_REQUESTER}"\n'
            )

        with running_stack(
            tmp_path,
            entitlements=entitlements,
            SIDECAR_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SIDECAR_SLACK_BOT_TOKEN=BOT_TOKEN,
            SIDECAR_SLACK_API_URL=slack.api_url,
            **options,
        ) as stack:
            zendesk = stack.zendesk
            customer = zendesk.add_user(name="Ana Customer", email=CUSTOMER_EMAIL)
            ops = zendesk.add_user(name="Acme Ops", email=DEFAULT_REQUESTER)
            for user in (customer, ops):
                zendesk.add_membership(user, stack.entitled_org)
            yield SlackStack(stack, slack, customer, ops)
            assert slack.errors == []
            assert slack.violations == []


def test_ticket_emoji_opens_one_ticket_that_pages_and_answers_in_the_thread(
    tmp_path: Path,
) -> None:
    """🎫 → prompt → modal → one SEV 1 ticket (org, requester, permalink) → due time → one page → thread reply; a second submit and a Slack retry change nothing."""
    with slack_stack(tmp_path) as s:
        zendesk, slack = s.stack.zendesk, s.slack
        ts = slack.add_message(
            CHANNEL,
            user=CUSTOMER,
            text="Pushes fail everywhere\nEvery push returns 503 since 10:00.",
        )
        assert s.react(ts, event_id="Ev0REACT01") == 200
        view = s.click(s.prompt_value())
        blocks = {b.get("block_id"): b for b in view["blocks"]}
        assert (
            blocks[SUBJECT_BLOCK]["element"]["initial_value"]
            == "Pushes fail everywhere"
        )
        assert "503" in blocks[DESCRIPTION_BLOCK]["element"]["initial_value"]
        status, answer = s.submit(view, severity=1)
        assert status == 200
        assert not answer.strip() or json.loads(answer).get("response_action") is None

        tid = s.ticket_for(ts)
        ticket = zendesk.ticket(tid)
        assert ticket.custom_fields[SEVERITY_FIELD] == "sev_1"
        assert ticket.organization_id == s.stack.entitled_org
        assert ticket.requester_id == s.customer
        assert {"slack", "slack_c0shared01"} <= ticket.tags
        description = zendesk.comments(tid)[0].body
        assert (
            f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
            in description
        )
        assert "Ana Customer" in description and CUSTOMER in description

        due = wait_for(
            lambda: zendesk.ticket(tid).custom_fields.get(DUE_AT_FIELD), timeout=15
        )
        wait_for(lambda: "oncall_paged" in zendesk.ticket(tid).tags, timeout=20)
        assert len(s.stack.pagerduty.triggers()) == 1

        opened = wait_for(
            lambda: [t for t in s.thread(ts) if "opened" in t], timeout=15
        )
        assert len(opened) == 1
        match = re.search(
            # The day is named when the due time falls on another UTC date.
            r"first response due by (?:\w{3} \d{1,2} \w{3} )?(\d\d:\d\d) UTC, in (\d+) min",
            opened[0],
        )
        assert match is not None, opened[0]
        assert match.group(1) == due[11:16]  # the due time written on the ticket
        assert 55 <= int(match.group(2)) <= 59
        assert "SEV 1 - Critical" in opened[0] and f"#{tid}" in opened[0]
        wait_for(
            lambda: any("on-call paged" in t.lower() for t in s.thread(ts)), timeout=15
        )

        # The same submission again, and Slack retrying the reaction event.
        assert s.submit(view, severity=1)[0] == 200
        prompts = len(slack.calls("chat.postEphemeral"))
        assert s.react(ts, event_id="Ev0REACT01", retry_num=1) == 200
        time.sleep(1.5)
        assert zendesk.tickets_with_external_id(f"slack-{CHANNEL}-{ts}") == [tid]
        assert len(zendesk.calls(method="POST", path_contains="/api/v2/tickets")) == 1
        assert len(slack.calls("chat.postEphemeral")) == prompts
        assert len(s.stack.pagerduty.triggers()) == 1
        assert sum("on-call paged" in t.lower() for t in s.thread(ts)) == 1
        assert len([t for t in s.thread(ts) if "opened" in t]) == 1


def test_an_acknowledge_in_pagerduty_is_one_customer_safe_line_in_the_thread(
    tmp_path: Path,
) -> None:
    """The on-call engineer acknowledges: the thread hears "an on-call engineer is on it" once, never who or the incident (issue 22)."""
    with slack_stack(tmp_path, pagerduty_webhooks=True) as s:
        zendesk, slack = s.stack.zendesk, s.slack
        ts = slack.add_message(CHANNEL, user=CUSTOMER, text="Pushes fail everywhere")
        assert s.react(ts, event_id="Ev0REACT22") == 200
        assert s.submit(s.click(s.prompt_value()), severity=1)[0] == 200
        tid = s.ticket_for(ts)
        wait_for(lambda: "oncall_paged" in zendesk.ticket(tid).tags, timeout=20)
        wait_for(
            lambda: any("on-call paged" in t.lower() for t in s.thread(ts)), timeout=15
        )
        dedup = f"zendesk-acme-ticket-{tid}"
        wait_for(lambda: s.stack.pagerduty.deliveries, timeout=10)  # the trigger's
        (ack,) = s.stack.pagerduty.acknowledge(dedup, by="Dana Oncall")
        assert ack.status == 202
        line = wait_for(
            lambda: [t for t in s.thread(ts) if "on-call engineer is on it" in t],
            timeout=15,
        )
        assert "Dana" not in line[0] and "incident" not in line[0].lower()
        s.stack.pagerduty.annotate(dedup, "Found it: a bad deploy")
        wait_for(
            lambda: any(
                "bad deploy" in c.body for c in zendesk.comments(tid) if not c.public
            ),
            timeout=15,
        )
        time.sleep(1.0)
        thread = s.thread(ts)
        assert sum("on-call engineer is on it" in t for t in thread) == 1
        assert not any("bad deploy" in t for t in thread)


def test_thread_replies_become_comments_and_the_first_agent_reply_comes_back_once(
    tmp_path: Path,
) -> None:
    """Shortcut by a person whose email Slack hides → default requester; a customer reply → one public comment as them, never echoed; the agent's first public reply → one thread message."""
    with slack_stack(tmp_path) as s:
        zendesk, slack = s.stack.zendesk, s.slack
        ts = slack.add_message(CHANNEL, user=STRANGER, text="Docker pulls are slow")
        view = s.shortcut(ts, "Docker pulls are slow", user=STRANGER)
        assert s.submit(view, severity=3, user=STRANGER)[0] == 200
        tid = s.ticket_for(ts)
        assert zendesk.ticket(tid).requester_id == s.default_requester
        description = zendesk.comments(tid)[0].body
        assert "Ext Person" in description and STRANGER in description
        wait_for(lambda: [t for t in s.thread(ts) if "opened" in t], timeout=15)

        # A customer's reply in the thread, delivered twice (a Slack retry).
        assert (
            s.thread_message(
                ts, "Still slow &amp; failing", user=CUSTOMER, event_id="Ev0MSG0001"
            )
            == 200
        )
        comments = wait_for(
            lambda: [c for c in zendesk.comments(tid) if "Still slow" in c.body],
            timeout=15,
        )
        assert len(comments) == 1
        assert comments[0].public and comments[0].author_id == s.customer
        assert comments[0].body == "Still slow & failing"

        # Our own post coming back as an event is dropped (bot_id).
        own = {
            "type": "message",
            "channel": CHANNEL,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": "Still slow",
            "ts": "9.9",
            "thread_ts": ts,
        }
        assert post_event(s.url, own, event_id="Ev0OWN0001")[0] == 200

        # A vendor engineer answering in Slack (an agent in Zendesk): a comment
        # as the agent, and never posted back to the thread.
        vendor_agent = zendesk.add_user(
            role="agent", name="Vera Vendor", email="vera@vendor.example"
        )
        assert (
            s.thread_message(
                ts, "Looking into it from Slack", user=VENDOR, event_id="Ev0MSG0002"
            )
            == 200
        )
        wait_for(
            lambda: [c for c in zendesk.comments(tid) if c.author_id == vendor_agent],
            timeout=15,
        )

        # The agent's first public reply in Zendesk comes to the thread, once.
        zendesk.add_comment(
            tid, s.stack.agent, public=True, body="We found a slow mirror; fixing."
        )
        for _ in range(3):
            s.stack.notify(tid)
        wait_for(lambda: [t for t in s.thread(ts) if "slow mirror" in t], timeout=15)
        time.sleep(1.5)
        thread = s.thread(ts)
        assert sum("slow mirror" in t for t in thread) == 1
        assert not any("Still slow" in t or "Looking into it" in t for t in thread)
        assert len([c for c in zendesk.comments(tid) if "Still slow" in c.body]) == 1
        assert "Agent Smith" in next(t for t in thread if "slow mirror" in t)

        # Solved is announced once.
        zendesk.update_ticket(tid, status="solved")
        s.stack.notify(tid)
        s.stack.notify(tid)
        wait_for(lambda: [t for t in s.thread(ts) if "is solved" in t], timeout=15)
        time.sleep(1.0)
        assert sum("is solved" in t for t in s.thread(ts)) == 1


def test_unmapped_channel_bad_signature_and_stale_timestamp(tmp_path: Path) -> None:
    """🎫 in an unmapped channel → an ephemeral "not connected" only; a bad signature or a stale timestamp → 401 and nothing done."""
    with slack_stack(tmp_path) as s:
        zendesk, slack = s.stack.zendesk, s.slack
        other = slack.add_message(UNMAPPED, user=CUSTOMER, text="help")
        assert s.react(other, channel=UNMAPPED, event_id="Ev0UNMAP01") == 200
        (notice,) = wait_for(lambda: slack.calls("chat.postEphemeral"), timeout=10)
        assert notice.args["channel"] == UNMAPPED and notice.args["user"] == CUSTOMER
        assert "not connected" in notice.args["text"] and not notice.args.get("blocks")

        ts = slack.add_message(CHANNEL, user=CUSTOMER, text="Outage")
        before = len(slack.calls())
        assert s.react(ts, event_id="Ev0FORGED1", secret="not-the-secret") == 401
        assert (
            s.react(ts, event_id="Ev0STALE01", timestamp=int(time.time()) - 301) == 401
        )
        stale = {
            "type": "message",
            "channel": CHANNEL,
            "user": CUSTOMER,
            "text": "x",
            "ts": "5.5",
            "thread_ts": ts,
        }
        assert (
            post_event(
                s.url, stale, event_id="Ev0STALE02", timestamp=int(time.time()) - 400
            )[0]
            == 401
        )
        time.sleep(1.5)
        assert len(slack.calls()) == before
        assert zendesk.calls(method="POST") == []
        assert zendesk.calls(method="PUT") == []
        assert views_opened(slack) == 0
        queued = [
            e
            for e in s.stack.serve.json_logs()
            if "slack" in str(e.get("msg", "")) and "queued" in str(e.get("msg", ""))
        ]
        assert queued == []


def views_opened(slack: FakeSlack) -> int:
    return len(slack.calls("views.open"))


def test_modal_errors_come_back_in_the_answer(tmp_path: Path) -> None:
    """A submission without a severity or subject gets Slack's errors response and queues nothing."""
    with slack_stack(tmp_path) as s:
        ts = s.slack.add_message(CHANNEL, user=CUSTOMER, text="")
        assert s.react(ts, event_id="Ev0EMPTY01") == 200
        view = s.click(s.prompt_value())
        status, answer = s.submit(view, severity=0, subject="  ")
        assert status == 200
        body = json.loads(answer)
        assert body["response_action"] == "errors"
        assert set(body["errors"]) == {SEVERITY_BLOCK, SUBJECT_BLOCK, DESCRIPTION_BLOCK}
        time.sleep(1.0)
        assert s.stack.zendesk.calls(method="POST") == []
        assert view["callback_id"] == MODAL_CALLBACK
