"""End to end against the strict doubles: what the real Zendesk and PagerDuty would do.

Each test here failed (or could not be expressed) against the kinder doubles the
product was first tested with: tags written the way a single-ticket update
honours them, an agent's concurrent tag kept, a resolve under the routing key
that opened the incident, an organization with more open tickets than Search
can list.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROUTING_KEY, Stack, running_stack
from tests.support import post_webhook, sample, wait_for

pytestmark = pytest.mark.e2e

KEY_B = "B0UT1NGKEY0123456789abcdef012345"


def test_status_tags_appear_and_flip_and_no_property_is_ignored(
    stack: Stack,
) -> None:
    """sla_pending appears, flips to sla_met on an agent reply, and Zendesk ignored nothing we sent."""
    tid = stack.ticket(severity="sev_3", tags=["vip"])
    stack.notify(tid)
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    stack.zendesk.add_comment(tid, stack.agent, public=True)
    stack.notify(tid)
    wait_for(lambda: "sla_met" in stack.zendesk.ticket(tid).tags, timeout=15)
    tags = stack.zendesk.ticket(tid).tags
    assert "sla_pending" not in tags and {"vip", "sev_3"} <= tags
    assert stack.zendesk.ignored_properties == []


def test_an_agent_tag_added_between_our_read_and_write_survives(
    stack: Stack,
) -> None:
    """Our write meets a 409 (the agent changed the ticket), re-reads, and keeps the agent's tag."""
    tid = stack.ticket(severity="sev_3")
    # Hold our first write long enough for an agent to edit the ticket meanwhile.
    stack.zendesk.delay(
        1.5, path_contains=f"/tickets/{tid}.json", count=1, method="PUT"
    )
    stack.notify(tid)
    wait_for(lambda: stack.puts(tid), timeout=15)  # logged on arrival, then held
    stack.zendesk.update_ticket(tid, tags={"escalated_by_agent", "sev_3"})
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    assert "escalated_by_agent" in stack.zendesk.ticket(tid).tags
    assert len(stack.puts(tid)) >= 2, "the first write should have met a 409"


def test_a_page_is_resolved_under_the_key_that_opened_it(tmp_path: Path) -> None:
    """The org gets its own routing key after the page: the resolve still reaches the open incident."""
    # Paged while the organization used the default key (no entry in the file).
    text = lambda org: "# no organization overrides yet\n"  # noqa: E731
    with running_stack(
        tmp_path, entitlements=text, extra_routing_keys=(KEY_B,), ORG_KEY_B=KEY_B
    ) as stack:
        tid = stack.ticket(severity="sev_1")
        stack.notify(tid)
        wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(tid).tags, timeout=20)
        (incident,) = stack.pagerduty.open_incidents()
        assert incident.routing_key == ROUTING_KEY
        # The organization moves to a PagerDuty service of its own.
        time.sleep(0.05)  # a distinct modification time
        (tmp_path / "entitlements.toml").write_text(
            f'[orgs."{stack.entitled_org}"]\npagerduty_routing_key = "env:ORG_KEY_B"\n'
        )
        stack.zendesk.update_ticket(tid, status="solved")
        stack.notify(tid)
        wait_for(
            lambda: "oncall_resolved" in stack.zendesk.ticket(tid).tags, timeout=20
        )
        assert stack.pagerduty.open_incidents() == []
        assert stack.pagerduty.dropped_events == []
        assert len(stack.pagerduty.incidents()) == 1
        assert KEY_B not in stack.serve.output()
        assert ROUTING_KEY not in stack.serve.output()


def test_an_organization_with_1500_open_tickets_is_fully_reconciled(
    tmp_path: Path,
) -> None:
    """An organization event reconciles every open ticket of the org, beyond Search's 1,000 cap."""
    # Zendesk's limits, on a 1-second window so the test takes seconds, not minutes.
    options = {"rate_window_seconds": 1.0, "user_ticket_window_seconds": 10.0}
    # The sidecar's own budget on the same 1-second window, with shares near
    # the account's limits: this test is about reaching every ticket, not pacing.
    budget = {
        "SIDECAR_ZENDESK_BUDGET_WINDOW": "1",
        "SIDECAR_ZENDESK_BUDGET_UPDATES": "90",
        "SIDECAR_ZENDESK_BUDGET_REQUESTS": "630",
    }
    # Processes: 1,500 tickets of reads, writes and echoes need more than one
    # interpreter (in one, the GIL makes this test several times slower).
    with running_stack(
        tmp_path, zendesk_options=options, processes=True, **budget
    ) as stack:
        org = stack.plain_org
        tickets = [
            stack.ticket(severity="sev_3", org=org, status="open") for _ in range(1500)
        ]
        closed = stack.ticket(severity="sev_3", org=org, status="closed")
        stack.zendesk.set_org_fields(
            org, {"support_plan": "enterprise", "enterprise_support": True}
        )
        body = json.loads(sample("organization_custom_field_changed")[0])
        body["subject"] = f"zen:organization:{org}"
        body["detail"]["id"] = str(org)
        status, _ = post_webhook(
            stack.serve.url,
            json.dumps(body).encode(),
            secret=stack.env["SIDECAR_WEBHOOK_SECRET"],
            invocation_id="org-1500",
        )
        assert status == 202

        def done() -> bool:
            return all("sla_pending" in stack.zendesk.ticket(t).tags for t in tickets)

        wait_for(done, timeout=150, interval=1.0)
        # Listing, not Search (search/count samples only feed the dashboard).
        assert not stack.zendesk.calls(path_contains="/search.json")
        assert stack.puts(closed) == []
        assert ROUTING_KEY  # the stack's PagerDuty was never needed here
        assert stack.pagerduty.events == []
