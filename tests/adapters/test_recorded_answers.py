"""Every read path of the Zendesk adapter over real recorded Zendesk answers.

The answers in tests/samples/zendesk/recorded/ were recorded from real Zendesk
accounts by public API clients (their sources, commits and licences are in
that folder's SOURCES.md). Each is served as recorded (status, rate-limit
headers, body) to the adapter's read method for its endpoint, and the parsed
values are checked against the recording.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from sidecar.config import Secret
from sidecar.errors import AuthFailed, BudgetWait, NotFound
from sidecar.zendesk import parse
from sidecar.zendesk.budget import Budget, Shares, account_headroom, sqlite_buckets
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.decipher import decipher

RECORDED = Path(__file__).parent.parent / "samples" / "zendesk" / "recorded"
BASE = "https://acme.zendesk.com"


def recorded(name: str) -> dict[str, Any]:
    """One recorded answer: source, request, status, headers (pairs) and body."""
    entry: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return entry


def every_answer() -> list[str]:
    """The names of all recorded answers."""
    return sorted(str(p.relative_to(RECORDED)) for p in RECORDED.rglob("*.json"))


def serve(mocked: responses.RequestsMock, name: str, path: str) -> dict[str, Any]:
    """Answer GET ``path`` with the recorded answer ``name`` as it was recorded."""
    entry = recorded(name)
    mocked.get(
        BASE + path,
        json=entry["body"],
        status=entry["status"],
        headers=dict(entry["headers"]),
    )
    return entry


@pytest.fixture
def mocked():
    """`responses` active: any URL not served fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def client():
    """A client of the acme account; the recordings are served at its URLs."""
    with ZendeskClient("acme", email="bot@acme.test", api_token=Secret("t")) as zd:
        yield zd


# --- the corpus itself ----------------------------------------------------------


@pytest.mark.parametrize("name", every_answer())
def test_every_recording_names_its_source_and_carries_no_credential(name: str) -> None:
    """Each answer cites a repository, path and commit listed in SOURCES.md; no secrets."""
    entry = recorded(name)
    source = entry["source"]
    assert len(source["commit"]) == 40
    sources = (RECORDED / "SOURCES.md").read_text()
    assert source["repo"] in sources and source["path"] in sources
    text = json.dumps(entry).lower()
    for secret in ("authorization", "cookie", "%40", ":123456", "b-b71t", "tbjexf"):
        assert secret not in text, f"{name} carries {secret!r}"
    for key in ("authenticity_token", "password", "token"):
        for value in _values_of(entry["body"], key):
            assert value == "<scrubbed>", f"{name}: {key} not scrubbed"


