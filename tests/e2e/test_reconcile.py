"""End to end: signed webhooks through real `sidecar serve` to ticket writes in a fake Zendesk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.sla import first_response_due, format_utc
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    DUE_DATE_FIELD,
    SEVERITY_FIELD,
    Stack,
    running_stack,
)
from tests.support import http, post_webhook, sample, wait_for

pytestmark = pytest.mark.e2e


def settle(stack: Stack, ticket_id: int, *, reconciles: int) -> None:
    """Wait until the worker has logged at least ``reconciles`` reconciles of the ticket."""
    wait_for(lambda: len(stack.reconciles(ticket_id)) >= reconciles, timeout=15)


def test_sev3_webhook_writes_the_due_time_once(stack: Stack) -> None:
    """A SEV 3 ticket of an entitled org gets one PUT with its due time; the echo of that PUT writes nothing."""
    tid = stack.ticket(severity="sev_3")
    created = datetime.fromisoformat(stack.zendesk.ticket(tid).created_at)
    assert stack.notify(tid) == (202, {"status": "queued"})
    settle(stack, tid, reconciles=2)  # ours, then the echo of our own write
    (put,) = stack.puts(tid)
    body = put.json["ticket"]
    due = first_response_due(created, 3, _fast_policy(stack))
    assert body["safe_update"] is True
    assert {"id": DUE_AT_FIELD, "value": format_utc(due)} in body["custom_fields"]
    assert {"id": DUE_DATE_FIELD, "value": due.date().isoformat()} in body[
        "custom_fields"
    ]
    # The complete tag list (a single-ticket update replaces the tags), never
    # additional_tags, which that endpoint ignores.
    assert body["tags"] == ["sev_3", "sla_pending"] or body["tags"] == ["sla_pending"]
    assert "additional_tags" not in body and "remove_tags" not in body
    echo = stack.reconciles(tid)[-1]
    assert echo["wrote"] is False and echo["diff"] == {}
    ticket = stack.zendesk.ticket(tid)
    assert "sla_pending" in ticket.tags
    assert ticket.custom_fields[SEVERITY_FIELD] == "sev_3"


def test_duplicate_deliveries_lead_to_one_put(stack: Stack) -> None:
    """Three deliveries of one invocation make one reconcile and exactly one PUT."""
    tid = stack.ticket(severity="sev_3")
    statuses = [
        stack.notify(tid, invocation_id="same-invocation")[1]["status"]
        for _ in range(3)
    ]
    assert statuses == ["queued", "duplicate", "duplicate"]
    settle(stack, tid, reconciles=2)  # the delivery, then the echo of our write
    assert len(stack.puts(tid)) == 1


def test_racing_events_change_the_ticket_once(stack: Stack) -> None:
    """Distinct events reconciled at once change the ticket once; a stale write gets 409 and re-reads."""
    tid = stack.ticket(severity="sev_3")
    for n in range(3):
        # Distinct events (distinct bodies): the same signed body twice is a replay.
        stack.notify(tid, event=f"ticket.changed.{n}")
    # Three events and at least the echo, each read or skipped as provably
    # known (an event whose job starts after another one's write is skipped).
    wait_for(lambda: len(stack.handled(tid)) >= 4, timeout=15)
    changing_writes = [t for t, _ in stack.echoes if t == tid]
    assert changing_writes == [tid]
    assert [e for e in stack.reconciles(tid) if e["wrote"]] and all(
        not e["diff"] for e in stack.reconciles(tid) if not e["wrote"]
    )


def test_agent_reply_flips_status_to_met(stack: Stack) -> None:
    """A public agent reply turns sla_pending into sla_met."""
    tid = stack.ticket(severity="sev_3")
    stack.notify(tid)
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)
    stack.zendesk.add_comment(tid, stack.agent, public=True)
    stack.notify(tid)
    wait_for(lambda: "sla_met" in stack.zendesk.ticket(tid).tags, timeout=15)
    assert "sla_pending" not in stack.zendesk.ticket(tid).tags


def test_untouched_ticket_flips_to_at_risk_then_breached_on_time(stack: Stack) -> None:
    """With an 8 s target, timers flip the tags at 6 s (at risk) and 8 s (breached) without any webhook."""
    tid = stack.ticket(severity="sev_4")
    created = datetime.fromisoformat(stack.zendesk.ticket(tid).created_at)
    stack.notify(tid)
    wait_for(lambda: "sla_at_risk" in stack.zendesk.ticket(tid).tags, timeout=15)
    at_risk_seen = datetime.now(UTC)
    wait_for(lambda: "sla_breached" in stack.zendesk.ticket(tid).tags, timeout=15)
    breached_seen = datetime.now(UTC)
    tags = stack.zendesk.ticket(tid).tags
    assert "sla_at_risk" not in tags and "sla_pending" not in tags
    # Never early; late by at most the scheduler's one-second tick, a worker's
    # poll and a reconcile.
    at_risk_at = created + timedelta(seconds=6)
    due_at = created + timedelta(seconds=8)
    assert at_risk_at <= at_risk_seen < at_risk_at + timedelta(seconds=2)
    assert due_at <= breached_seen < due_at + timedelta(seconds=2)


def test_not_entitled_org_gets_nothing(stack: Stack) -> None:
    """A ticket of an org without Enterprise Support is read, and never written."""
    tid = stack.ticket(severity="sev_1", org=stack.plain_org)
    stack.notify(tid)
    settle(stack, tid, reconciles=1)
    assert stack.puts(tid) == []
    assert stack.pagerduty.events == []


def test_rate_limit_storm_and_server_errors_delay_but_lose_nothing(
    stack: Stack,
) -> None:
    """429s with Retry-After and a run of 503s only delay the writes; every ticket is written once."""
    tickets = [stack.ticket(severity="sev_3") for _ in range(3)]
    stack.zendesk.fail_next(4, 429, retry_after=1, path_contains="/tickets/")
    stack.zendesk.fail_next(4, 503, path_contains="/tickets/")
    for tid in tickets:
        assert stack.notify(tid)[0] == 202
    for tid in tickets:
        wait_for(
            lambda tid=tid: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=30
        )
    for tid in tickets:
        assert len(stack.puts(tid)) == 1 or all(
            "sla_pending" in p.json["ticket"].get("tags", []) for p in stack.puts(tid)
        )
    retried = [e for e in stack.serve.json_logs() if "retrying" in e.get("msg", "")]
    assert retried, "the faults were never hit"
    assert stack.serve.json_logs() and not [
        e for e in stack.serve.json_logs() if "dead-lettered" in e.get("msg", "")
    ]


def test_api_calls_per_event(stack: Stack) -> None:
    """One event costs one ticket read and one write; its echo one read (issue 10).

    The new ticket has only its description (the sideloaded comment count), so
    no comment read; the echo finds the exact version our write produced, so it
    reads no comments and writes nothing. The organization comes with the ticket.
    """
    tid = stack.ticket(severity="sev_3")
    stack.zendesk.reset_calls()
    stack.notify(tid)
    settle(stack, tid, reconciles=2)
    calls = stack.zendesk.calls()
    ticket_reads = [
        c
        for c in calls
        if c.method == "GET" and c.path.endswith(f"/tickets/{tid}.json")
    ]
    comment_reads = [c for c in calls if c.method == "GET" and "/comments" in c.path]
    writes = [c for c in calls if c.method == "PUT"]
    org_reads = [c for c in calls if "/organizations/" in c.path]
    assert (len(ticket_reads), len(comment_reads), len(writes)) == (2, 0, 1)
    assert org_reads == []  # sideloaded with the ticket


def test_organization_event_makes_a_new_entitlement_count_at_once(stack: Stack) -> None:
    """An admin turning on Enterprise Support gives the org's open tickets their SLA at once, despite the org cache."""
    tid = stack.ticket(severity="sev_3", org=stack.plain_org)
    stack.notify(tid)
    settle(stack, tid, reconciles=1)
    assert stack.puts(tid) == []
    stack.zendesk.set_org_fields(
        stack.plain_org, {"support_plan": "ultra", "enterprise_support": True}
    )
    body = json.loads(sample("organization_custom_field_changed")[0])
    body["subject"] = f"zen:organization:{stack.plain_org}"
    body["detail"]["id"] = str(stack.plain_org)
    status, answer = post_webhook(
        stack.serve.url, body, secret=stack.env["SIDECAR_WEBHOOK_SECRET"]
    )
    assert (status, answer) == (202, {"status": "accepted"})
    # No ticket event: the organization event alone reconciles its open tickets.
    wait_for(lambda: "sla_pending" in stack.zendesk.ticket(tid).tags, timeout=15)


