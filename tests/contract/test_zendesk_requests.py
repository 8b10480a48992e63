"""Every request ZendeskClient can send, checked against Zendesk's published contract.

The client is driven through each public method against a recording
`responses` double (tests/contract/zendesk_double.py); each captured request
must match a documented operation (method + path), carry only documented query
parameters, and send a body that validates against the closed schema fragment
in tests/contract/zendesk_oas.py. A new public client method without a case
here fails ``test_every_public_method_has_a_contract_case``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.config import Config, Secret
from sidecar.domain.models import TicketUpdate
from sidecar.zendesk.client import ZendeskClient
from tests.contract.admin_cases import drive_setup
from tests.contract.checker import Captured, find_operation, zendesk_violations
from tests.contract.zendesk_double import STAMP, SUBDOMAIN, ContractZendesk

# Ticket properties Zendesk honours only on the bulk `update_many` form
# ("Adding tags to tickets without overwriting existing tags").
BULK_ONLY = ("additional_tags", "remove_tags")


@pytest.fixture
def zendesk() -> Iterator[ContractZendesk]:
    with ContractZendesk() as double:
        yield double


@pytest.fixture
def client() -> Iterator[ZendeskClient]:
    with ZendeskClient(
        SUBDOMAIN, email="bot@acme.test", api_token=Secret("contract-token")
    ) as zd:
        yield zd


def describe(requests: list[Captured]) -> str:
    return "\n".join(f"  {r.method} {r.url} {r.body!r}" for r in requests)


def assert_on_contract(requests: list[Captured]) -> None:
    problems = [p for r in requests for p in zendesk_violations(r)]
    assert not problems, "\n".join(problems) + "\nrequests:\n" + describe(requests)


# --- every kind of ticket update --------------------------------------------

# One sample per TicketUpdate field (besides ticket_id/updated_stamp), keyed by
# field name: a new field without a sample fails test_every_update_field_has_a_sample.
UPDATE_SAMPLES: dict[str, Any] = {
    "custom_fields": {111: "sev_2", 112: "2024-05-01T12:00:00Z", 113: None},
    "tags": frozenset({"vip", "sev_1", "sla_pending"}),
    "previous_tags": frozenset({"vip", "sev_1"}),
    "add_follower_ids": frozenset({5, 6}),
    "private_note": "Paged on-call for SEV 1 (routing key: the organization's)",
    # Fields of the old write path, kept so the test still drives them while
    # they exist: sending them is exactly what the contract forbids.
    "additional_tags": frozenset({"sla_pending"}),
    "remove_tags": frozenset({"sla_at_risk"}),
}
UPDATE_FIXED = ("ticket_id", "updated_stamp")


def update_fields() -> list[str]:
    return [
        f.name for f in dataclasses.fields(TicketUpdate) if f.name not in UPDATE_FIXED
    ]


def one_kind_each() -> list[TicketUpdate]:
    """One update per field, one with every field, one that removes every tag."""
    base = {"ticket_id": 42, "updated_stamp": STAMP}
    present = {name: UPDATE_SAMPLES[name] for name in update_fields()}
    kinds = [TicketUpdate(**base, **{name: value}) for name, value in present.items()]
    kinds.append(TicketUpdate(**base, **present))
    if "tags" in present:
        kinds.append(TicketUpdate(**base, tags=frozenset()))
    return kinds


def drive_update_ticket(client: ZendeskClient) -> None:
    for update in one_kind_each():
        client.update_ticket(update)


# --- the cases: one per public method that talks to Zendesk -----------------

CASES: dict[str, Callable[[ZendeskClient], object]] = {
    "current_user_id": lambda c: c.current_user_id(),
    "get_ticket": lambda c: c.get_ticket(42),
    "list_comments": lambda c: c.list_comments(42),
    "list_status_changes": lambda c: c.list_status_changes(42),
    "get_organization": lambda c: c.get_organization(7),
    "list_organizations": lambda c: c.list_organizations(),
    "find_organization": lambda c: (
        c.find_organization("acme-7"),
        c.find_organization("nobody"),
    ),
    "list_organization_fields": lambda c: c.list_organization_fields(),
    "list_ticket_fields": lambda c: c.list_ticket_fields(),
    "iter_tickets": lambda c: (list(c.iter_tickets()), list(c.iter_tickets(org_id=7))),
    "open_ticket_ids": lambda c: c.open_ticket_ids(7),
    "export_changed_tickets": lambda c: (
        c.export_changed_tickets(start_time=1714550000),
        c.export_changed_tickets(cursor="x2"),
    ),
    "export_tickets_with_metrics": lambda c: (
        c.export_tickets_with_metrics(start_time=1714550000),
        c.export_tickets_with_metrics(cursor="x2"),
    ),
    "find_organization_by_name": lambda c: c.find_organization_by_name("Org 7"),
    # The queries sidecar/tasks/open_counts.py sends, one per SLA status tag.
    "count_search": lambda c: c.count_search(
        "type:ticket status<solved tags:sla_at_risk"
    ),
    "list_tickets": lambda c: (
        c.list_tickets(),
        c.list_tickets(cursor="c2"),
        c.list_tickets(org_id=7),
        c.list_tickets(org_id=7, cursor="c2"),
    ),
    "find_tickets_by_external_id": lambda c: c.find_tickets_by_external_id(
        "slack-C0123-1714550000.000100"
    ),
    "find_user_id_by_email": lambda c: (
        c.find_user_id_by_email("ana@acme.test"),
        c.find_user_id_by_email("nobody@acme.test"),
    ),
    "list_comment_texts": lambda c: c.list_comment_texts(42),
    "latest_comment_texts": lambda c: c.latest_comment_texts(42, count=10),
    # The body sidecar/tasks/slack_bridge.py builds for a ticket from a Slack message.
    "create_ticket": lambda c: c.create_ticket(
        {
            "subject": "Checkout fails",
            "comment": {"body": "From Slack: checkout fails", "public": True},
            "organization_id": 7,
            "custom_fields": [{"id": 111, "value": "sev_1"}],
            "tags": ["slack", "slack_c0123"],
            "external_id": "slack-C0123-1714550000.000100",
            "requester": {"name": "ana", "email": "ana@acme.test"},
        }
    ),
    "add_public_comment": lambda c: (
        c.add_public_comment(42, body="Reply from Slack", author_id=5),
        c.add_public_comment(42, body="Someone wrote in Slack: hi"),
    ),
    "update_ticket": drive_update_ticket,
    "update_organization_fields": lambda c: (
        c.update_organization_fields(7, {"support_plan": "enterprise"}),
        c.update_organization_fields(7, {"enterprise_support": True}),
        c.update_organization_fields(7, {"support_plan": None}),
    ),
    # Generic admin calls: their requests are decided by their call sites, all
    # in sidecar/zendesk/setup.py (test_zendesk_admin_requests.py keeps it so),
    # so the case drives the setup through each of its paths.
    "admin_request": drive_setup,
    "admin_list": drive_setup,
    # `sidecar doctor`'s reads (sidecar/doctor/gather.py).
    "whoami": lambda c: c.whoami(),
    "list_webhooks": lambda c: c.list_webhooks(),
    "webhook_signing_secret": lambda c: c.webhook_signing_secret(
        "01EJFTSCC78X5V07NPY2MHR00M"
    ),
    "list_triggers": lambda c: c.list_triggers(),
    "list_schedules": lambda c: c.list_schedules(),
    "list_schedule_holidays": lambda c: c.list_schedule_holidays(1),
}
# Public members that send nothing (checked by test_members_without_a_case_send_nothing).
NO_REQUESTS: dict[str, Callable[[ZendeskClient], object]] = {
    "account": lambda c: c.account,
    "ticket_url": lambda c: c.ticket_url(42),
    "close": lambda c: c.close(),
    "from_config": lambda c: ZendeskClient.from_config(
        Config(
            zendesk_subdomain=SUBDOMAIN,
            zendesk_email="bot@acme.test",
            zendesk_api_token=Secret("contract-token"),
        )
    ).close(),
}


def public_members() -> set[str]:
    return {name for name in dir(ZendeskClient) if not name.startswith("_")}


def test_every_public_method_has_a_contract_case() -> None:
    """A public client member is either driven by a contract case or known to send nothing."""
    missing = public_members() - set(CASES) - set(NO_REQUESTS)
    assert not missing, (
        f"ZendeskClient.{', '.join(sorted(missing))}: add a case to CASES "
        "(tests/contract/test_zendesk_requests.py) so its requests are checked"
    )
    stale = (set(CASES) | set(NO_REQUESTS)) - public_members()
    assert not stale, f"cases for members that no longer exist: {sorted(stale)}"


def test_every_update_field_has_a_sample() -> None:
    """A new TicketUpdate field gets a sample, so each kind of update is sent once."""
    missing = set(update_fields()) - set(UPDATE_SAMPLES)
    assert not missing, f"add samples to UPDATE_SAMPLES for {sorted(missing)}"


@pytest.mark.parametrize("method", sorted(CASES))
def test_requests_follow_the_published_contract(
    method: str, zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """Each request of the method goes to a documented operation with documented params and body."""
    if method not in public_members():
        pytest.fail(f"ZendeskClient.{method} is gone: remove its case")
    CASES[method](client)
    assert zendesk.captured, f"{method} sent no request"
    assert_on_contract(zendesk.captured)


@pytest.mark.parametrize("member", sorted(NO_REQUESTS))
def test_members_without_a_case_send_nothing(
    member: str, zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    NO_REQUESTS[member](client)
    assert zendesk.captured == []


def test_list_endpoints_are_followed_to_their_second_page(
    zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """The follow-up requests built from links.next / next_page are captured and checked too."""
    client.list_organizations()
    client.list_comments(42)
    client.list_ticket_fields()
    follow_ups = [r for r in zendesk.captured if "page" in r.url.split("?", 1)[-1]]
    assert len(zendesk.captured) == 6 and len(follow_ups) >= 3, describe(
        zendesk.captured
    )
    assert_on_contract(zendesk.captured)


# --- the write path ------------------------------------------------------------


def ticket_puts(requests: list[Captured]) -> list[dict[str, Any]]:
    """The `ticket` objects of the single-ticket updates among these requests."""
    bodies = []
    for request in requests:
        op, _ = find_operation(request.method, urlsplit(request.url).path)
        if op is not None and op.name == "UpdateTicket":
            bodies.append(request.json()["ticket"])
    return bodies


def test_each_kind_of_ticket_update_is_one_safe_put(
    zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """Every non-empty update is one PUT with safe_update + updated_stamp; an empty one sends nothing."""
    kinds = one_kind_each()
    for update in kinds:
        before = len(zendesk.captured)
        client.update_ticket(update)
        sent = zendesk.captured[before:]
        if update.is_empty():
            assert sent == []
            continue
        assert len(sent) == 1, describe(sent)
        (ticket,) = ticket_puts(sent)
        # The product's policy on top of the OAS (issue: "one safe update"):
        # an agent's concurrent change is a 409, never silently overwritten.
        assert ticket["safe_update"] is True and ticket["updated_stamp"] == STAMP
    assert_on_contract(zendesk.captured)


def test_tags_are_sent_as_the_complete_list(
    zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """A tag change is the ticket's whole tag list (Zendesk replaces the tags with it)."""
    if "tags" not in update_fields():
        pytest.fail(
            "TicketUpdate has no complete `tags` list: the single-ticket "
            "PUT cannot change tags in a way Zendesk honours"
        )
    wanted = frozenset({"vip", "sev_1", "sla_pending"})
    client.update_ticket(TicketUpdate(ticket_id=42, updated_stamp=STAMP, tags=wanted))
    (ticket,) = ticket_puts(zendesk.captured)
    assert sorted(ticket["tags"]) == sorted(wanted)
    assert_on_contract(zendesk.captured)


