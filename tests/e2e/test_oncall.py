"""End to end: SEV 1/2 tickets of Enterprise Support orgs page on-call, once, through real `sidecar serve`."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ROUTING_KEY,
    SEVERITY_FIELD,
    Stack,
    handled_in,
    running_stack,
)
from tests.fake_pagerduty import FakeSlack
from tests.support import http, redis_queue_url, start_worker, wait_for

pytestmark = pytest.mark.e2e


def paged(stack: Stack, ticket_id: int) -> None:
    """Wait until the ticket carries the oncall_paged tag."""
    wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(ticket_id).tags, timeout=20)


def dedup(ticket_id: int) -> str:
    return f"zendesk-acme-ticket-{ticket_id}"


def test_sev1_of_an_entitled_org_pages_once_with_the_details(stack: Stack) -> None:
    """One trigger event with the summary, severity, details and link; the ticket records it with a tag and one private note."""
    # A dropdown's value is its option's tag (the title only shows in the UI).
    tid = stack.ticket(severity="sev_1", subject="Pushes fail")
    stack.notify(tid)
    paged(stack, tid)
    (event,) = stack.pagerduty.triggers()
    payload = event["payload"]
    assert event["dedup_key"] == dedup(tid)
    assert event["routing_key"] == ROUTING_KEY
    assert payload["summary"] == "[SEV 1] Acme Corp: Pushes fail"
    assert payload["severity"] == "critical"
    details = payload["custom_details"]
    assert details["severity"] == "SEV 1"
    assert details["organization"] == "Acme Corp"
    assert details["ticket_url"].endswith(f"/agent/tickets/{tid}")
    assert (
        details["first_response_due"] == stack.zendesk.ticket(tid).custom_fields[360002]
    )
    assert event["links"][0]["href"] == details["ticket_url"]
    notes = [c for c in stack.zendesk.comments(tid) if not c.public]
    assert len(notes) == 1
    assert "On-call paged through PagerDuty" in notes[0].body
    assert ROUTING_KEY not in notes[0].body
    # The note and tag fire webhooks too; none of them pages again.
    # (An echo may be skipped as already seen when the next write came first.)
    wait_for(lambda: len(stack.handled(tid)) >= 3, timeout=15)
    assert len(stack.pagerduty.triggers()) == 1


def test_sev2_pages_with_error_severity(stack: Stack) -> None:
    """SEV 2 pages with PagerDuty severity "error"."""
    tid = stack.ticket(severity="sev_2")
    stack.notify(tid)
    paged(stack, tid)
    assert [e["payload"]["severity"] for e in stack.pagerduty.triggers()] == ["error"]


def test_same_event_three_times_pages_once(stack: Stack) -> None:
    """Three deliveries of the event (new invocation ids each) page once.

    The same body signed at the same second is a replay (200 duplicate); the
    first delivery is always queued."""
    tid = stack.ticket(severity="sev_1")
    statuses = [stack.notify(tid)[0] for _ in range(3)]
    assert statuses[0] == 202 and set(statuses) <= {200, 202}
    paged(stack, tid)
    wait_for(lambda: len(stack.reconciles(tid)) >= 1 + statuses.count(202), timeout=15)
    assert len(stack.pagerduty.triggers()) == 1


def test_not_entitled_and_sev3_never_page(stack: Stack) -> None:
    """SEV 1 at an org without Enterprise Support, and SEV 3 at one with it, page no one."""
    plain = stack.ticket(severity="sev_1", org=stack.plain_org)
    sev3 = stack.ticket(severity="sev_3")
    stack.notify(plain)
    stack.notify(sev3)
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(sev3).tags, timeout=15)
    wait_for(lambda: stack.reconciles(plain), timeout=15)
    assert stack.pagerduty.events == []
    assert "oncall_paged" not in stack.zendesk.ticket(plain).tags


def test_solved_ticket_resolves_the_incident(stack: Stack) -> None:
    """Solving a paged ticket sends resolve with the same dedup key, once."""
    tid = stack.ticket(severity="sev_1")
    stack.notify(tid)
    paged(stack, tid)
    stack.zendesk.update_ticket(tid, status="solved")
    stack.notify(tid)
    wait_for(lambda: "oncall_resolved" in stack.zendesk.ticket(tid).tags, timeout=20)
    assert [e["dedup_key"] for e in stack.pagerduty.resolves()] == [dedup(tid)]


def test_severity_bounce_does_not_page_twice(stack: Stack) -> None:
    """SEV 1 -> 3 -> 1 pages only the first time."""
    tid = stack.ticket(severity="sev_1")
    stack.notify(tid)
    paged(stack, tid)
    for severity in ("sev_3", "sev_1"):
        stack.zendesk.update_ticket(tid, custom_fields={SEVERITY_FIELD: severity})
        sent = datetime.now(UTC)
        stack.notify(tid)

    def settled_after_last_change() -> bool:
        # A reconcile that started after the last delivery read the final state
        # (changes that arrive while one waits collapse into it, so counting
        # log lines would depend on timing).
        return any(
            e.get("msg") == "reconciled"
            and datetime.fromisoformat(e["ts"]) > sent
            and e.get("severity") == 1
            for e in stack.handled(tid)
        )

    wait_for(settled_after_last_change, timeout=15)
    assert len(stack.pagerduty.triggers()) == 1


def test_pagerduty_down_delays_the_page_not_the_due_time(stack: Stack) -> None:
    """PagerDuty answering 503 five times: the due time is written at once, the page arrives after retries."""
    stack.pagerduty.fail_next(5, 503)
    tid = stack.ticket(severity="sev_1")
    stack.notify(tid)
    wait_for(lambda: stack.zendesk.ticket(tid).custom_fields.get(360002), timeout=10)
    assert stack.pagerduty.triggers() == []  # the write did not wait for the page
    paged(stack, tid)
    assert len(stack.pagerduty.triggers()) == 1
    assert stack.pagerduty.request_count == 6


def test_invalid_routing_key_is_loud(tmp_path: Path) -> None:
    """A routing key PagerDuty rejects (400) dead-letters the page: `sidecar jobs failed` and /metrics show it."""
    bad_key = "X" * 32
    text = lambda org: f'[orgs."{org}"]\npagerduty_routing_key = "env:ORG_PD_KEY"\n'  # noqa: E731
    with running_stack(tmp_path, entitlements=text, ORG_PD_KEY=bad_key) as stack:
        tid = stack.ticket(severity="sev_1")
        stack.notify(tid)
        stack.serve.wait_for_log(
            lambda e: e.get("msg", "").startswith("escalate dead-lettered"), timeout=20
        )
        failed = subprocess.run(
            [
                sys.executable,
                "-c",
                "from sidecar.cli import main; main()",
                "jobs",
                "failed",
            ],
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        assert f"escalate ticket {tid}" in failed.stdout
        assert bad_key not in failed.stdout + stack.serve.output()
        _, _, metrics = http("GET", stack.serve.url + "/metrics")
        assert b"sidecar_dead_letter_jobs 1.0" in metrics
        assert "oncall_paged" not in stack.zendesk.ticket(tid).tags


def test_slack_notice_and_csm_follower(tmp_path: Path) -> None:
    """The org's Slack channel hears of a SEV 1 once, and its CSM follows the ticket from the first write."""
    with FakeSlack() as slack:
        url = slack.webhook_url()

        def text(org: int) -> str:
            return (
                f'[orgs."{org}"]\nslack_webhook_url = "env:ORG_SLACK_URL"\n'
                "csm_user_id = 4242\n"
            )

        with running_stack(tmp_path, entitlements=text, ORG_SLACK_URL=url) as stack:
            tid = stack.ticket(severity="sev_1")
            stack.notify(tid)
            paged(stack, tid)
            first_write = stack.puts(tid)[0].json["ticket"]
            assert first_write["followers"] == [{"user_id": 4242, "action": "put"}]
            assert "custom_fields" in first_write
            wait_for(lambda: slack.posts, timeout=10)
            # (An echo may be skipped as already seen when the next write came first.)
            wait_for(lambda: len(stack.handled(tid)) >= 3, timeout=15)
            ((_, body),) = slack.posts
            assert body["text"].startswith("[SEV 1] Acme Corp:")


