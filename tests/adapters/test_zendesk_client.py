"""ZendeskClient against `responses` mocks: exact requests, parsing, error mapping."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime

import pytest
import requests
import responses

from sidecar.config import Config, Secret
from sidecar.domain.models import TicketUpdate
from sidecar.errors import (
    AuthFailed,
    BadResponse,
    ConfigError,
    Conflict,
    NotFound,
    RateLimited,
    Rejected,
    Transient,
    UpstreamError,
)
from sidecar.zendesk.client import ZendeskClient

BASE = "https://acme.zendesk.com"
TOKEN = "T0K-very-secret-api-token"
OAUTH = "oauth-very-secret-bearer"

TICKET_JSON = {
    "id": 42,
    "subject": "Database down",
    "status": "Open",
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:05:07Z",
    "organization_id": 7,
    "requester_id": 100,
    "tags": ["vip", "sev_3"],
    "custom_fields": [{"id": 111, "value": "sev_3"}, {"id": 112, "value": None}],
    "follower_ids": [5, 6],
}


@pytest.fixture
def mocked():
    """Activate `responses` so that any unmocked URL fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client():
    """A token-authenticated client for the acme account."""
    with ZendeskClient("acme", email="bot@acme.test", api_token=Secret(TOKEN)) as zd:
        yield zd


@pytest.fixture
def no_sleep(monkeypatch):
    """Make any time.sleep (a 429 loop, urllib3 backoff) fail the test."""

    def forbidden(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s inside the client")

    monkeypatch.setattr(time, "sleep", forbidden)


def body_of(call) -> object:
    return json.loads(call.request.body)


def test_get_ticket_sends_one_get_and_parses(mocked, client):
    """get_ticket GETs the ticket once and returns a Ticket with parsed values."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": TICKET_JSON})

    ticket = client.get_ticket(42)

    assert len(mocked.calls) == 1
    assert mocked.calls[0].request.method == "GET"
    # One call brings the comment count and the organization too (issue 10).
    assert mocked.calls[0].request.url == (
        f"{BASE}/api/v2/tickets/42.json?include=comment_count%2Corganizations"
    )
    assert ticket.id == 42
    assert ticket.subject == "Database down"
    assert ticket.status == "open"
    assert ticket.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert ticket.created_at.utcoffset().total_seconds() == 0
    assert ticket.updated_stamp == "2024-05-01T10:05:07Z"
    assert ticket.organization_id == 7
    assert ticket.requester_id == 100
    assert ticket.tags == frozenset({"vip", "sev_3"})
    assert dict(ticket.custom_fields) == {111: "sev_3", 112: None}
    assert ticket.follower_ids == (5, 6)


def test_datetimes_with_offsets_are_converted_to_utc(mocked, client):
    """A created_at with a numeric offset becomes the same instant in UTC."""
    data = dict(TICKET_JSON, created_at="2024-05-01T12:30:00+02:00", tags=[])
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": data})

    created = client.get_ticket(42).created_at

    assert created == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert created.tzinfo == UTC


def test_token_auth_header_is_basic_email_slash_token(mocked, client):
    """API-token auth sends Basic base64("email/token:TOKEN")."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": TICKET_JSON})

    client.get_ticket(42)

    expected = base64.b64encode(f"bot@acme.test/token:{TOKEN}".encode()).decode()
    assert mocked.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_oauth_auth_header_is_bearer(mocked):
    """OAuth auth sends Authorization: Bearer TOKEN."""
    mocked.get(
        f"{BASE}/api/v2/users/me.json", json={"user": {"id": 9, "role": "admin"}}
    )

    with ZendeskClient("acme", oauth_token=Secret(OAUTH)) as zd:
        zd.current_user_id()

    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {OAUTH}"


