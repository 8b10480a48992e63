"""End to end: what the on-call engineer does in PagerDuty comes back to the ticket (issue 22).

The fake PagerDuty holds a V3 webhook subscription to the in-process sidecar
and sends signed webhooks as PagerDuty does (tests/fake_pagerduty.py): after
the page's trigger, and when the test acknowledges, annotates, reassigns or
resolves the incident there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.fake_pagerduty import INTEGRATION_AGENT, Incident, sign_v1, webhook_body
from tests.support import http, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A connected sidecar that PagerDuty sends its webhooks to."""
    with running_stack(tmp_path, pagerduty_webhooks=True) as running:
        yield running


def dedup(ticket_id: int) -> str:
    return f"zendesk-acme-ticket-{ticket_id}"


def paged(stack: Stack, severity: str = "sev_1") -> int:
    """A ticket that paged, whose incident.triggered webhook the sidecar took."""
    tid = stack.ticket(severity=severity, subject="Pushes fail")
    stack.notify(tid)
    wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(tid).tags, timeout=20)
    wait_for(
        lambda: any(
            d.event["event_type"] == "incident.triggered" and d.status == 200
            for d in stack.pagerduty.deliveries
        )
    )
    return tid


def notes(stack: Stack, ticket_id: int, text: str) -> list[str]:
    """The ticket's private notes that contain ``text``."""
    return [
        c.body
        for c in stack.zendesk.comments(ticket_id)
        if not c.public and text in c.body
    ]