def test_two_workers_on_redis_page_once(tmp_path: Path) -> None:
    """With the Redis queue, `sidecar serve` plus a second worker process racing on the same tickets page each once."""
    with (
        redis_queue_url() as url,
        running_stack(tmp_path, SIDECAR_QUEUE_URL=url) as stack,
        start_worker(stack.env, workers=4, cwd=tmp_path) as extra,
    ):
        tickets = [stack.ticket(severity="sev_1") for _ in range(4)]
        with ThreadPoolExecutor(8) as pool:
            # Three distinct deliveries per ticket (distinct bodies: the same
            # signed body twice would be dropped as a replay).
            deliveries = [(t, n) for n in range(3) for t in tickets]
            list(
                pool.map(
                    lambda d: stack.notify(d[0], event=f"ticket.changed.{d[1]}"),
                    deliveries,
                )
            )
        for tid in tickets:
            paged(stack, tid)

        def handled(tid: int) -> int:
            # Jobs land on either worker process: count both.
            return len(stack.handled(tid)) + len(handled_in(extra.json_logs(), tid))

        # The three deliveries of each ticket have all been handled (read, or
        # skipped as provably known when another job of the ticket ran first).
        wait_for(lambda: all(handled(t) >= 3 for t in tickets), timeout=15)
        assert any(e.get("msg") == "reconciled" for e in extra.json_logs())
        triggers = stack.pagerduty.triggers()
        assert sorted(e["dedup_key"] for e in triggers) == sorted(
            dedup(t) for t in tickets
        )
        for tid in tickets:
            notes = [c for c in stack.zendesk.comments(tid) if not c.public]
            assert len(notes) == 1
