"""Zendesk API calls counted at the strict fake, end to end (issue 10).

The account here is set up the way `sidecar zendesk setup` leaves it: the
trigger has the condition "Current user is not <the sidecar's API user>", so
our own writes fire no trigger webhook ("Current user" is the user who
authenticated the API call: support.zendesk.com 4666931183514), and an
event-subscription webhook, which cannot be filtered, delivers Zendesk's ticket
events for every change, ours included, each naming its ``detail.actor_id``
(the authenticated API user for an API write: "Ticket Comments", Author id).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.fake_zendesk import Call, WriteEvent
from tests.support import post_webhook, wait_for


def event_body(stack: Stack, ticket_id: int, *, name: str, actor_id: int) -> bytes:
    """An event-subscription payload for a ticket change (Zendesk's envelope, ids as strings)."""
    ticket = stack.zendesk.ticket(ticket_id)
    return json.dumps(
        {
            "type": f"zen:event-type:ticket.{name}",
            "account_id": 1,
            "id": str(uuid.uuid4()),
            "time": datetime.now(UTC).isoformat(),
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{ticket_id}",
            "detail": {
                "id": str(ticket_id),
                "actor_id": str(actor_id),
                "updated_at": ticket.updated_at,
                "organization_id": str(ticket.organization_id or ""),
                "status": ticket.status.upper(),
            },
            "event": {},
        }
    ).encode()


def send(stack: Stack, body: bytes, invocation_id: str | None = None) -> int:
    """Deliver one signed webhook; return the HTTP status."""
    return post_webhook(
        stack.serve.url,
        body,
        secret=stack.env["SIDECAR_WEBHOOK_SECRET"],
        invocation_id=invocation_id or f"inv-{uuid.uuid4().hex[:12]}",
    )[0]


def set_up_account_echo(stack: Stack, event: WriteEvent) -> None:
    """What the set-up account sends after an API write (see the module docstring)."""
    if event.resource != "ticket" or not event.changed:
        return
    if event.user_id != stack.zendesk.api_user_id:
        stack.echoes.append((event.id, stack.notify(event.id)[0]))  # the trigger
    for name in ("custom_field_changed", "tags_changed"):
        body = event_body(stack, event.id, name=name, actor_id=event.user_id or 0)
        stack.echoes.append((event.id, send(stack, body)))


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Stack]:
    """A connected sidecar on an account set up as `sidecar zendesk setup` does."""
    with running_stack(tmp_path, echo=set_up_account_echo) as stack:
        warm_up(stack)
        yield stack


def warm_up(stack: Stack) -> None:
    """One event first, so that `users/me` (read once per deployment) is not counted."""
    tid = stack.ticket(severity=None, org=stack.plain_org)
    body = event_body(stack, tid, name="created", actor_id=stack.zendesk.api_user_id)
    assert send(stack, body) == 202
    wait_for(lambda: logged(stack, "own change: nothing to do", tid) >= 1, timeout=15)
    stack.zendesk.reset_calls()


def logged(stack: Stack, message: str, ticket_id: int) -> int:
    """How many log lines of the worker say ``message`` about the ticket."""
    return sum(
        1
        for e in stack.serve.json_logs()
        if e.get("msg") == message and e.get("ticket_id") == ticket_id
    )


def echoes_done(stack: Stack, ticket_id: int, writes: int) -> None:
    """Wait until the two event echoes of each of our ``writes`` were handled."""
    wait_for(
        lambda: logged(stack, "own change: nothing to do", ticket_id) >= 2 * writes,
        timeout=15,
    )


def calls(stack: Stack) -> list[Call]:
    """The calls events cost: all but the minute sweep's export and the dashboard's
    open-ticket counts that follow it (their own budget, tested apart)."""
    return [
        c
        for c in stack.zendesk.calls()
        if "/incremental/" not in c.path and "/search/count" not in c.path
    ]


def kinds(found: list[Call]) -> list[tuple[str, str]]:
    return sorted((c.method, c.path) for c in found)