def test_list_comments_uses_include_users_for_roles(mocked, client):
    """list_comments makes one GET with include=users and maps author roles."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        match=[responses.matchers.query_param_matcher({"include": "users"})],
        json={
            "comments": [
                {
                    "id": 1,
                    "author_id": 100,
                    "public": True,
                    "created_at": "2024-05-01T10:00:00Z",
                },
                {
                    "id": 2,
                    "author_id": 5,
                    "public": False,
                    "created_at": "2024-05-01T10:10:00Z",
                },
                {
                    "id": 3,
                    "author_id": 77,
                    "public": True,
                    "created_at": "2024-05-01T10:20:00Z",
                },
            ],
            "users": [{"id": 100, "role": "end-user"}, {"id": 5, "role": "agent"}],
            "next_page": None,
        },
    )

    comments = client.list_comments(42)

    assert len(mocked.calls) == 1
    assert [(c.id, c.author_id, c.public, c.author_role) for c in comments] == [
        (1, 100, True, "end-user"),
        (2, 5, False, "agent"),
        (3, 77, True, ""),
    ]
    assert comments[1].created_at == datetime(2024, 5, 1, 10, 10, tzinfo=UTC)


def test_both_comment_reads_agree_on_the_system_user(mocked, client):
    """list_comments and list_comment_texts read the same answer the same way: a
    comment by the system user (-1) or by no one is a comment with no author."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        json={
            "comments": [
                {
                    "id": 1,
                    "author_id": 100,
                    "public": True,
                    "plain_body": "Help",
                    "created_at": "2024-05-01T10:00:00Z",
                },
                {
                    "id": 2,
                    "author_id": -1,
                    "public": True,
                    "body": "Conversation with Web User",
                    "created_at": "2024-05-01T10:01:00Z",
                },
                {
                    "id": 3,
                    "author_id": None,
                    "public": False,
                    "created_at": "2024-05-01T10:02:00Z",
                },
            ],
            "users": [{"id": 100, "role": "end-user", "name": "Ann"}],
            "next_page": None,
        },
    )

    comments = client.list_comments(42)
    texts = client.list_comment_texts(42)

    assert [(c.id, c.author_id, c.author_role) for c in comments] == [
        (1, 100, "end-user"),
        (2, None, ""),
        (3, None, ""),
    ]
    assert [(t.id, t.author_id, t.author_name, t.body) for t in texts] == [
        (1, 100, "Ann", "Help"),
        (2, None, "", "Conversation with Web User"),
        (3, None, "", ""),
    ]


def test_list_comments_follows_next_page(mocked, client):
    """Offset pagination: next_page is followed verbatim until it is null."""
    page2 = f"{BASE}/api/v2/tickets/42/comments.json?include=users&page=2"
    mocked.get(
        page2,
        match=[
            responses.matchers.query_param_matcher({"include": "users", "page": "2"})
        ],
        json={
            "comments": [
                {
                    "id": 2,
                    "author_id": 5,
                    "public": True,
                    "created_at": "2024-05-01T11:00:00Z",
                }
            ],
            "users": [{"id": 5, "role": "admin"}],
            "next_page": None,
        },
    )
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        match=[responses.matchers.query_param_matcher({"include": "users"})],
        json={
            "comments": [
                {
                    "id": 1,
                    "author_id": 100,
                    "public": True,
                    "created_at": "2024-05-01T10:00:00Z",
                }
            ],
            "users": [{"id": 100, "role": "end-user"}],
            "next_page": page2,
        },
    )

    comments = client.list_comments(42)

    assert len(mocked.calls) == 2
    assert [(c.id, c.author_role) for c in comments] == [(1, "end-user"), (2, "admin")]


def test_list_comments_follows_cursor_links(mocked, client):
    """Cursor pagination: links.next is followed while meta.has_more is true."""
    nxt = f"{BASE}/api/v2/tickets/42/comments.json?include=users&page%5Bafter%5D=abc"
    mocked.get(
        nxt,
        match=[
            responses.matchers.query_param_matcher(
                {"include": "users", "page[after]": "abc"}
            )
        ],
        json={
            "comments": [
                {
                    "id": 2,
                    "author_id": 5,
                    "public": True,
                    "created_at": "2024-05-01T11:00:00Z",
                }
            ],
            "users": [{"id": 5, "role": "agent"}],
            "meta": {"has_more": False},
            "links": {"next": None},
        },
    )
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        match=[responses.matchers.query_param_matcher({"include": "users"})],
        json={
            "comments": [
                {
                    "id": 1,
                    "author_id": 100,
                    "public": True,
                    "created_at": "2024-05-01T10:00:00Z",
                }
            ],
            "users": [{"id": 100, "role": "end-user"}],
            "meta": {"has_more": True, "after_cursor": "abc"},
            "links": {"next": nxt},
        },
    )

    assert [c.id for c in client.list_comments(42)] == [1, 2]
    assert len(mocked.calls) == 2