def test_dry_run_logs_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    """Shadow mode reads and computes, logs the exact diff, and never writes or pages."""
    with running_stack(tmp_path, SIDECAR_DRY_RUN="1") as stack:
        tid = stack.ticket(severity="sev_1")
        stack.notify(tid)
        settle(stack, tid, reconciles=1)
        (logged,) = stack.reconciles(tid)
        assert logged["dry_run"] is True and logged["wrote"] is False
        assert logged["diff"]["tags_added"] == ["sla_pending"]
        assert str(DUE_AT_FIELD) in logged["diff"]["custom_fields"]
        assert stack.puts(tid) == []
        assert stack.pagerduty.events == []


def test_rejected_credentials_turn_readyz_red(tmp_path: Path) -> None:
    """When Zendesk answers 401, the job is dead-lettered and /readyz answers 503."""
    with running_stack(tmp_path, SIDECAR_ZENDESK_API_TOKEN="wrong-token") as stack:
        assert http("GET", stack.serve.url + "/readyz")[0] == 200
        tid = stack.ticket(severity="sev_3")
        stack.notify(tid)
        stack.serve.wait_for_log(
            lambda e: e.get("msg", "").startswith("reconcile dead-lettered"), timeout=15
        )
        status, _, body = http("GET", stack.serve.url + "/readyz")
        assert status == 503 and b"rejected our credentials" in body
        assert "wrong-token" not in stack.serve.output()


def _fast_policy(stack: Stack):  # type: ignore[no-untyped-def]
    from sidecar.sla import load_policy

    return load_policy(stack.env["SIDECAR_POLICY_FILE"])
