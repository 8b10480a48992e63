"""End to end, in process: an agent pages on-call from a ticket with the "Page on-call" macro."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.domain.page_request import PAGE_REQUEST_TAG
from sidecar.zendesk.setup import MACRO_PAGE_ACTIONS
from tests.e2e.conftest import (
    ROUTING_KEY,
    SEVERITY_FIELD,
    Stack,
    connected_env,
    running_stack,
)
from tests.e2e.test_crash_paging import _notify
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.support import start_gunicorn, start_worker, wait_for

pytestmark = pytest.mark.e2e

REASON = "checkout returns 500 for every EU customer since 14:00"


def page_from_ticket(stack: Stack, tid: int, reason: str = REASON) -> None:
    """The agent applies the macro setup creates, types the reason, submits; Zendesk's trigger fires."""
    stack.zendesk.apply_macro(tid, stack.agent, MACRO_PAGE_ACTIONS, typed=reason)
    stack.notify(tid)


def answered(stack: Stack, tid: int) -> None:
    """Wait until the request tag is gone (the page recorded, or the note written)."""
    wait_for(lambda: PAGE_REQUEST_TAG not in stack.zendesk.ticket(tid).tags, timeout=20)


def notes(stack: Stack, tid: int) -> list[str]:
    return [c.body for c in stack.zendesk.comments(tid) if not c.public]


def test_agent_pages_a_sev3_of_an_entitled_org_once_with_name_and_reason(
    stack: Stack,
) -> None:
    """One trigger naming the agent and the reason; the tag gone with the record; echoes page no one."""
    tid = stack.ticket(severity="sev_3", subject="Checkout broken")
    page_from_ticket(stack, tid)
    answered(stack, tid)
    ticket = stack.zendesk.ticket(tid)
    assert "oncall_paged" in ticket.tags
    (event,) = stack.pagerduty.triggers()
    payload = event["payload"]
    assert payload["summary"] == (
        "[SEV 3] Acme Corp: Checkout broken (paged by Agent Smith)"
    )
    assert payload["severity"] == "error"  # an agent's page of a SEV 3 is urgent
    assert payload["custom_details"]["paged_by"] == "Agent Smith"
    assert payload["custom_details"]["paging_reason"] == REASON
    # The record is one write: oncall_paged added and the request tag removed
    # together, with the note that names who asked and why.
    (record,) = [
        p
        for p in stack.puts(tid)
        if "oncall_paged" in (p.json["ticket"].get("tags") or ())
    ]
    assert PAGE_REQUEST_TAG not in record.json["ticket"]["tags"]
    recorded = [n for n in notes(stack, tid) if "On-call paged" in n]
    assert len(recorded) == 1
    assert "at the request of Agent Smith" in recorded[0] and REASON in recorded[0]
    # A redelivery and the echoes of our own writes page no one again.
    stack.notify(tid)
    wait_for(lambda: len(stack.handled(tid)) >= 3, timeout=15)
    assert len(stack.pagerduty.triggers()) == 1


def test_not_entitled_org_gets_a_note_and_no_page(stack: Stack) -> None:
    """Default policy: no page; one private note says why; the tag removed."""
    tid = stack.ticket(severity="sev_3", org=stack.plain_org)
    page_from_ticket(stack, tid)
    answered(stack, tid)
    refused = [n for n in notes(stack, tid) if "NOT paged" in n]
    assert len(refused) == 1
    assert "Small Shop does not hold Enterprise Support" in refused[0]
    assert REASON in refused[0]
    stack.notify(tid)
    wait_for(lambda: len(stack.handled(tid)) >= 2, timeout=15)
    assert stack.pagerduty.events == []
    assert "oncall_paged" not in stack.zendesk.ticket(tid).tags


@pytest.fixture
def any_org_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose policy lets agents page for any organization."""
    with running_stack(tmp_path, SIDECAR_PAGE_REQUEST_ANY_ORG="true") as running:
        yield running


def test_any_org_policy_pages_a_not_entitled_org(any_org_stack: Stack) -> None:
    """With SIDECAR_PAGE_REQUEST_ANY_ORG=true the same request pages, once."""
    stack = any_org_stack
    tid = stack.ticket(severity="sev_4", org=stack.plain_org)
    page_from_ticket(stack, tid)
    answered(stack, tid)
    (event,) = stack.pagerduty.triggers()
    assert event["payload"]["custom_details"]["paging_reason"] == REASON


def test_failed_record_and_redeliveries_do_not_page_twice(stack: Stack) -> None:
    """The page is out, the ticket writes fail for a while, webhooks arrive again: one trigger."""
    tid = stack.ticket(severity="sev_3")
    stack.zendesk.fail_next(4, 503, method="PUT", path_contains=f"/tickets/{tid}")
    page_from_ticket(stack, tid)
    for _ in range(3):
        stack.notify(tid)
    answered(stack, tid)
    assert "oncall_paged" in stack.zendesk.ticket(tid).tags
    assert len(stack.pagerduty.triggers()) == 1
    assert len([n for n in notes(stack, tid) if "On-call paged" in n]) == 1


def test_sigkill_during_an_agents_page_still_pages_once(tmp_path: Path) -> None:
    """The macro's page in flight, the worker SIGKILLed, restarted, webhooks again: one incident, one record, the tag gone."""
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        agent = zendesk.add_user(role="agent", name="Agent Smith")
        tid = zendesk.add_ticket(
            organization_id=org, custom_fields={SEVERITY_FIELD: "sev_3"}
        )
        zendesk.apply_macro(tid, agent, MACRO_PAGE_ACTIONS, typed=REASON)
        env = connected_env(tmp_path, zendesk, pagerduty)
        pagerduty.delay(3.0)
        with start_gunicorn(env, cwd=tmp_path) as web:
            with start_worker(env, cwd=tmp_path) as worker:
                _notify(web.url, env, tid, 1)
                # The trigger is in flight at PagerDuty: kill the worker now.
                wait_for(lambda: pagerduty.request_count >= 1, timeout=15)
                worker.stop(sig=signal.SIGKILL)
            pagerduty.delay(0)
            with start_worker(env, cwd=tmp_path):
                for n in range(2, 5):
                    _notify(web.url, env, tid, n)
                wait_for(
                    lambda: PAGE_REQUEST_TAG not in zendesk.ticket(tid).tags,
                    timeout=45,
                )
        assert "oncall_paged" in zendesk.ticket(tid).tags
        recorded = [c.body for c in zendesk.comments(tid) if "On-call paged" in c.body]
        assert len(recorded) == 1 and REASON in recorded[0]
        assert len(pagerduty.incidents()) == 1, "one incident, however many triggers"
        assert {
            e["payload"]["custom_details"]["paging_reason"]
            for e in pagerduty.triggers()
        } == {REASON}
        assert zendesk.errors == []