def test_next_page_to_another_host_is_refused(mocked, client):
    """A next_page URL outside the account is not followed with our credentials."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        json={"comments": [], "next_page": "https://evil.example/steal"},
    )

    with pytest.raises(Rejected):
        client.list_comments(42)
    assert len(mocked.calls) == 1


def test_update_ticket_sends_one_safe_put_with_exact_body(mocked, client):
    """update_ticket sends exactly one PUT with safe_update and the non-empty parts."""
    mocked.put(
        f"{BASE}/api/v2/tickets/42.json",
        json={"ticket": TICKET_JSON, "audit": {"id": 1, "events": []}},
    )
    update = TicketUpdate(
        ticket_id=42,
        updated_stamp="2024-05-01T10:05:07Z",
        custom_fields={113: "2024-05-02T10:00:00Z", 112: None},
        tags=frozenset({"vip", "sla_pending"}),
        previous_tags=frozenset({"vip", "sla_met"}),
        add_follower_ids=frozenset({9, 3}),
        private_note="SLA: first response due 2024-05-02T10:00:00Z",
    )

    # The version the write produced, from the answer (what the echo check compares).
    assert client.update_ticket(update) == TICKET_JSON["updated_at"]

    assert len(mocked.calls) == 1
    call = mocked.calls[0]
    assert call.request.method == "PUT"
    assert call.request.url == f"{BASE}/api/v2/tickets/42.json"
    assert call.request.headers["Content-Type"] == "application/json"
    assert body_of(call) == {
        "ticket": {
            "safe_update": True,
            "updated_stamp": "2024-05-01T10:05:07Z",
            "custom_fields": [
                {"id": 112, "value": None},
                {"id": 113, "value": "2024-05-02T10:00:00Z"},
            ],
            "tags": ["sla_pending", "vip"],
            "followers": [
                {"user_id": 3, "action": "put"},
                {"user_id": 9, "action": "put"},
            ],
            "comment": {
                "body": "SLA: first response due 2024-05-02T10:00:00Z",
                "public": False,
            },
        }
    }


def test_update_ticket_omits_empty_parts(mocked, client):
    """Only the parts that carry something are sent, besides the safe-update pair."""
    mocked.put(
        f"{BASE}/api/v2/tickets/42.json", json={"ticket": TICKET_JSON, "audit": {}}
    )

    client.update_ticket(TicketUpdate(42, "2024-05-01T10:05:07Z", tags=frozenset()))

    # An empty tag list is a change (every tag removed), so it is sent.
    assert body_of(mocked.calls[0]) == {
        "ticket": {
            "safe_update": True,
            "updated_stamp": "2024-05-01T10:05:07Z",
            "tags": [],
        }
    }


def test_empty_update_sends_nothing(mocked, client):
    """An update with nothing to write makes no request at all."""
    client.update_ticket(TicketUpdate(42, "2024-05-01T10:05:07Z"))

    assert len(mocked.calls) == 0


def test_datetime_field_value_is_refused_before_sending(mocked, client):
    """A datetime custom-field value raises TypeError instead of being truncated."""
    update = TicketUpdate(
        42,
        "2024-05-01T10:05:07Z",
        custom_fields={113: datetime(2024, 5, 2, tzinfo=UTC)},
    )

    with pytest.raises(TypeError):
        client.update_ticket(update)
    assert len(mocked.calls) == 0


def test_current_user_id_is_read_once(mocked, client):
    """current_user_id GETs users/me once and caches the id on the client."""
    mocked.get(
        f"{BASE}/api/v2/users/me.json", json={"user": {"id": 9, "role": "admin"}}
    )

    assert client.current_user_id() == 9
    assert client.current_user_id() == 9
    assert len(mocked.calls) == 1


def test_anonymous_me_is_auth_failure(mocked, client):
    """users/me answering an anonymous user (id null) means we are not authenticated."""
    mocked.get(f"{BASE}/api/v2/users/me.json", json={"user": {"id": None}})

    with pytest.raises(AuthFailed):
        client.current_user_id()


def test_get_organization_parses_fields(mocked, client):
    """get_organization returns the org's name, external id, fields by key and tags."""
    mocked.get(
        f"{BASE}/api/v2/organizations/7.json",
        json={
            "organization": {
                "id": 7,
                "name": "Initech",
                "external_id": "crm-7",
                "tags": ["enterprise"],
                "organization_fields": {
                    "enterprise_support": True,
                    "support_plan": "ultra",
                },
            }
        },
    )

    org = client.get_organization(7)

    assert (org.id, org.name, org.external_id) == (7, "Initech", "crm-7")
    assert dict(org.fields) == {"enterprise_support": True, "support_plan": "ultra"}
    assert org.tags == frozenset({"enterprise"})