def updates() -> st.SearchStrategy[TicketUpdate]:
    """Any TicketUpdate the model allows, built from its fields by name."""
    tag = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
    by_name: dict[str, st.SearchStrategy[Any]] = {
        "custom_fields": st.dictionaries(
            st.integers(1, 10**12),
            st.none() | st.text(min_size=1, max_size=40),
            max_size=4,
        ),
        "tags": st.none() | st.frozensets(tag, max_size=8),
        "previous_tags": st.frozensets(tag, max_size=8),
        "add_follower_ids": st.frozensets(st.integers(1, 10**12), max_size=3),
        "private_note": st.none() | st.text(min_size=1, max_size=200),
        "additional_tags": st.frozensets(tag, max_size=3),
        "remove_tags": st.frozensets(tag, max_size=3),
    }
    return st.builds(
        TicketUpdate,
        ticket_id=st.integers(1, 10**12),
        updated_stamp=st.just(STAMP),
        **{name: by_name[name] for name in update_fields() if name in by_name},
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(update=updates())
def test_no_ticket_update_sends_a_bulk_only_property(update: TicketUpdate) -> None:
    """Whatever the update, the single-ticket PUT never carries additional_tags/remove_tags."""
    with (
        ContractZendesk() as zendesk,
        ZendeskClient(
            SUBDOMAIN, email="bot@acme.test", api_token=Secret("contract-token")
        ) as client,
    ):
        client.update_ticket(update)
    for ticket in ticket_puts(zendesk.captured):
        sent = sorted(set(BULK_ONLY) & set(ticket))
        assert not sent, f"single-ticket PUT sends {sent}, which Zendesk ignores there"
    assert_on_contract(zendesk.captured)


@settings(max_examples=60, deadline=None)
@given(
    fields=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
        st.none() | st.booleans() | st.text(min_size=1, max_size=30),
        min_size=1,
        max_size=3,
    )
)
def test_organization_field_writes_follow_the_contract(fields: dict[str, Any]) -> None:
    """update_organization_fields sends only {"organization": {"organization_fields": ...}}."""
    with (
        ContractZendesk() as zendesk,
        ZendeskClient(
            SUBDOMAIN, email="bot@acme.test", api_token=Secret("contract-token")
        ) as client,
    ):
        client.update_organization_fields(7, fields)
    assert len(zendesk.captured) == 1
    assert_on_contract(zendesk.captured)
