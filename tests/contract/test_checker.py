"""The contract checker itself: it accepts documented requests and names every violation.

Without these, a checker that accepted everything would make the contract
tests pass for nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import sidecar.zendesk.client as client_module
from sidecar.config import Secret
from sidecar.domain.models import TicketUpdate
from sidecar.zendesk.client import ZendeskClient
from tests.contract import pagerduty_events
from tests.contract.checker import (
    ALL_OPERATIONS,
    Captured,
    find_operation,
    pagerduty_violations,
    zendesk_violations,
)
from tests.contract.zendesk_double import BASE, STAMP, ContractZendesk

JSON = {"Content-Type": "application/json"}


def zd(method: str, path: str, body: Any = None) -> Captured:
    return Captured(
        method,
        BASE + path,
        dict(JSON) if body is not None else {},
        None if body is None else json.dumps(body).encode(),
    )


def safe(**ticket: Any) -> dict[str, Any]:
    return {"ticket": {"safe_update": True, "updated_stamp": STAMP, **ticket}}


# --- the fragments ----------------------------------------------------------------


def test_every_fragment_is_a_valid_json_schema() -> None:
    for op in ALL_OPERATIONS:
        for schema in (op.query, op.body, op.response, *op.path_params.values()):
            if schema is not None:
                Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(pagerduty_events.EVENT)


def test_every_operation_is_unique_and_cites_its_source() -> None:
    keys = [(op.method, op.path) for op in ALL_OPERATIONS]
    assert len(keys) == len(set(keys))
    assert all(op.source for op in ALL_OPERATIONS)


def test_a_literal_segment_wins_over_a_path_parameter() -> None:
    op, _ = find_operation("GET", "/api/v2/organizations/search.json")
    assert op is not None and op.name == "SearchOrganizations"
    op, params = find_operation("GET", "/api/v2/organizations/7.json")
    assert (
        op is not None
        and op.name == "ShowOrganization"
        and params == {"organization_id": "7"}
    )


# --- Zendesk ------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        zd("GET", "/api/v2/tickets/42.json"),
        zd("GET", "/api/v2/tickets/42"),
        zd("GET", "/api/v2/tickets/42/comments.json?include=users"),
        zd("GET", "/api/v2/organizations.json?page%5Bsize%5D=100&page%5Bafter%5D=abc"),
        zd("GET", "/api/v2/incremental/tickets/cursor.json?start_time=1714550000"),
        zd(
            "PUT",
            "/api/v2/tickets/42.json",
            safe(tags=["a", "b"], comment={"body": "n", "public": False}),
        ),
        zd(
            "PUT",
            "/api/v2/tickets/42.json",
            {"ticket": {"comment": {"body": "hi", "author_id": 5}}},
        ),
        zd(
            "PUT",
            "/api/v2/organizations/7.json",
            {"organization": {"organization_fields": {"plan": "x"}}},
        ),
    ],
    ids=lambda r: f"{r.method} {r.url.removeprefix(BASE)}",
)
def test_documented_zendesk_requests_pass(request_: Captured) -> None:
    assert zendesk_violations(request_) == []


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        # The bug this suite exists for: bulk-only tag verbs on a single ticket.
        (
            zd("PUT", "/api/v2/tickets/42.json", safe(additional_tags=["sla_pending"])),
            "additional_tags",
        ),
        (
            zd("PUT", "/api/v2/tickets/42.json", safe(remove_tags=["sla_met"])),
            "remove_tags",
        ),
        (
            zd(
                "PUT",
                "/api/v2/tickets/42.json",
                {"ticket": {"safe_update": True, "tags": []}},
            ),
            "updated_stamp",
        ),
        (
            zd(
                "PUT",
                "/api/v2/tickets/42.json",
                safe(custom_fields=[{"id": 1, "value": "x", "key": "k"}]),
            ),
            "key",
        ),
        (
            zd(
                "PUT",
                "/api/v2/tickets/42.json",
                safe(comment={"body": "n", "private": True}),
            ),
            "private",
        ),
        (
            zd(
                "PUT",
                "/api/v2/tickets/42.json",
                safe(followers=[{"user_id": 5, "action": "add"}]),
            ),
            "add",
        ),
        (zd("PUT", "/api/v2/tickets/42.json", {"ticket": {}, "id": 42}), "id"),
        (
            zd(
                "PUT",
                "/api/v2/organizations/7.json",
                {"organization": {"fields": {"plan": "x"}}},
            ),
            "fields",
        ),
        (
            zd(
                "PUT",
                "/api/v2/organizations/7.json",
                {"organization": {"organization_fields": {"123": "x"}}},
            ),
            "123",
        ),
        (
            zd("POST", "/api/v2/tickets.json", {"ticket": {"subject": "no comment"}}),
            "comment",
        ),
        (zd("GET", "/api/v2/tickets/42.json?foo=1"), "foo"),
        (zd("GET", "/api/v2/tickets/42.json?include=everything"), "everything"),
        (
            zd("GET", "/api/v2/tickets/42/comments.json?include=users&include=users"),
            "sent twice",
        ),
        (zd("GET", "/api/v2/organizations.json?page%5Bsize%5D=500"), "500"),
        (zd("GET", "/api/v2/search.json?query=type%3Aticket&page=11"), "11"),
        (zd("GET", "/api/v2/search.json"), "query"),
        (
            zd("GET", "/api/v2/incremental/tickets/cursor.json"),
            "not valid under any of",
        ),
        (
            zd("GET", "/api/v2/incremental/tickets/cursor.json?start_time=1&cursor=x"),
            "valid under each of",
        ),
        (zd("GET", "/api/v2/organizations/search.json"), "search"),
        (
            zd("GET", "/api/v2/tickets/42/metrics.json"),
            "no documented Zendesk operation",
        ),
        (zd("DELETE", "/api/v2/tickets/42.json"), "no documented Zendesk operation"),
        (zd("GET", "/api/v2/tickets/abc.json"), "no documented Zendesk operation"),
        (
            zd("GET", "/api/v2/users/me.json", {"x": 1}),
            "a body on an operation that takes none",
        ),
        (
            Captured("GET", "http://acme.zendesk.com/api/v2/users/me.json", {}, None),
            "https",
        ),
        (
            Captured(
                "PUT", BASE + "/api/v2/tickets/42.json", {}, json.dumps(safe()).encode()
            ),
            "Content-Type",
        ),
    ],
    ids=lambda v: v.url.removeprefix(BASE) if isinstance(v, Captured) else v,
)
def test_off_contract_zendesk_requests_are_named(
    request_: Captured, expected: str
) -> None:
    problems = zendesk_violations(request_)
    assert any(expected in p for p in problems), problems


def test_the_old_write_path_fails_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """Driven through the real client, the pre-fix body (additional_tags) is caught."""

    def old_body(update: TicketUpdate) -> dict[str, Any]:
        return {
            "safe_update": True,
            "updated_stamp": update.updated_stamp,
            "additional_tags": ["sla_pending"],
            "remove_tags": ["sla_at_risk"],
        }

    monkeypatch.setattr(client_module, "ticket_update_body", old_body)
    with (
        ContractZendesk() as zendesk,
        ZendeskClient(
            "acme", email="bot@acme.test", api_token=Secret("contract-token")
        ) as client,
    ):
        client.update_ticket(
            TicketUpdate(ticket_id=42, updated_stamp=STAMP, private_note="note")
        )
    (request,) = zendesk.captured
    problems = zendesk_violations(request)
    assert any("additional_tags" in p for p in problems), problems
    assert any("remove_tags" in p for p in problems), problems


# --- PagerDuty --------------------------------------------------------------------

KEY = "R0UTINGKEY000000000000000000DEFA"
TRIGGER: dict[str, Any] = {
    "routing_key": KEY,
    "event_action": "trigger",
    "dedup_key": "zendesk-acme-ticket-7",
    "payload": {
        "summary": "[SEV 1] Acme: down",
        "source": "zendesk:acme",
        "severity": "critical",
    },
    "links": [
        {"href": "https://acme.zendesk.com/agent/tickets/7", "text": "Ticket #7"}
    ],
}
RESOLVE = {
    "routing_key": KEY,
    "event_action": "resolve",
    "dedup_key": "zendesk-acme-ticket-7",
}


def pd(
    event: Any, *, url: str = pagerduty_events.ENDPOINT, method: str = "POST"
) -> Captured:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return Captured(method, url, {"content-type": "application/json"}, raw)


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with the dotted ``path`` set (or removed when value is ...)."""
    event = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = event
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return event


