"""The strict Zendesk double answers in the shapes real Zendesk answers were recorded in.

For each kind of object the adapter reads (ticket, comment, user, organization,
ticket field, error body), the keys it reads are compared between the recorded
answers in tests/samples/zendesk/recorded/ and the double's answers
(tests/fake_zendesk.py, tests/fake_zendesk_admin.py): the double must carry every
read key that every recording carries, and each read key it carries must hold a
JSON kind (null, boolean, integer, number, string, array, object) that some
recording holds there. A double that answers in a shape Zendesk never sends
lets the adapter pass against it and fail against Zendesk.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sidecar.zendesk.budget import canonical_header
from tests.fake_zendesk import FakeZendesk

RECORDED = Path(__file__).parent.parent / "samples" / "zendesk" / "recorded"
SEV_FIELD = 360000111

# The keys the adapter reads, per object (sidecar/zendesk/parse.py, client.py and
# setup.py): what a recording carries under any other key does not matter here.
READS: dict[str, frozenset[str]] = {
    "ticket": frozenset(
        {
            "id",
            "subject",
            "status",
            "created_at",
            "updated_at",
            "organization_id",
            "requester_id",
            "tags",
            "custom_fields",
            "follower_ids",
        }
    ),
    "custom_field_value": frozenset({"id"}),  # the value's kind depends on the field
    "comment": frozenset(
        {"id", "author_id", "public", "created_at", "plain_body", "body"}
    ),
    "user": frozenset({"id", "role", "name", "email"}),
    "organization": frozenset(
        {"id", "name", "external_id", "organization_fields", "tags"}
    ),
    "ticket_field": frozenset({"id", "type", "title", "active"}),
    "dropdown_field": frozenset({"custom_field_options"}),
    "field_option": frozenset({"id", "name", "value"}),
    "error": frozenset({"error", "description"}),
}


def json_kind(value: object) -> str:
    """The JSON kind of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def objects(status: int, body: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, object) for every object of an answer the adapter reads."""
    if status >= 400:
        yield "error", body
        return
    tickets = [body["ticket"]] if "ticket" in body else body.get("tickets") or []
    for ticket in tickets:
        yield "ticket", ticket
        for entry in ticket.get("custom_fields") or ():
            yield "custom_field_value", entry
    yield from (("comment", c) for c in body.get("comments") or ())
    users = [body["user"]] if "user" in body else []
    for user in [*users, *(body.get("users") or ())]:
        if user.get("id") is not None:  # the anonymous user is an answer of its own
            yield "user", user
    orgs = [body["organization"]] if "organization" in body else []
    yield from (
        ("organization", o) for o in [*orgs, *(body.get("organizations") or ())]
    )
    fields = [body["ticket_field"]] if "ticket_field" in body else []
    for field in [*fields, *(body.get("ticket_fields") or ())]:
        yield "ticket_field", field
        if field.get("type") == "tagger":
            yield "dropdown_field", field
            for option in field.get("custom_field_options") or ():
                yield "field_option", option


def shapes(
    answers: list[tuple[int, Any]],
) -> tuple[dict[str, dict[str, set[str]]], dict[str, int], dict[str, dict[str, int]]]:
    """Per kind: the JSON kinds seen under each read key, objects seen, objects with the key."""
    kinds: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    seen: dict[str, int] = defaultdict(int)
    carried: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for status, body in answers:
        for kind, obj in objects(status, body):
            seen[kind] += 1
            for key in READS[kind] & set(obj):
                kinds[kind][key].add(json_kind(obj[key]))
                carried[kind][key] += 1
    return kinds, seen, carried


def recorded_answers() -> list[tuple[int, Any]]:
    """(status, body) of every recorded answer."""
    found = []
    for path in sorted(RECORDED.rglob("*.json")):
        entry = json.loads(path.read_text())
        found.append((entry["status"], entry["body"]))
    return found


def double_answers() -> list[tuple[int, Any]]:
    """(status, body) of the double's answers to every read the adapter makes."""
    with FakeZendesk() as zd:
        agent = zd.add_user(role="agent", name="Ann Agent", email="ann@example.test")
        customer = zd.add_user(role="end-user", name="Cy", email="cy@example.test")
        org = zd.add_org(
            name="Acme",
            external_id="acme-1",
            fields={"support_plan": "enterprise", "enterprise_support": True},
            tags=["vip"],
        )
        zd.add_org(name="Plain")
        zd.add_ticket_field(
            SEV_FIELD, title="Severity", type="tagger", options=[("SEV 1", "sev_1")]
        )
        zd.add_ticket_field(title="SLA due", type="text")
        tid = zd.add_ticket(
            organization_id=org,
            requester_id=customer,
            custom_fields={SEV_FIELD: "sev_1"},
        )
        zd.add_comment(tid, agent, public=False, body="Looking.")
        zd.add_comment(tid, agent, public=True, body="On it.")
        auth = (f"{zd.email}/token", zd.api_token)
        answers = []
        for path, params in [
            (f"/api/v2/tickets/{tid}.json", {"include": "comment_count,organizations"}),
            (f"/api/v2/tickets/{tid}/comments.json", {"include": "users"}),
            ("/api/v2/users/me.json", {}),
            (f"/api/v2/organizations/{org}.json", {}),
            ("/api/v2/organizations.json", {"page[size]": "100"}),
            ("/api/v2/organizations/search.json", {"external_id": "acme-1"}),
            ("/api/v2/tickets.json", {"page[size]": "100"}),
            ("/api/v2/ticket_fields.json", {}),
            ("/api/v2/organizations/987654321.json", {}),
        ]:
            response = requests.get(zd.url + path, params=params, auth=auth, timeout=5)
            answers.append((response.status_code, response.json()))
        return answers


