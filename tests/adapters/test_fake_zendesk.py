"""ZendeskClient against FakeZendesk over real HTTP on 127.0.0.1 (URL override)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sidecar.config import Secret
from sidecar.domain.models import TicketUpdate
from sidecar.errors import AuthFailed, Conflict, NotFound, RateLimited, Transient
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import CONFLICT_BODY, FakeZendesk, WriteEvent
from tests.zendesk_contract import (
    CLOSED_TICKET_BODY,
    SEARCH_LIMIT_BODY,
    TOO_RECENT_START_TIME_BODY,
)


def put_ticket(fake: FakeZendesk, tid: int, body: dict[str, Any]) -> requests.Response:
    """PUT /api/v2/tickets/{tid}.json with the fake's credentials."""
    return requests.put(
        f"{fake.url}/api/v2/tickets/{tid}.json",
        json={"ticket": body},
        auth=(f"{fake.email}/token", fake.api_token),
        timeout=5,
    )


def get(fake: FakeZendesk, path: str, **params: str) -> requests.Response:
    """GET a path of the fake with its credentials."""
    return requests.get(
        f"{fake.url}{path}",
        params=params,
        auth=(f"{fake.email}/token", fake.api_token),
        timeout=5,
    )


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
            tags=frozenset({"keep", "sla_met"}),
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
        client.update_ticket(TicketUpdate(tid, stale, tags=frozenset({"a", "b"})))

    assert "UpdateConflict" in str(info.value)
    assert fake.ticket(tid).tags == {"a"}
    assert fake.calls(method="PUT")[0].json["ticket"]["updated_stamp"] == stale


def test_two_writes_in_the_same_second_get_distinct_stamps(fake, client):
    """Back-to-back writes each move updated_at, so the first stamp turns stale."""
    tid = fake.add_ticket()
    first = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, first, tags=frozenset({"x"})))
    second = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, second, tags=frozenset({"x", "y"})))

    assert first < second < fake.ticket(tid).updated_at
    with pytest.raises(Conflict):
        client.update_ticket(TicketUpdate(tid, second, tags=frozenset({"z"})))


def test_single_put_ignores_and_records_bulk_only_tag_verbs(fake):
    """On a single-ticket PUT additional_tags/remove_tags do nothing and are recorded."""
    tid = fake.add_ticket(tags=["a", "b"])
    before = fake.ticket(tid).updated_at

    answer = put_ticket(fake, tid, {"additional_tags": ["c"], "remove_tags": ["a"]})

    assert answer.status_code == 200
    assert fake.ticket(tid).tags == {"a", "b"}
    assert fake.ticket(tid).updated_at == before  # nothing changed, no event
    path = f"/api/v2/tickets/{tid}.json"
    assert fake.ignored_properties == [(path, "additional_tags"), (path, "remove_tags")]


def test_single_put_tags_replace_the_tag_set(fake):
    """A single-ticket PUT's tags list replaces the ticket's tags."""
    tid = fake.add_ticket(tags=["a", "b"])

    assert put_ticket(fake, tid, {"tags": ["only"]}).status_code == 200

    assert fake.ticket(tid).tags == {"only"}
    assert fake.ignored_properties == []


def test_properties_outside_ticket_update_input_are_ignored(fake):
    """Any property not in OAS TicketUpdateInput (or metadata) is ignored and recorded."""
    tid = fake.add_ticket(subject="old")

    answer = put_ticket(
        fake,
        tid,
        {"subject": "new", "id": 999, "description": "x", "metadata": {"k": "v"}},
    )

    assert answer.status_code == 200
    assert fake.ticket(tid).subject == "new"
    assert answer.json()["audit"]["metadata"]["custom"] == {"k": "v"}
    path = f"/api/v2/tickets/{tid}.json"
    assert fake.ignored_properties == [(path, "id"), (path, "description")]