def _values_of(data: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in ``data``."""
    if isinstance(data, dict):
        found = [v for k, v in data.items() if k == key]
        return found + [x for v in data.values() for x in _values_of(v, key)]
    if isinstance(data, list):
        return [x for v in data for x in _values_of(v, key)]
    return []


# --- users/me -----------------------------------------------------------------


def test_users_me_of_a_real_agent_gives_its_id(mocked, client) -> None:
    """users/me as a real admin answered it: the API user's id."""
    serve(mocked, "users_me/agent.json", "/api/v2/users/me.json")
    assert client.current_user_id() == 6130907993114


@pytest.mark.parametrize(
    "name", ["users_me/anonymous.json", "users_me/anonymous_name_only.json"]
)
def test_users_me_of_a_wrong_token_is_an_auth_failure(mocked, client, name) -> None:
    """A wrong token gets 200 and an anonymous user (id null or absent): AuthFailed."""
    serve(mocked, name, "/api/v2/users/me.json")
    with pytest.raises(AuthFailed, match="not authenticated"):
        client.current_user_id()


# --- tickets ------------------------------------------------------------------


def test_show_ticket_2015_parses_every_value(mocked, client) -> None:
    """A 2015 Show Ticket (no follower_ids, all custom fields null) parses as recorded."""
    serve(mocked, "tickets/show_2015.json", "/api/v2/tickets/8867.json")
    ticket = client.get_ticket(8867)
    assert (ticket.id, ticket.status, ticket.subject) == (
        8867,
        "new",
        "This is a question?",
    )
    assert ticket.created_at == datetime(2015, 12, 30, 1, 45, 29, tzinfo=UTC)
    assert ticket.updated_stamp == "2015-12-30T01:45:29Z"
    assert (ticket.organization_id, ticket.requester_id) == (None, 20014192)
    assert ticket.tags == {"awesome", "blossom"}
    assert ticket.custom_fields == dict.fromkeys(
        [20015156, 20027726, 20012676, 20012681, 20011472, 20011477, 20011482, 20011487]
    )
    assert ticket.follower_ids == ()
    # Not asked for in 2015: no sideloads, so nothing is guessed.
    assert ticket.comment_count is None and ticket.organization is None


def test_show_ticket_2019_parses_every_value(mocked, client) -> None:
    """A 2019 Show Ticket of an email ticket (solved, empty custom_fields) parses as recorded."""
    serve(mocked, "tickets/show_2019.json", "/api/v2/tickets/2.json")
    ticket = client.get_ticket(2)
    assert (ticket.id, ticket.status) == (2, "solved")
    assert ticket.subject == "Mail to create fixture ticket for testing"
    assert ticket.created_at == datetime(2019, 6, 3, 2, 23, 47, tzinfo=UTC)
    assert ticket.updated_stamp == "2019-06-03T02:25:28Z"
    assert (ticket.organization_id, ticket.requester_id) == (360363695492, 377922500012)
    assert ticket.tags == frozenset() and ticket.custom_fields == {}
    assert ticket.follower_ids == ()


# --- comments -----------------------------------------------------------------


def test_list_comments_reads_the_recorded_comments(mocked, client) -> None:
    """Recorded comments (no users sideload) parse with their authors and times."""
    serve(mocked, "comments/list_2019.json", "/api/v2/tickets/2/comments.json")
    comments = client.list_comments(2)
    assert [(c.id, c.author_id, c.public, c.author_role) for c in comments] == [
        (2, 377922500012, True, ""),
        (3, 377922500012, True, ""),
    ]
    assert comments[1].created_at == datetime(2019, 6, 3, 2, 23, 47, tzinfo=UTC)


def test_list_comment_texts_falls_back_to_body_when_plain_body_is_empty(
    mocked, client
) -> None:
    """The recording's plain_body is "" and body holds the text: the text is read."""
    serve(mocked, "comments/list_2019.json", "/api/v2/tickets/2/comments.json")
    texts = client.list_comment_texts(2)
    assert [(t.id, t.author_id, t.body) for t in texts] == [
        (2, 377922500012, "Mail to create fixture ticket for testing"),
        (3, 377922500012, "Mail to create fixture ticket for testing"),
    ]
    assert {t.author_name for t in texts} == {""}  # no users sideload recorded


# --- organizations ------------------------------------------------------------


def test_show_organization_parses_as_recorded(mocked, client) -> None:
    """A 2023 Show Organization (empty organization_fields) parses as recorded."""
    serve(
        mocked, "organizations/show.json", "/api/v2/organizations/19442893058196.json"
    )
    org = client.get_organization(19442893058196)
    assert (org.id, org.name, org.external_id) == (
        19442893058196,
        "xTestx Organization node-zendesk",
        None,
    )
    assert org.fields == {} and org.tags == frozenset()


def test_list_organizations_stops_when_has_more_is_false(mocked, client) -> None:
    """The recorded first page says has_more false but still links a next page:
    the listing ends there (one request), with all six organizations."""
    serve(mocked, "organizations/list_page1.json", "/api/v2/organizations.json")
    orgs = client.list_organizations()
    assert len(mocked.calls) == 1
    assert [o.id for o in orgs] == [
        26917874,
        18416262917908,
        18416333516052,
        19442861792916,
        19442893058196,
        19442893058452,
    ]
    assert all(o.fields == {} and o.external_id is None for o in orgs)


def test_find_organization_by_external_id_as_recorded(mocked, client) -> None:
    """The recorded Search Organizations answer finds the one with external_id 69420."""
    serve(
        mocked,
        "organizations/search_external_id.json",
        "/api/v2/organizations/search.json",
    )
    org = client.find_organization("69420")
    assert org is not None and (org.id, org.external_id) == (19442893058196, "69420")


def test_find_organization_by_name_reads_the_same_answer(mocked, client) -> None:
    """Search Organizations answers a name search in the same shape: found by name."""
    serve(
        mocked,
        "organizations/search_external_id.json",
        "/api/v2/organizations/search.json",
    )
    org = client.find_organization_by_name("XTESTX organization NODE-zendesk")
    assert org is not None and org.id == 19442893058196


# --- ticket fields and forms -------------------------------------------------------


def test_list_ticket_fields_keeps_types_and_dropdown_options(mocked, client) -> None:
    """A recorded ticket field list: each type kept, the dropdown's options as name/value."""
    serve(mocked, "ticket_fields/list_2018.json", "/api/v2/ticket_fields.json")
    fields = {f["id"]: f for f in client.list_ticket_fields()}
    assert [f["type"] for f in fields.values()] == [
        "subject",
        "status",
        "priority",
        "tagger",
        "regexp",
        "decimal",
        "text",
        "integer",
        "date",
    ]
    tagger = fields[360011759674]
    assert [(o["name"], o["value"]) for o in tagger["custom_field_options"]] == [
        ("Option 1", "opt1"),
        ("Option 2", "opt2"),
    ]


def test_recorded_ticket_field_and_form_objects_have_the_read_shapes() -> None:
    """Show Ticket Field and Show Ticket Form as recorded: ids, types, titles, field ids."""
    field = recorded("ticket_fields/show_2015.json")["body"]["ticket_field"]
    assert (field["id"], field["type"], field["title"], field["active"]) == (
        21554111,
        "text",
        "Age",
        True,
    )
    form = recorded("ticket_forms/show_2015.json")["body"]["ticket_form"]
    assert form["id"] == 1106 and form["active"] is True
    assert form["ticket_field_ids"] == [
        20010327,
        20010332,
        20010337,
        20010352,
        20010357,
    ]


# --- errors and headers ----------------------------------------------------------


def test_the_recorded_404_is_not_found(mocked, client) -> None:
    """A recorded RecordNotFound answer raises NotFound, naming the code, not the body."""
    serve(mocked, "errors/not_found_404.json", "/api/v2/organizations/4819136400.json")
    with pytest.raises(NotFound, match=r"HTTP 404 \(RecordNotFound\b"):
        client.get_organization(4819136400)
    entry = recorded("errors/not_found_404.json")
    error = decipher("DELETE", "/x", 404, dict(entry["headers"]), entry["body"])
    assert isinstance(error, NotFound)


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in every_answer()
        if recorded(n)["headers"] and "rate" in str(recorded(n)["headers"])
    ],
)
def test_recorded_rate_limit_headers_give_the_headroom(name: str) -> None:
    """Every recording's rate-limit headers give what remains, the limit and the reset."""
    headers = dict(recorded(name)["headers"])
    remaining, limit, reset = account_headroom(headers) or (None, None, None)
    assert limit == float(headers["x-rate-limit"])
    assert remaining == float(headers["rate-limit-remaining"])
    assert reset == float(headers["rate-limit-reset"])