def test_update_organization_fields_puts_only_those_fields(mocked, client):
    """update_organization_fields PUTs organization_fields and nothing else."""
    mocked.put(
        f"{BASE}/api/v2/organizations/7.json",
        json={
            "organization": {
                "id": 7,
                "name": "Initech",
                "organization_fields": {"a": 1},
            }
        },
    )

    org = client.update_organization_fields(7, {"support_plan": "enterprise"})

    assert len(mocked.calls) == 1
    assert mocked.calls[0].request.method == "PUT"
    assert body_of(mocked.calls[0]) == {
        "organization": {"organization_fields": {"support_plan": "enterprise"}}
    }
    assert org.id == 7


def test_list_organization_fields(mocked, client):
    """list_organization_fields returns the field definitions."""
    mocked.get(
        f"{BASE}/api/v2/organization_fields.json",
        json={
            "organization_fields": [
                {"id": 1, "key": "support_plan", "type": "dropdown"}
            ],
            "next_page": None,
        },
    )

    assert client.list_organization_fields() == [
        {"id": 1, "key": "support_plan", "type": "dropdown"}
    ]


def org_json(org_id: int, external_id: str | None = None) -> dict[str, object]:
    return {
        "id": org_id,
        "name": f"Org {org_id}",
        "external_id": external_id,
        "organization_fields": {"support_plan": "ultra"},
    }


def test_list_organizations_follows_cursor_pages(mocked, client):
    """list_organizations asks for pages of 100 and follows links.next to the end."""
    nxt = f"{BASE}/api/v2/organizations.json?page%5Bsize%5D=100&page%5Bafter%5D=c1"
    mocked.get(
        nxt,
        match=[
            responses.matchers.query_param_matcher(
                {"page[size]": "100", "page[after]": "c1"}
            )
        ],
        json={
            "organizations": [org_json(9)],
            "meta": {"has_more": False, "after_cursor": "c2"},
            "links": {"next": None},
        },
    )
    mocked.get(
        f"{BASE}/api/v2/organizations.json",
        match=[responses.matchers.query_param_matcher({"page[size]": "100"})],
        json={
            "organizations": [org_json(7, "crm-7"), org_json(8)],
            "meta": {"has_more": True, "after_cursor": "c1"},
            "links": {"next": nxt},
        },
    )

    orgs = client.list_organizations()

    assert [(o.id, o.external_id) for o in orgs] == [
        (7, "crm-7"),
        (8, None),
        (9, None),
    ]
    assert dict(orgs[0].fields) == {"support_plan": "ultra"}
    assert len(mocked.calls) == 2


def test_list_organizations_reads_more_pages_than_a_ticket_has(mocked, client):
    """An account with more organizations than MAX_PAGES pages is read to the end."""
    pages = 75

    def page(request):
        after = int(request.params.get("page[after]", 0))
        more = after + 1 < pages
        nxt = f"{BASE}/api/v2/organizations.json?page%5Bafter%5D={after + 1}"
        body = {
            "organizations": [org_json(after + 1)],
            "meta": {"has_more": more},
            "links": {"next": nxt if more else None},
        }
        return 200, {}, json.dumps(body)

    mocked.add_callback(
        responses.GET,
        re.compile(rf"{re.escape(BASE)}/api/v2/organizations\.json.*"),
        callback=page,
    )

    assert [o.id for o in client.list_organizations()] == list(range(1, pages + 1))