def test_put_without_safe_update_ignores_stamp(fake):
    """Without safe_update a stale stamp does not matter (Zendesk semantics)."""
    tid = fake.add_ticket(tags=["a"])
    answer = requests.put(
        f"{fake.url}/api/v2/tickets/{tid}.json",
        json={"ticket": {"updated_stamp": "2000-01-01T00:00:00Z", "tags": ["a", "b"]}},
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
    client.update_ticket(TicketUpdate(tid, stamp, tags=frozenset({"a", "b"})))
    assert done.wait(5)
    done.clear()
    stamp = client.get_ticket(tid).updated_stamp
    client.update_ticket(TicketUpdate(tid, stamp, tags=frozenset({"a", "b"})))
    assert done.wait(5)

    assert [(e.resource, e.id, e.changed, e.user_id) for e in seen] == [
        ("ticket", tid, True, fake.api_user_id),
        ("ticket", tid, False, fake.api_user_id),
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


def test_open_ticket_ids_of_an_organization_over_pages() -> None:
    """The client finds an organization's unsolved tickets by listing them, across pages."""
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
        assert fake.calls(path_contains="/search.json") == []
        listings = fake.calls("GET", f"/organizations/{org}/tickets")
        assert len(listings) == 2  # 155 tickets at 100 a page


# --- the published contract (tests/zendesk_contract.py) ------------------------

SEVERITY = 5001
SEVERITY_OPTIONS = [("SEV 1", "sev_1"), ("SEV 2", "sev_2"), ("SEV 3", "sev_3")]
LONG_AGO = datetime.now(UTC) - timedelta(hours=2)


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_severity_field(fake: FakeZendesk) -> None:
    """Define the Issue Severity dropdown with its option tags."""
    fake.add_ticket_field(
        SEVERITY, title="Issue Severity", type="tagger", options=SEVERITY_OPTIONS
    )


def test_tagger_field_lists_its_options(fake):
    """A tagger field is listed with custom_field_options {name, value}."""
    with_severity_field(fake)

    (listed,) = get(fake, "/api/v2/ticket_fields.json").json()["ticket_fields"]

    assert [(o["name"], o["value"]) for o in listed["custom_field_options"]] == (
        SEVERITY_OPTIONS
    )


def test_setting_a_dropdown_adds_its_tag_and_removes_the_previous_one(fake):
    """Selecting an option adds its tag; the previous option's tag goes."""
    with_severity_field(fake)
    tid = fake.add_ticket(tags=["vip"], custom_fields={SEVERITY: "sev_3"})
    assert fake.ticket(tid).tags == {"vip", "sev_3"}

    put_ticket(fake, tid, {"custom_fields": [{"id": SEVERITY, "value": "sev_1"}]})

    after = fake.ticket(tid)
    assert after.custom_fields[SEVERITY] == "sev_1"
    assert after.tags == {"vip", "sev_1"}


def test_a_tag_list_without_the_option_tag_clears_the_dropdown(fake):
    """A full tags list that drops the selected option's tag clears the field."""
    with_severity_field(fake)
    tid = fake.add_ticket(tags=["vip", "sev_2"])
    assert fake.ticket(tid).custom_fields[SEVERITY] == "sev_2"

    put_ticket(fake, tid, {"tags": ["vip", "sla_pending"]})

    after = fake.ticket(tid)
    assert after.custom_fields[SEVERITY] is None
    assert after.tags == {"vip", "sla_pending"}


def test_adding_another_option_tag_swaps_the_selection(fake):
    """Adding another option's tag selects that option and drops the old tag."""
    with_severity_field(fake)
    tid = fake.add_ticket(custom_fields={SEVERITY: "sev_3"})

    put_ticket(fake, tid, {"tags": ["sev_3", "sev_1"]})

    after = fake.ticket(tid)
    assert after.custom_fields[SEVERITY] == "sev_1"
    assert after.tags == {"sev_1"}


def test_agent_helper_keeps_dropdown_and_tags_coupled(fake):
    """update_ticket (an agent's edit) couples the dropdown and its tags too."""
    with_severity_field(fake)
    tid = fake.add_ticket(custom_fields={SEVERITY: "sev_3"})

    fake.update_ticket(tid, custom_fields={SEVERITY: "sev_2"})

    assert fake.ticket(tid).tags == {"sev_2"}


def test_text_fields_are_not_coupled_to_tags(fake):
    """A text field's value never becomes a tag, and tags never change it."""
    text = fake.add_ticket_field(title="SLA due at")
    tid = fake.add_ticket(custom_fields={text: "sev_1"})

    put_ticket(fake, tid, {"tags": ["x"]})

    after = fake.ticket(tid)
    assert after.tags == {"x"}
    assert after.custom_fields[text] == "sev_1"


def test_a_dropdown_value_that_is_not_an_option_tag_is_dropped_without_an_error(fake):
    """Zendesk answers 2xx and keeps the old value (zenpy #332, #420; node-zendesk #132)."""
    with_severity_field(fake)
    tid = fake.add_ticket(custom_fields={SEVERITY: "sev_3"})

    answer = put_ticket(
        fake, tid, {"custom_fields": [{"id": SEVERITY, "value": "SEV 1"}]}
    )

    assert answer.status_code == 200
    assert fake.ticket(tid).custom_fields[SEVERITY] == "sev_3"
    assert fake.ticket(tid).tags == {"sev_3"}
    assert fake.dropped_values == [(f"/api/v2/tickets/{tid}.json", SEVERITY, "SEV 1")]


def test_a_ticket_created_with_an_unknown_dropdown_value_has_none(fake):
    """Create with a value that is not an option tag: 201, the field is empty, no tag."""
    with_severity_field(fake)
    answer = requests.post(
        f"{fake.url}/api/v2/tickets.json",
        json={
            "ticket": {
                "comment": {"body": "Pushes fail"},
                "custom_fields": [{"id": SEVERITY, "value": "severity_1"}],
            }
        },
        auth=(f"{fake.email}/token", fake.api_token),
        timeout=5,
    )

    assert answer.status_code == 201
    created = answer.json()["ticket"]
    assert {"id": SEVERITY, "value": None} in created["custom_fields"]
    assert "severity_1" not in created["tags"]
    assert fake.dropped_values == [("/api/v2/tickets.json", SEVERITY, "severity_1")]


def test_closed_ticket_refuses_updates_with_422(fake):
    """Any update of a closed ticket answers Zendesk's 422 and changes nothing."""
    tid = fake.add_ticket(status="closed", tags=["a"])
    stamp = fake.ticket(tid).updated_at

    answer = put_ticket(
        fake, tid, {"tags": ["a", "b"], "safe_update": True, "updated_stamp": stamp}
    )

    assert answer.status_code == 422
    assert answer.json() == CLOSED_TICKET_BODY
    assert "closed prevents ticket update" in answer.text
    assert fake.ticket(tid).tags == {"a"}
    assert fake.ticket(tid).updated_at == stamp


def test_a_ticket_closed_after_the_read_answers_422_not_409(fake, client):
    """A ticket closed between our read and our write: the 422 wins over the 409."""
    tid = fake.add_ticket(status="solved")
    stale = client.get_ticket(tid).updated_stamp
    fake.update_ticket(tid, status="closed")

    answer = put_ticket(
        fake, tid, {"tags": ["b"], "safe_update": True, "updated_stamp": stale}
    )

    assert answer.status_code == 422


def test_deleted_ticket_is_404_on_show_update_and_comments(fake):
    """A deleted ticket answers 404 to show, comments and update."""
    tid = fake.add_ticket()
    fake.delete_ticket(tid)

    assert get(fake, f"/api/v2/tickets/{tid}.json").status_code == 404
    assert get(fake, f"/api/v2/tickets/{tid}/comments.json").status_code == 404
    assert put_ticket(fake, tid, {"tags": ["x"]}).status_code == 404
    assert fake.ticket(tid).tags == set()


def test_export_returns_deleted_tickets_unless_excluded():
    """The incremental export lists a deleted ticket with status deleted; exclude_deleted drops it."""
    with FakeZendesk(export_lag_seconds=0) as fake:
        kept = fake.add_ticket(created_at=LONG_AGO)
        gone = fake.add_ticket(created_at=LONG_AGO)
        fake.delete_ticket(gone)
        start = str(int((LONG_AGO - timedelta(minutes=1)).timestamp()))
        path = "/api/v2/incremental/tickets/cursor.json"

        every = get(fake, path, start_time=start).json()["tickets"]
        live = get(fake, path, start_time=start, exclude_deleted="true").json()

        assert {(t["id"], t["status"]) for t in every} == {
            (kept, "new"),
            (gone, "deleted"),
        }
        assert [t["id"] for t in live["tickets"]] == [kept]


def test_export_refuses_a_start_time_younger_than_a_minute(fake):
    """start_time less than one minute in the past answers 422 Too recent start_time."""
    recent = str(int(datetime.now(UTC).timestamp()) - 30)

    answer = get(fake, "/api/v2/incremental/tickets/cursor.json", start_time=recent)

    assert answer.status_code == 422
    assert answer.json() == TOO_RECENT_START_TIME_BODY
    old = str(int(datetime.now(UTC).timestamp()) - 120)
    ok = get(fake, "/api/v2/incremental/tickets/cursor.json", start_time=old)
    assert ok.status_code == 200


def test_export_pages_hold_at_most_1000_tickets():
    """per_page above 1,000 still gives 1,000 tickets a page."""
    with FakeZendesk(export_lag_seconds=0) as fake:
        for _ in range(1001):
            fake.add_ticket(created_at=LONG_AGO)
        start = str(int((LONG_AGO - timedelta(minutes=1)).timestamp()))

        page = get(
            fake,
            "/api/v2/incremental/tickets/cursor.json",
            start_time=start,
            per_page="5000",
        ).json()

        assert len(page["tickets"]) == 1000
        assert page["end_of_stream"] is False


def test_export_allows_10_requests_a_window_then_429():
    """The export endpoint has its own limit (10 a minute by default): 429 + Retry-After."""
    clock = ManualClock()
    with FakeZendesk(rate_clock=clock) as fake:
        start = str(int(LONG_AGO.timestamp()))
        path = "/api/v2/incremental/tickets/cursor.json"
        codes = [get(fake, path, start_time=start).status_code for _ in range(11)]
        limited = get(fake, path, start_time=start)

        assert codes == [200] * 10 + [429]
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) == 60
        clock.now += 60
        assert get(fake, path, start_time=start).status_code == 200


def test_ticket_updates_are_limited_per_account_with_headers():
    """Over the account's ticket-update limit: 429, Retry-After and the endpoint header."""
    clock = ManualClock()
    with FakeZendesk(
        ticket_updates_per_window=3, rate_window_seconds=2, rate_clock=clock
    ) as fake:
        tids = [fake.add_ticket() for _ in range(4)]
        answers = [put_ticket(fake, tid, {"subject": "x"}) for tid in tids]

        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["Zendesk-RateLimit-tickets-update"] == (
            "total=3; remaining=2; resets=2"
        )
        assert answers[3].headers["Retry-After"] == "2"
        assert answers[3].headers["Zendesk-RateLimit-tickets-update"] == (
            "total=3; remaining=0; resets=2"
        )
        assert fake.ticket(tids[3]).subject != "x"
        clock.now += 2
        assert put_ticket(fake, tids[3], {"subject": "x"}).status_code == 200


def test_default_ticket_update_limits_are_zendesks(fake):
    """By default the account may make 100 ticket updates a minute."""
    tid = fake.add_ticket()

    answer = put_ticket(fake, tid, {"subject": "x"})

    total, remaining, resets = answer.headers["Zendesk-RateLimit-tickets-update"].split(
        "; "
    )
    assert (total, remaining) == ("total=100", "remaining=99")
    assert resets == "resets=60"


def test_ticket_updates_are_limited_per_user_and_ticket():
    """30 updates per user per ticket per 10 minutes (here 2): the next one is a 429."""
    clock = ManualClock()
    with FakeZendesk(
        ticket_updates_per_user_ticket=2,
        user_ticket_window_seconds=600,
        rate_clock=clock,
    ) as fake:
        busy, other = fake.add_ticket(), fake.add_ticket()
        codes = [
            put_ticket(fake, busy, {"subject": str(n)}).status_code for n in range(3)
        ]

        assert codes == [200, 200, 429]
        assert put_ticket(fake, other, {"subject": "x"}).status_code == 200
        clock.now += 600
        assert put_ticket(fake, busy, {"subject": "y"}).status_code == 200


def test_agent_updates_consume_the_account_ticket_update_limit():
    """Agents' own updates count toward the 100/minute ticket-update limit."""
    clock = ManualClock()
    with FakeZendesk(ticket_updates_per_window=2, rate_clock=clock) as fake:
        agent = fake.add_user(role="agent")
        tid = fake.add_ticket()
        fake.update_ticket(tid, subject="by agent")
        fake.add_comment(tid, agent)

        assert put_ticket(fake, tid, {"subject": "ours"}).status_code == 429

    with FakeZendesk(
        ticket_updates_per_window=2, count_agent_updates=False, rate_clock=clock
    ) as fake:
        tid = fake.add_ticket()
        fake.update_ticket(tid, subject="by agent")
        fake.update_ticket(tid, subject="again")

        assert put_ticket(fake, tid, {"subject": "ours"}).status_code == 200


def test_account_request_limit_and_headers_on_every_answer():
    """Every answer carries the account limit headers; over the limit, 429."""
    clock = ManualClock()
    with FakeZendesk(account_requests_per_window=2, rate_clock=clock) as fake:
        tid = fake.add_ticket()
        first = get(fake, f"/api/v2/tickets/{tid}.json")
        missing = get(fake, "/api/v2/tickets/999.json")
        over = get(fake, f"/api/v2/tickets/{tid}.json")

        assert (first.headers["X-Rate-Limit"], first.headers["ratelimit-limit"]) == (
            "2",
            "2",
        )
        assert first.headers["X-Rate-Limit-Remaining"] == "1"
        assert first.headers["ratelimit-remaining"] == "1"
        assert first.headers["ratelimit-reset"] == "60"
        assert missing.status_code == 404
        assert missing.headers["X-Rate-Limit-Remaining"] == "0"
        assert over.status_code == 429
        assert over.headers["Retry-After"] == "60"
        clock.now += 60
        assert get(fake, f"/api/v2/tickets/{tid}.json").status_code == 200


def test_search_caps_at_1000_results_with_422_beyond(fake):
    """Search: 100 a page at most, count is the true total, page 11 is a 422."""
    org = fake.add_org()
    for _ in range(1005):
        fake.add_ticket(organization_id=org)
    query = f"type:ticket organization:{org} status<solved"

    first = get(fake, "/api/v2/search.json", query=query, per_page="500").json()
    tenth = get(fake, "/api/v2/search.json", query=query, page="10").json()
    eleventh = get(fake, "/api/v2/search.json", query=query, page="11")

    assert len(first["results"]) == 100
    assert first["count"] == 1005
    assert len(tenth["results"]) == 100
    assert "page=11" in tenth["next_page"]  # Zendesk still links past the cap
    assert eleventh.status_code == 422
    assert eleventh.json() == SEARCH_LIMIT_BODY


def test_search_lags_behind_new_tickets():
    """With an index lag, a ticket newer than the lag is not found yet; deleted never."""
    with FakeZendesk(search_index_lag_seconds=120) as fake:
        org = fake.add_org()
        old = fake.add_ticket(organization_id=org, created_at=LONG_AGO)
        fake.add_ticket(organization_id=org)
        fake.delete_ticket(fake.add_ticket(organization_id=org, created_at=LONG_AGO))
        query = f"type:ticket organization:{org} status<solved"

        found = get(fake, "/api/v2/search.json", query=query).json()

        assert [r["id"] for r in found["results"]] == [old]


def test_org_tickets_cursor_pagination_leaves_out_archived_and_deleted(fake):
    """List Tickets of an organization: cursor pages, no archived or deleted tickets."""
    org, other = fake.add_org(), fake.add_org()
    listed = [fake.add_ticket(organization_id=org) for _ in range(3)]
    archived = fake.add_ticket(organization_id=org, status="closed")
    fake.archive_ticket(archived)
    deleted = fake.add_ticket(organization_id=org)
    fake.delete_ticket(deleted)
    fake.add_ticket(organization_id=other)
    path = f"/api/v2/organizations/{org}/tickets.json"

    first = get(fake, path, **{"page[size]": "2"}).json()
    second = requests.get(
        first["links"]["next"], auth=(f"{fake.email}/token", fake.api_token), timeout=5
    ).json()

    assert [t["id"] for t in first["tickets"]] == listed[:2]
    assert first["meta"]["has_more"] is True
    assert first["meta"]["after_cursor"]
    assert [t["id"] for t in second["tickets"]] == listed[2:]
    assert second["meta"]["has_more"] is False
    assert second["links"]["next"] is None
    assert fake.ticket(archived).archived  # still readable
    assert get(fake, f"/api/v2/tickets/{archived}.json").status_code == 200


def test_ticket_list_page_size_is_capped_at_100_and_sorts(fake):
    """page[size] above 100 gives 100; sort=-id lists newest first."""
    created = [fake.add_ticket() for _ in range(105)]

    page = get(fake, "/api/v2/tickets.json", **{"page[size]": "500"}).json()
    newest = get(fake, "/api/v2/tickets.json", **{"page[size]": "2", "sort": "-id"})

    assert len(page["tickets"]) == 100
    ids = [t["id"] for t in newest.json()["tickets"]]
    assert ids == sorted(ids, reverse=True) and ids[0] == max(created)


def test_ticket_list_offset_fallback_and_its_10000_record_limit(fake):
    """Without page[size]: offset pages with count; past 10,000 records, 400."""
    org = fake.add_org()
    for _ in range(3):
        fake.add_ticket(organization_id=org)
    path = f"/api/v2/organizations/{org}/tickets.json"

    page = get(fake, path, per_page="2").json()
    beyond = get(fake, path, per_page="100", page="101")

    assert page["count"] == 3
    assert len(page["tickets"]) == 2
    assert "page=2" in page["next_page"]
    assert beyond.status_code == 400
    assert get(fake, "/api/v2/organizations/999/tickets.json").status_code == 404


def test_archive_needs_a_closed_ticket(fake):
    """Only closed tickets are archived."""
    tid = fake.add_ticket(status="open")
    with pytest.raises(ValueError, match="not closed"):
        fake.archive_ticket(tid)