def post(stack: Stack, body: bytes, signature: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    status, _, answer = http(
        "POST", stack.serve.url + "/webhooks/pagerduty", body=body, headers=headers
    )
    return status, json.loads(answer)


def test_acknowledge_is_one_note_and_the_tag_and_a_redelivery_changes_nothing(
    stack: Stack,
) -> None:
    """An acknowledge in PagerDuty: one private note (who, when), oncall_acked; the same delivery again is a duplicate."""
    tid = paged(stack)
    (delivery,) = stack.pagerduty.acknowledge(dedup(tid), by="Dana Oncall")
    assert delivery.status == 202, delivery.answer
    wait_for(lambda: "oncall_acked" in stack.zendesk.ticket(tid).tags, timeout=10)
    (note,) = notes(stack, tid, "On-call acknowledged")
    assert "Dana Oncall" in note and "UTC" in note and "incident #1" in note
    writes = len(stack.puts(tid))
    again = stack.pagerduty.redeliver(delivery)
    assert again.status == 200 and json.loads(again.answer) == {"status": "duplicate"}
    time.sleep(1.0)
    assert len(notes(stack, tid, "On-call acknowledged")) == 1
    assert len(stack.puts(tid)) == writes
    # The sidecar's own trigger came back as incident.triggered: noted, no note.
    assert notes(stack, tid, "triggered") == []


def test_resolve_in_pagerduty_is_a_note_and_the_ticket_stays_open(
    stack: Stack,
) -> None:
    """Resolved in PagerDuty: a note, the tag gone, the ticket not solved."""
    tid = paged(stack)
    stack.pagerduty.acknowledge(dedup(tid))
    wait_for(lambda: "oncall_acked" in stack.zendesk.ticket(tid).tags, timeout=10)
    (delivery,) = stack.pagerduty.resolve_incident(dedup(tid), by="Dana Oncall")
    assert delivery.status == 202
    wait_for(lambda: notes(stack, tid, "resolved in PagerDuty"), timeout=10)
    ticket = stack.zendesk.ticket(tid)
    assert "oncall_acked" not in ticket.tags
    assert ticket.status not in {"solved", "closed"}
    (note,) = notes(stack, tid, "resolved in PagerDuty")
    assert "by Dana Oncall" in note and "stays open" in note


def test_notes_and_reassignment_come_back(stack: Stack) -> None:
    """A note on the incident (named by id only) and a reassignment each become a private note."""
    tid = paged(stack)
    stack.pagerduty.annotate(dedup(tid), "Rolling back deploy 4411", by="Dana Oncall")
    stack.pagerduty.reassign(dedup(tid), to=["Sam Second"], by="Dana Oncall")
    wait_for(lambda: notes(stack, tid, "Rolling back deploy 4411"), timeout=10)
    wait_for(lambda: notes(stack, tid, "reassigned to Sam Second"), timeout=10)
    assert "oncall_acked" not in stack.zendesk.ticket(tid).tags


def test_forged_missing_and_stale_signatures_are_refused(stack: Stack) -> None:
    """401 with a JSON reason for a wrong secret, no signature, or an event older than the window."""
    tid = paged(stack)
    incident = stack.pagerduty.incident_for(dedup(tid))
    secret = stack.env["SIDECAR_PAGERDUTY_WEBHOOK_SECRET"]
    body = webhook_body("incident.acknowledged", incident, agent=INTEGRATION_AGENT)
    status, answer = post(stack, body, sign_v1(body, "not-the-secret"))
    assert (status, answer) == (401, {"error": "signature does not match"})
    status, answer = post(stack, body, None)
    assert status == 401 and "missing X-PagerDuty-Signature" in answer["error"]
    old = webhook_body(
        "incident.acknowledged",
        incident,
        agent=INTEGRATION_AGENT,
        occurred_at=datetime.now(UTC) - timedelta(hours=2),
    )
    status, answer = post(stack, old, sign_v1(old, secret))
    assert status == 401 and "a replay?" in answer["error"]
    time.sleep(0.5)
    assert "oncall_acked" not in stack.zendesk.ticket(tid).tags
    assert notes(stack, tid, "On-call acknowledged") == []


def test_a_rotation_signs_twice_and_one_match_is_enough(stack: Stack) -> None:
    """During a rotation PagerDuty signs with old and new secret; the old one still verifies."""
    assert stack.subscription is not None
    tid = paged(stack)
    stack.pagerduty.rotate_secret(stack.subscription)
    (delivery,) = stack.pagerduty.acknowledge(dedup(tid))
    assert delivery.headers["X-PagerDuty-Signature"].count("v1=") == 2
    assert delivery.status == 202


def test_an_incident_the_sidecar_did_not_open_is_ignored(stack: Stack) -> None:
    """A signed event for another integration's incident: 200 ignored, a log line, nothing written."""
    other = Incident(routing_key="x" * 32, dedup_key="nagios-disk-full", id="QOTHER")
    body = webhook_body("incident.acknowledged", other, agent=INTEGRATION_AGENT)
    secret = stack.env["SIDECAR_PAGERDUTY_WEBHOOK_SECRET"]
    status, answer = post(stack, body, sign_v1(body, secret))
    assert (status, answer) == (200, {"status": "ignored"})
    line = stack.serve.wait_for_log(
        lambda e: (
            e.get("msg") == "pagerduty webhook ignored"
            and e.get("incident_id") == "QOTHER"
        )
    )
    assert "not opened by the sidecar" in line["reason"]


def test_the_sidecars_own_resolve_on_solve_adds_no_note(stack: Stack) -> None:
    """Solved → the sidecar resolves the incident; PagerDuty's incident.resolved for it writes nothing new."""
    tid = paged(stack)
    stack.pagerduty.acknowledge(dedup(tid))
    wait_for(lambda: "oncall_acked" in stack.zendesk.ticket(tid).tags, timeout=10)
    stack.zendesk.update_ticket(tid, status="solved")
    stack.notify(tid)
    wait_for(lambda: "oncall_resolved" in stack.zendesk.ticket(tid).tags, timeout=20)
    wait_for(
        lambda: any(
            d.event["event_type"] == "incident.resolved" and d.status == 202
            for d in stack.pagerduty.deliveries
        ),
        timeout=10,
    )
    wait_for(lambda: "oncall_acked" not in stack.zendesk.ticket(tid).tags, timeout=10)
    assert notes(stack, tid, "resolved in PagerDuty") == []
    assert stack.zendesk.ticket(tid).status == "solved"