def test_find_organization_by_external_id(mocked, client):
    """find_organization searches by external_id and matches it case-insensitively."""
    mocked.get(
        f"{BASE}/api/v2/organizations/search.json",
        match=[responses.matchers.query_param_matcher({"external_id": "CRM-7"})],
        json={"organizations": [org_json(7, "crm-7")], "count": 1},
    )

    org = client.find_organization("CRM-7")

    assert org is not None and (org.id, org.external_id) == (7, "crm-7")
    assert dict(org.fields) == {"support_plan": "ultra"}
    assert len(mocked.calls) == 1


def test_find_organization_without_a_match_is_none(mocked, client):
    """An empty search result, or only other external ids, means no organization."""
    mocked.get(
        f"{BASE}/api/v2/organizations/search.json",
        match=[responses.matchers.query_param_matcher({"external_id": "nobody"})],
        json={"organizations": [], "count": 0},
    )
    mocked.get(
        f"{BASE}/api/v2/organizations/search.json",
        match=[responses.matchers.query_param_matcher({"external_id": "crm"})],
        json={"organizations": [org_json(7, "crm-7")], "count": 1},
    )

    assert client.find_organization("nobody") is None
    assert client.find_organization("crm") is None


def test_find_organization_without_organizations_key_is_transient(mocked, client):
    """A search answer without an organizations list is a malformed response."""
    mocked.get(f"{BASE}/api/v2/organizations/search.json", json={"count": 0})

    with pytest.raises(Transient):
        client.find_organization("crm-7")


def test_ticket_url_and_account():
    """ticket_url points at the agent workspace; account is the subdomain."""
    zd = ZendeskClient("acme", email="bot@acme.test", api_token=Secret(TOKEN))
    assert zd.ticket_url(42) == "https://acme.zendesk.com/agent/tickets/42"
    assert zd.account == "acme"
    zd.close()


def test_url_override_rewrites_requests_and_keeps_account(mocked):
    """SIDECAR_ZENDESK_URL sends requests to the override but keeps account/paths."""
    config = Config(
        zendesk_subdomain="acme",
        zendesk_email="bot@acme.test",
        zendesk_api_token=Secret(TOKEN),
        zendesk_url="http://127.0.0.1:9/zd/",
    )
    mocked.get(
        "http://127.0.0.1:9/zd/api/v2/tickets/42.json", json={"ticket": TICKET_JSON}
    )

    with ZendeskClient.from_config(config) as zd:
        assert zd.get_ticket(42).id == 42
        assert zd.account == "acme"
        # Links are for agents: they point at the account, never at a proxy.
        assert zd.ticket_url(42) == "https://acme.zendesk.com/agent/tickets/42"
    assert mocked.calls[0].request.url.split("?")[0] == (
        "http://127.0.0.1:9/zd/api/v2/tickets/42.json"
    )


def test_url_override_leaves_no_process_global_state(mocked):
    """A client with an override does not redirect another client's requests."""
    config = Config(
        zendesk_subdomain="acme",
        zendesk_email="bot@acme.test",
        zendesk_api_token=Secret(TOKEN),
        zendesk_url="http://127.0.0.1:9",
    )
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": TICKET_JSON})

    with (
        ZendeskClient.from_config(config),
        ZendeskClient("acme", email="bot@acme.test", api_token=Secret(TOKEN)) as plain,
    ):
        plain.get_ticket(42)
    assert mocked.calls[0].request.url.split("?")[0] == f"{BASE}/api/v2/tickets/42.json"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, Rejected),
        (401, AuthFailed),
        (403, AuthFailed),
        (404, NotFound),
        (409, Conflict),
        (422, Rejected),
        (429, RateLimited),
        (500, Transient),
        (502, Transient),
        (503, Transient),
    ],
)
def test_status_maps_to_sidecar_error(mocked, client, no_sleep, status, error):
    """Each HTTP status raises its sidecar error, after exactly one request."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42.json", status=status, json={"error": "Something"}
    )

    with pytest.raises(error) as info:
        client.get_ticket(42)

    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.service == "zendesk"
    assert "GET /api/v2/tickets/42.json" in str(info.value)
    assert str(status) in str(info.value)
    assert len(mocked.calls) == 1


def test_429_raises_rate_limited_with_retry_after_without_sleeping(
    mocked, client, no_sleep
):
    """A 429 with Retry-After raises RateLimited(retry_after) at once, no sleep."""
    mocked.put(
        f"{BASE}/api/v2/tickets/42.json",
        status=429,
        headers={"Retry-After": "37"},
        json={"error": "APIRateLimitExceeded"},
    )

    with pytest.raises(RateLimited) as info:
        client.update_ticket(TicketUpdate(42, "s", tags=frozenset({"a"})))

    assert info.value.retry_after == 37.0
    assert info.value.retryable
    assert len(mocked.calls) == 1


def test_503_retry_after_is_kept_and_not_retried(mocked, client, no_sleep):
    """A 503 is Transient with its Retry-After, and no transparent retry happens."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42.json", status=503, headers={"Retry-After": "5"}
    )

    with pytest.raises(Transient) as info:
        client.get_ticket(42)

    assert info.value.retry_after == 5.0
    assert len(mocked.calls) == 1