@pytest.mark.parametrize(
    "event", [TRIGGER, RESOLVE, {**RESOLVE, "event_action": "acknowledge"}]
)
def test_documented_pagerduty_events_pass(event: dict[str, Any]) -> None:
    assert pagerduty_violations(pd(event)) == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (changed(TRIGGER, "routing_key", KEY[:31]), "routing_key"),
        (changed(TRIGGER, "routing_key", KEY + "X"), "routing_key"),
        (changed(TRIGGER, "event_action", "snooze"), "snooze"),
        (changed(TRIGGER, "dedup_key", "k" * 256), "dedup_key"),
        (changed(TRIGGER, "payload.summary", "s" * 1025), "summary"),
        (changed(TRIGGER, "payload.severity", "fatal"), "fatal"),
        (changed(TRIGGER, "payload.source", ...), "source"),
        (changed(TRIGGER, "payload", ...), "payload"),
        (changed(TRIGGER, "incident_key", "k"), "incident_key"),
        (changed(TRIGGER, "payload.details", {}), "details"),
        (changed(TRIGGER, "links", [{"text": "no href"}]), "href"),
        (changed(TRIGGER, "links", [{"href": "https://x", "title": "t"}]), "title"),
        (changed(TRIGGER, "images", [{"src": "http://x/y.png"}]), "src"),
        (changed(RESOLVE, "payload", TRIGGER["payload"]), "payload"),
        (changed(RESOLVE, "dedup_key", ...), "dedup_key"),
        (
            changed(TRIGGER, "payload.custom_details", {"blob": "x" * (512 * 1024)}),
            "512 KB",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_off_contract_pagerduty_events_are_named(
    event: dict[str, Any], expected: str
) -> None:
    problems = pagerduty_violations(pd(event))
    assert any(expected in p for p in problems), problems


def test_pagerduty_events_go_by_post_to_the_enqueue_endpoint() -> None:
    assert pagerduty_violations(
        pd(TRIGGER, url="https://events.pagerduty.com/v2/change/enqueue")
    )
    assert pagerduty_violations(pd(TRIGGER, method="PUT"))
    assert "the body is not JSON" in pagerduty_violations(pd(b"not json"))