def test_a_new_sev3_ticket_and_the_echoes_of_our_write_cost_at_most_3_calls(
    account: Stack,
) -> None:
    """Created event + the echoes of our write: one ticket read, one write, nothing else."""
    stack = account
    tid = stack.ticket(severity="sev_3")
    requester = stack.zendesk.ticket(tid).requester_id
    assert (
        send(stack, event_body(stack, tid, name="created", actor_id=requester)) == 202
    )
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    echoes_done(stack, tid, writes=1)
    made = calls(stack)
    assert kinds(made) == [
        ("GET", f"/api/v2/tickets/{tid}.json"),
        ("PUT", f"/api/v2/tickets/{tid}.json"),
    ]
    assert len(made) <= 3


def test_a_redelivered_event_costs_no_call(account: Stack) -> None:
    """Zendesk's retries of a delivery we handled cost nothing, however they come back."""
    stack = account
    # Opened ten minutes ago; its trigger webhook arrives now (late, as after an outage).
    tid = stack.ticket(
        severity="sev_3", created_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    minute = stack.zendesk.ticket(tid).updated_at[:16] + "Z"  # {{..._with_timestamp}}
    trigger = json.dumps(
        {"ticket_id": str(tid), "event": "ticket.changed", "updated_at": minute}
    ).encode()
    assert send(stack, trigger, invocation_id="inv-late") == 202
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    echoes_done(stack, tid, writes=1)
    stack.zendesk.reset_calls()

    # The same invocation again: a duplicate at the door.
    assert send(stack, trigger, invocation_id="inv-late") == 200
    # A new delivery of it (new invocation id, signed anew a second later, so
    # not a replay): the change it announces is older than the version we
    # wrote, so no call either.
    time.sleep(1.1)
    assert send(stack, trigger, invocation_id="inv-late-2") == 202
    wait_for(
        lambda: logged(stack, "change already seen: nothing to do", tid), timeout=15
    )
    assert calls(stack) == []


def test_a_sev1_event_with_page_marker_and_echoes_costs_at_most_4_calls(
    account: Stack,
) -> None:
    """SEV 1: read + due-time write, then the page, its read + marker write; echoes free."""
    stack = account
    tid = stack.ticket(severity="sev_1")
    requester = stack.zendesk.ticket(tid).requester_id
    assert (
        send(stack, event_body(stack, tid, name="created", actor_id=requester)) == 202
    )
    wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(tid).tags, timeout=15)
    echoes_done(stack, tid, writes=2)
    assert len(stack.pagerduty.events) == 1
    made = calls(stack)
    assert len(made) <= 4, kinds(made)
    assert [c.method for c in made].count("PUT") == 2


def test_a_timer_flip_costs_one_read_and_one_write(account: Stack) -> None:
    """At the at-risk instant the timer reads the ticket once and writes the flip once."""
    stack = account
    tid = stack.ticket(severity="sev_4")  # 8 s target: at risk after 6 s
    requester = stack.zendesk.ticket(tid).requester_id
    assert (
        send(stack, event_body(stack, tid, name="created", actor_id=requester)) == 202
    )
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    echoes_done(stack, tid, writes=1)
    stack.zendesk.reset_calls()
    wait_for(lambda: "sla_at_risk" in stack.zendesk.ticket(tid).tags, timeout=15)
    echoes_done(stack, tid, writes=2)
    assert kinds(calls(stack)) == [
        ("GET", f"/api/v2/tickets/{tid}.json"),
        ("PUT", f"/api/v2/tickets/{tid}.json"),
    ]


def test_an_agent_change_after_our_write_is_still_read(account: Stack) -> None:
    """Our echoes are skipped, but an agent's reply right after our write is read and recorded."""
    stack = account
    tid = stack.ticket(severity="sev_3")
    requester = stack.zendesk.ticket(tid).requester_id
    assert (
        send(stack, event_body(stack, tid, name="created", actor_id=requester)) == 202
    )
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    stack.zendesk.add_comment(tid, author_id=stack.agent, body="On it.", public=True)
    body = event_body(stack, tid, name="comment_added", actor_id=stack.agent)
    assert send(stack, body) == 202
    wait_for(lambda: "sla_met" in stack.zendesk.ticket(tid).tags, timeout=15)