RECORDED_SHAPES = shapes(recorded_answers())
DOUBLE_SHAPES = shapes(double_answers())


@pytest.mark.parametrize("kind", sorted(READS))
def test_the_double_answers_every_kind_real_answers_were_recorded_in(kind: str) -> None:
    """Each kind of object is both recorded and answered by the double (else no check)."""
    assert RECORDED_SHAPES[1][kind] > 0, f"no recording of a {kind}"
    assert DOUBLE_SHAPES[1][kind] > 0, f"the double never answers a {kind}"


@pytest.mark.parametrize("kind", sorted(READS))
def test_the_double_carries_what_every_real_answer_carries(kind: str) -> None:
    """A read key that every recorded object of the kind carries is in every double's object."""
    _, seen, carried = RECORDED_SHAPES
    _, double_seen, double_carried = DOUBLE_SHAPES
    always = {
        key for key in READS[kind] if seen[kind] and carried[kind][key] == seen[kind]
    }
    missing = {key for key in always if double_carried[kind][key] < double_seen[kind]}
    assert not missing, f"the double's {kind} lacks {sorted(missing)}"


@pytest.mark.parametrize("kind", sorted(READS))
def test_the_double_never_answers_a_shape_real_answers_never_had(kind: str) -> None:
    """Each read key the double carries holds a JSON kind some recording holds there."""
    kinds, _, _ = RECORDED_SHAPES
    double_kinds, _, _ = DOUBLE_SHAPES
    strange = {
        key: sorted(double_kinds[kind][key] - kinds[kind][key])
        for key in double_kinds[kind]
        if kinds[kind][key] and double_kinds[kind][key] - kinds[kind][key]
    }
    assert not strange, f"the double's {kind} holds kinds never recorded: {strange}"


def test_shape_checks_catch_a_missing_key_and_a_strange_kind() -> None:
    """The comparison itself fails on a double that drops a key or changes a kind."""
    ticket = {
        "id": 1,
        "subject": "s",
        "status": "open",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "organization_id": None,
        "requester_id": 2,
        "tags": [],
        "custom_fields": [],
    }
    good = shapes([(200, {"ticket": ticket})])
    dropped = shapes(
        [(200, {"ticket": {k: v for k, v in ticket.items() if k != "tags"}})]
    )
    assert dropped[2]["ticket"]["tags"] < good[1]["ticket"]
    strange = shapes([(200, {"ticket": {**ticket, "id": "1"}})])
    assert strange[0]["ticket"]["id"] - good[0]["ticket"]["id"] == {"string"}


def _rate_limit_headers(headers: dict[str, str]) -> dict[str, str]:
    """The rate-limit headers among ``headers``, by the budget's canonical name."""
    return {
        canonical_header(name): value
        for name, value in headers.items()
        if "rate" in name.lower() and "limit" in name.lower()
    }


def test_the_double_sends_the_rate_limit_headers_real_answers_carry() -> None:
    """Every rate-limit header a recorded answer carries (as the budget reads it:
    limit, remaining, reset) the double sends too, each an integer."""
    recorded_names: set[str] = set()
    for path in sorted(RECORDED.rglob("*.json")):
        recorded_names |= set(
            _rate_limit_headers(dict(json.loads(path.read_text())["headers"]))
        )
    with FakeZendesk() as zd:
        response = requests.get(
            zd.url + "/api/v2/users/me.json",
            auth=(f"{zd.email}/token", zd.api_token),
            timeout=5,
        )
    sent = _rate_limit_headers(dict(response.headers))
    assert recorded_names == {"ratelimit", "ratelimit-remaining", "ratelimit-reset"}
    assert recorded_names <= set(sent), sorted(recorded_names - set(sent))
    assert all(sent[name].isdigit() for name in recorded_names)