def test_5xx_with_html_body_is_transient(mocked, client):
    """A 502 with a non-JSON (HTML) body maps to Transient, not a parsing error."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42.json",
        status=502,
        body="<html><body>Bad Gateway</body></html>",
        content_type="text/html",
    )

    with pytest.raises(Transient) as info:
        client.get_ticket(42)
    assert info.value.status == 502


def test_200_with_html_body_is_transient(mocked, client):
    """A 2xx that is not JSON (a proxy page) is Transient, not a crash."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", body="<html>login</html>")

    with pytest.raises(Transient):
        client.get_ticket(42)


def test_malformed_ticket_is_a_bad_response(mocked, client):
    """A ticket JSON missing required keys raises BadResponse (not retried) naming
    the field and the path."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": {"id": 42}})

    with pytest.raises(BadResponse, match=r"ticket 42: .*/api/v2/tickets/42\.json"):
        client.get_ticket(42)


def test_connection_error_is_transient(mocked, client):
    """A refused connection maps to Transient."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42.json", body=requests.ConnectionError("refused")
    )

    with pytest.raises(Transient, match="connection failed"):
        client.get_ticket(42)


def test_timeout_is_transient(mocked, client):
    """A read timeout maps to Transient."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", body=requests.ReadTimeout("slow"))

    with pytest.raises(Transient, match="timed out"):
        client.get_ticket(42)


def test_requests_carry_a_timeout(mocked, client):
    """Every request is sent with a bounded (connect, read) timeout."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": TICKET_JSON})

    client.get_ticket(42)

    timeout = mocked.calls[0].request.req_kwargs["timeout"]
    assert timeout is not None
    assert all(0 < part <= 30 for part in timeout)


@pytest.mark.parametrize("status", [401, 404, 409, 429, 500])
def test_no_secret_in_errors_or_reprs(mocked, status):
    """Neither error messages nor reprs ever contain the API or OAuth token."""
    mocked.get(f"{BASE}/api/v2/tickets/42.json", status=status, json={"error": "X"})
    for zd in (
        ZendeskClient("acme", email="bot@acme.test", api_token=Secret(TOKEN)),
        ZendeskClient("acme", oauth_token=Secret(OAUTH)),
    ):
        with pytest.raises(UpstreamError) as info:
            zd.get_ticket(42)
        texts = [str(info.value), repr(info.value), repr(zd), str(info.value.args)]
        b64 = base64.b64encode(f"bot@acme.test/token:{TOKEN}".encode()).decode()
        for text in texts:
            assert TOKEN not in text
            assert OAUTH not in text
            assert b64 not in text
        assert info.value.__cause__ is None
        zd.close()


def test_missing_credentials_is_config_error():
    """A config without a token raises ConfigError naming the variables, not values."""
    with pytest.raises(ConfigError, match="SIDECAR_ZENDESK_API_TOKEN"):
        ZendeskClient.from_config(
            Config(zendesk_subdomain="acme", zendesk_email="bot@acme.test")
        )


def test_override_with_credentials_in_url_is_refused():
    """An override URL carrying user:password is refused without echoing it."""
    with pytest.raises(ConfigError) as info:
        ZendeskClient(
            "acme",
            oauth_token=Secret(OAUTH),
            base_url="https://user:hunter2@proxy.example",
        )
    assert "hunter2" not in str(info.value)