# --- parse.py directly, on every recorded object ------------------------------------


@pytest.mark.parametrize("name", every_answer())
def test_every_recorded_object_parses_with_parse_py(name: str) -> None:
    """parse.ticket / parse.organization / parse.comments accept every recorded object."""
    body = recorded(name)["body"]
    tickets = [body["ticket"]] if "ticket" in body else body.get("tickets") or []
    for raw in tickets:
        assert parse.ticket(raw).id == raw["id"]
    orgs = (
        [body["organization"]]
        if "organization" in body
        else body.get("organizations") or []
    )
    for raw in orgs:
        assert parse.organization(raw).name == raw["name"]
    if "comments" in body:
        assert [c.id for c in parse.comments([body])] == [
            c["id"] for c in body["comments"]
        ]


def test_the_client_feeds_recorded_header_spellings_to_the_budget(tmp_path) -> None:
    """An answer spelled as recorded (rate-limit-reset: 43, few remaining) holds
    ordinary work for those 43 s through the client, not for 1 s."""
    budget = Budget(
        Shares(requests=100, updates=30, window_seconds=60),
        bucket=sqlite_buckets(str(tmp_path / "budget.db")),
    )
    entry = recorded("organizations/show.json")
    headers = dict(entry["headers"])
    # The recorded spelling, with what remains lowered to under a tenth.
    headers.update({"x-rate-limit-remaining": "12", "rate-limit-remaining": "12"})
    with (
        responses.RequestsMock() as mocked,
        ZendeskClient(
            "acme", email="bot@acme.test", api_token=Secret("t"), budget=budget
        ) as zd,
    ):
        mocked.get(
            BASE + "/api/v2/organizations/19442893058196.json",
            json=entry["body"],
            headers=headers,
        )
        zd.get_organization(19442893058196)
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=False, urgent=False)
    assert 40 < (waited.value.retry_after or 0) <= 43
