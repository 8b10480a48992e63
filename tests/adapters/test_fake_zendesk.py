"""ZendeskClient against FakeZendesk over real HTTP on 127.0.0.1 (URL override)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from sidecar.config import Secret
from sidecar.errors import AuthFailed, Conflict, NotFound, RateLimited, Transient
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.models import TicketUpdate
from tests.fake_zendesk import CONFLICT_BODY, FakeZendesk, WriteEvent


@pytest.fixture
def fake():
    """A running fake Zendesk, stopped after the test."""
    with FakeZendesk() as zd:
        yield zd
        assert zd.errors == []


@pytest.fixture
def client(fake):
    """A client pointed at the fake through SIDECAR_ZENDESK_URL."""
    with ZendeskClient.from_config(fake.config()) as zd:
        yield zd


def test_reads_ticket_comments_and_org_over_http(fake, client):
    """The client reads a ticket, its comments with roles, and its org from the fake."""
    org = fake.add_org(fields={"enterprise_support": True, "support_plan": "ultra"})
    agent = fake.add_user(role="agent")
    tid = fake.add_ticket(
        organization_id=org,
        created_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        tags=["vip"],
        custom_fields={111: "sev_3"},
    )
    fake.add_comment(tid, agent, at="2024-05-01T10:30:00Z")

    ticket = client.get_ticket(tid)
    comments = client.list_comments(tid)
    organization = client.get_organization(org)

    assert ticket.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert ticket.tags == frozenset({"vip"})
    assert dict(ticket.custom_fields) == {111: "sev_3"}
    assert ticket.updated_stamp == fake.ticket(tid).updated_at
    assert [(c.author_role, c.public) for c in comments] == [
        ("end-user", True),
        ("agent", True),
    ]
    assert organization.fields["support_plan"] == "ultra"
    assert [c.path for c in fake.calls(method="GET")] == [
        f"/api/v2/tickets/{tid}.json",
        f"/api/v2/tickets/{tid}/comments.json",
        f"/api/v2/organizations/{org}.json",
    ]
    assert fake.calls(path_contains="comments")[0].query == {"include": "users"}


def test_comment_pagination_over_http(fake, client):
    """Comments spanning several pages are all returned, following next_page."""
    fake.comments_page_size = 2
    agent = fake.add_user(role="agent")
    tid = fake.add_ticket()
    for _ in range(4):
        fake.add_comment(tid, agent)

    comments = client.list_comments(tid)

    assert len(comments) == 5
    assert len(fake.calls(path_contains="comments")) == 3
    assert {c.author_role for c in comments[1:]} == {"agent"}


def test_safe_update_writes_and_bumps_stamp(fake, client):
    """A safe update with the current stamp is applied and moves updated_at forward."""
    tid = fake.add_ticket(tags=["keep", "sla_pending"])
    before = client.get_ticket(tid)

    client.update_ticket(
        TicketUpdate(
            tid,
            before.updated_stamp,
            custom_fields={113: "2024-05-02T10:00:00Z"},
            additional_tags=frozenset({"sla_met"}),
            remove_tags=frozenset({"sla_pending"}),
            private_note="due 2024-05-02T10:00:00Z",
        )
    )

    after = fake.ticket(tid)
    assert after.tags == {"keep", "sla_met"}
    assert after.custom_fields[113] == "2024-05-02T10:00:00Z"
    assert after.updated_at > before.updated_stamp
    note = fake.comments(tid)[-1]
    assert (note.author_id, note.public, note.body) == (
        fake.api_user_id,
        False,
        "due 2024-05-02T10:00:00Z",
    )


def test_stale_stamp_raises_conflict_and_changes_nothing(fake, client):
    """A safe update with a stale stamp raises Conflict and changes nothing."""
    agent = fake.add_user(role="agent")
    tid = fake.add_ticket(tags=["a"])
    stale = client.get_ticket(tid).updated_stamp
    fake.add_comment(tid, agent)  # someone else updates the ticket meanwhile

    with pytest.raises(Conflict) as info:
        client.update_ticket(TicketUpdate(tid, stale, additional_tags=frozenset({"b"})))

    assert "UpdateConflict" in str(info.value)
    assert fake.ticket(tid).tags == {"a"}
    assert fake.calls(method="PUT")[0].json["ticket"]["updated_stamp"] == stale


def test_two_writes_in_the_same_second_get_distinct_stamps(fake, client):
    """Back-to-back writes each move updated_at, so the first stamp turns stale."""
    tid = fake.add_ticket()
    first = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, first, additional_tags=frozenset({"x"})))
    second = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, second, additional_tags=frozenset({"y"})))

    assert first < second < fake.ticket(tid).updated_at
    with pytest.raises(Conflict):
        client.update_ticket(
            TicketUpdate(tid, second, additional_tags=frozenset({"z"}))
        )


def test_tag_semantics_add_remove_and_replace(fake):
    """additional_tags adds, remove_tags removes, tags replaces the whole set."""
    tid = fake.add_ticket(tags=["a", "b"])

    def put(body: dict) -> int:
        return requests.put(
            f"{fake.url}/api/v2/tickets/{tid}.json",
            json={"ticket": body},
            auth=(f"{fake.email}/token", fake.api_token),
            timeout=5,
        ).status_code

    assert put({"additional_tags": ["c"], "remove_tags": ["a"]}) == 200
    assert fake.ticket(tid).tags == {"b", "c"}
    assert put({"tags": ["only"]}) == 200
    assert fake.ticket(tid).tags == {"only"}


def test_put_without_safe_update_ignores_stamp(fake):
    """Without safe_update a stale stamp does not matter (Zendesk semantics)."""
    tid = fake.add_ticket(tags=["a"])
    answer = requests.put(
        f"{fake.url}/api/v2/tickets/{tid}.json",
        json={
            "ticket": {
                "updated_stamp": "2000-01-01T00:00:00Z",
                "additional_tags": ["b"],
            }
        },
        auth=(f"{fake.email}/token", fake.api_token),
        timeout=5,
    )
    assert answer.status_code == 200
    assert set(answer.json()["ticket"]["tags"]) == {"a", "b"}
    assert "audit" in answer.json()


def test_conflict_body_matches_zendesk(fake):
    """The fake's 409 body is Zendesk's UpdateConflict error."""
    tid = fake.add_ticket()
    answer = requests.put(
        f"{fake.url}/api/v2/tickets/{tid}.json",
        json={"ticket": {"safe_update": True, "updated_stamp": "2000-01-01T00:00:00Z"}},
        auth=(f"{fake.email}/token", fake.api_token),
        timeout=5,
    )
    assert answer.status_code == 409
    assert answer.json() == CONFLICT_BODY


def test_followers_and_custom_fields_merge_by_id(fake, client):
    """Custom fields merge by id and followers are added, not replaced."""
    agent = fake.add_user(role="agent")
    tid = fake.add_ticket(
        custom_fields={111: "sev_2", 113: "old"}, follower_ids=[agent]
    )
    other = fake.add_user(role="agent")
    stamp = client.get_ticket(tid).updated_stamp

    client.update_ticket(
        TicketUpdate(
            tid, stamp, custom_fields={113: None}, add_follower_ids=frozenset({other})
        )
    )

    after = fake.ticket(tid)
    assert after.custom_fields == {111: "sev_2", 113: None}
    assert after.follower_ids == [agent, other]
    assert client.get_ticket(tid).follower_ids == (agent, other)


def test_injected_429_raises_rate_limited_once_then_succeeds(fake, client):
    """An injected 429 gives RateLimited(retry_after), then normal service."""
    tid = fake.add_ticket()
    fake.fail_next(1, 429, retry_after=30, path_contains="/tickets/")

    with pytest.raises(RateLimited) as info:
        client.get_ticket(tid)

    assert info.value.retry_after == 30.0
    assert len(fake.calls()) == 1
    assert client.get_ticket(tid).id == tid


def test_injected_5xx_html_is_transient(fake, client):
    """An injected 503 with an HTML body maps to Transient, without retries."""
    tid = fake.add_ticket()
    fake.fail_next(2, 503, body="<html>maintenance</html>")

    for _ in range(2):
        with pytest.raises(Transient):
            client.get_ticket(tid)
    assert len(fake.calls()) == 2
    assert client.get_ticket(tid).id == tid


def test_slow_response_times_out_as_transient(fake):
    """A delayed answer beyond the read timeout raises Transient."""
    tid = fake.add_ticket()
    fake.delay(2.0, path_contains="/tickets/", count=1)

    with ZendeskClient.from_config(fake.config(), timeout=(1.0, 0.2)) as zd:
        with pytest.raises(Transient, match="timed out"):
            zd.get_ticket(tid)
        assert zd.get_ticket(tid).id == tid


def test_wrong_token_is_auth_failed(fake):
    """A wrong API token gets 401 from the fake and AuthFailed from the client."""
    config = fake.config(zendesk_api_token=Secret("wrong-token"))
    with ZendeskClient.from_config(config) as zd, pytest.raises(AuthFailed):
        zd.current_user_id()


def test_oauth_token_is_accepted_when_configured():
    """A fake configured with an OAuth token accepts Bearer auth and rejects others."""
    with FakeZendesk(oauth_token="bearer-1") as fake:
        config = fake.config(
            zendesk_api_token=None, zendesk_oauth_token=Secret("bearer-1")
        )
        with ZendeskClient.from_config(config) as zd:
            assert zd.current_user_id() == fake.api_user_id
        bad = fake.config(zendesk_api_token=None, zendesk_oauth_token=Secret("nope"))
        with ZendeskClient.from_config(bad) as zd, pytest.raises(AuthFailed):
            zd.current_user_id()


def test_unknown_ticket_and_org_are_not_found(fake, client):
    """Unknown ids answer 404 and the client raises NotFound."""
    with pytest.raises(NotFound):
        client.get_ticket(999)
    with pytest.raises(NotFound):
        client.get_organization(999)


def test_update_organization_fields_merges(fake, client):
    """update_organization_fields sets the given keys and keeps the others."""
    org = fake.add_org(fields={"enterprise_support": True, "support_plan": "basic"})

    updated = client.update_organization_fields(org, {"support_plan": "ultra"})

    assert dict(updated.fields) == {"enterprise_support": True, "support_plan": "ultra"}
    assert fake.organization(org)["organization_fields"]["support_plan"] == "ultra"
    assert fake.calls(method="PUT")[0].json == {
        "organization": {"organization_fields": {"support_plan": "ultra"}}
    }


def test_list_organizations_pages_through_cursor_links(fake, client):
    """All organizations come back in id order across cursor pages of the fake."""
    fake.orgs_page_size = 2
    ids = [fake.add_org(fields={"support_plan": "team"}) for _ in range(5)]

    orgs = client.list_organizations()

    assert [o.id for o in orgs] == sorted(ids)
    assert {o.fields["support_plan"] for o in orgs} == {"team"}
    calls = fake.calls("GET", "/api/v2/organizations.json")
    assert [c.query for c in calls] == [
        {"page[size]": "100"},
        {"page[size]": "2", "page[after]": str(sorted(ids)[1])},
        {"page[size]": "2", "page[after]": str(sorted(ids)[3])},
    ]


def test_find_organization_by_external_id_ignores_case(fake, client):
    """Search by external id finds the org whatever the case, and None otherwise."""
    fake.add_org(name="Other", external_id="crm-1")
    oid = fake.add_org(name="Initech", external_id="Crm-7")

    found = client.find_organization("cRM-7")

    assert found is not None and (found.id, found.name) == (oid, "Initech")
    assert client.find_organization("crm-9") is None
    assert [c.query for c in fake.calls("GET", "/organizations/search")] == [
        {"external_id": "cRM-7"},
        {"external_id": "crm-9"},
    ]


def test_setup_listings(fake, client):
    """Organization and ticket field listings come back from the fake."""
    fake.add_ticket_field(113, title="SLA due at")

    keys = {f["key"] for f in client.list_organization_fields()}
    ticket_fields = client.list_ticket_fields()

    assert {"enterprise_support", "support_plan"} <= keys
    assert [(f["id"], f["title"]) for f in ticket_fields] == [(113, "SLA due at")]


def test_on_write_hook_sees_each_successful_write(fake, client):
    """on_write callbacks run once per successful PUT and report changed."""
    seen: list[WriteEvent] = []
    done = threading.Event()

    def hook(event: WriteEvent) -> None:
        seen.append(event)
        done.set()

    fake.on_write(hook)
    tid = fake.add_ticket(tags=["a"])
    stamp = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, stamp, additional_tags=frozenset({"b"})))
    assert done.wait(5)
    done.clear()
    stamp = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, stamp, additional_tags=frozenset({"b"})))
    assert done.wait(5)

    assert [(e.resource, e.id, e.changed) for e in seen] == [
        ("ticket", tid, True),
        ("ticket", tid, False),
    ]
    assert fake.ticket(tid).updated_at == stamp  # a no-op write moves no stamp


def test_request_log_is_thread_safe_under_concurrency(fake):
    """Concurrent clients (one per thread) are all served and all logged."""
    tid = fake.add_ticket()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with ZendeskClient.from_config(fake.config()) as zd:
                for _ in range(5):
                    zd.get_ticket(tid)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert errors == []
    assert len(fake.calls(method="GET", path_contains=f"/tickets/{tid}")) == 40


def test_stop_releases_a_delayed_request():
    """stop() wakes a request held by delay() instead of waiting it out."""
    fake = FakeZendesk().start()
    fake.delay(60)
    results: list[int] = []

    def call() -> None:
        results.append(
            requests.get(f"{fake.url}/api/v2/users/me.json", timeout=30).status_code
        )

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 5
    while not fake.calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    fake.stop()
    worker.join(10)

    assert results == [503]


def test_zenpy_object_api_follows_the_override(fake, client):
    """zenpy's object API on the client's session reaches the fake and deserializes."""
    tid = fake.add_ticket(subject="via zenpy")

    ticket = client.zenpy.tickets(id=tid)

    assert ticket.subject == "via zenpy"  # a zenpy Ticket, not a raw Response
    assert fake.calls()[0].path == f"/api/v2/tickets/{tid}.json"


def test_open_ticket_ids_of_an_organization_over_pages() -> None:
    """The client finds an organization's unsolved tickets through search, across pages."""
    with FakeZendesk() as fake:
        org = fake.add_org(name="Acme")
        other = fake.add_org(name="Other")
        open_ids = [
            fake.add_ticket(organization_id=org, status=s)
            for s in ("new", "open", "pending", "hold")
        ]
        fake.add_ticket(organization_id=org, status="solved")
        fake.add_ticket(organization_id=other, status="open")
        extra = [fake.add_ticket(organization_id=org) for _ in range(150)]
        with ZendeskClient.from_config(fake.config()) as client:
            found = client.open_ticket_ids(org)
        assert sorted(found) == sorted(open_ids + extra)
        searches = fake.calls(path_contains="/search.json")
        assert len(searches) == 2
        assert (
            searches[0].query["query"]
            == f"type:ticket organization:{org} status<solved"
        )
