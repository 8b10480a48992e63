"""Hostile-but-JSON Zendesk answers: a clear BadResponse, never a crash or a retry.

Regression tests for the parsing defects of issue 9 (each raised an unexpected
error that the worker retried 8 times, or read a wrong value), through the real
ZendeskClient against `responses`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from sidecar.config import Secret
from sidecar.errors import BadResponse
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import serve_jobs
from sidecar.zendesk.client import ZendeskClient

BASE = "https://acme.zendesk.com"
TICKET = {
    "id": 42,
    "subject": "Database down",
    "status": "open",
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:05:07Z",
    "organization_id": 7,
    "requester_id": 100,
    "tags": ["sev_1"],
    "custom_fields": [{"id": 111, "value": "sev_1"}],
}
COMMENT = {
    "id": 1,
    "author_id": 200,
    "public": True,
    "created_at": "2024-05-01T10:01:00Z",
}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client() -> Iterator[ZendeskClient]:
    with ZendeskClient("acme", email="bot@acme.test", api_token=Secret("t")) as zd:
        yield zd


def _ticket_answer(mocked: responses.RequestsMock, **changes: Any) -> None:
    mocked.get(f"{BASE}/api/v2/tickets/42.json", json={"ticket": {**TICKET, **changes}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": True}, "ticket 42: status must be a string, got boolean"),
        ({"status": "exploded"}, "ticket 42: status is not one of"),
        ({"id": float("inf")}, "ticket: id must be an integer id, got number"),
        ({"id": 2**64}, "ticket: id is out of range"),
        ({"created_at": "9999-12-31T23:59:59Z"}, "created_at is outside 1970..2199"),
        ({"created_at": 1714557600}, "created_at must be an ISO 8601 string"),
        ({"organization_id": "7"}, "organization_id must be an integer id, got string"),
        ({"tags": "sev_1"}, "tags must be an array, got string"),
        ({"custom_fields": [{"id": 111, "value": {"x": 1}}]}, "custom field 111 has"),
        ({"custom_fields": [{"id": 111, "value": float("nan")}]}, "not a finite"),
        ({"follower_ids": [True]}, "follower_ids must be an integer id, got boolean"),
        ({"updated_at": None}, "updated_at must be an ISO 8601 string"),
    ],
)
def test_a_hostile_ticket_field_is_a_bad_response(
    mocked: responses.RequestsMock,
    client: ZendeskClient,
    changes: dict[str, Any],
    message: str,
) -> None:
    """Each wrongly typed ticket field raises BadResponse naming the field and path."""
    _ticket_answer(mocked, **changes)
    with pytest.raises(BadResponse, match=message) as info:
        client.get_ticket(42)
    assert "/api/v2/tickets/42.json" in str(info.value)
    assert info.value.retryable is False


def test_public_false_as_a_string_is_not_a_public_comment(
    mocked: responses.RequestsMock, client: ZendeskClient
) -> None:
    """``"public": "false"`` is refused, never read as a public reply."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        json={"comments": [{**COMMENT, "public": "false"}], "users": []},
    )
    with pytest.raises(BadResponse, match="comment 1: public must be a boolean"):
        client.list_comments(42)


def test_well_formed_comments_still_parse(
    mocked: responses.RequestsMock, client: ZendeskClient
) -> None:
    """Real booleans and the users sideload give comments with their authors' roles."""
    mocked.get(
        f"{BASE}/api/v2/tickets/42/comments.json",
        json={
            "comments": [COMMENT, {**COMMENT, "id": 2, "public": False}],
            "users": [{"id": 200, "role": "agent"}],
        },
    )
    comments = client.list_comments(42)
    assert [(c.id, c.public, c.author_role) for c in comments] == [
        (1, True, "agent"),
        (2, False, "agent"),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "9"}, "organization: id must be an integer id"),
        ({"organization_fields": ["ultra"]}, "organization_fields must be an object"),
        ({"external_id": 12}, "external_id must be a string"),
        ({"organization_fields": {"enterprise_support": {"on": 1}}}, "unsupported"),
    ],
)
def test_a_hostile_organization_field_is_a_bad_response(
    mocked: responses.RequestsMock,
    client: ZendeskClient,
    changes: dict[str, Any],
    message: str,
) -> None:
    """Each wrongly typed organization field raises BadResponse naming it."""
    org = {"id": 9, "name": "Acme", "organization_fields": {}, **changes}
    mocked.get(f"{BASE}/api/v2/organizations/9.json", json={"organization": org})
    with pytest.raises(BadResponse, match=message):
        client.get_organization(9)


def test_a_bad_response_is_dead_lettered_at_once(tmp_path: Path) -> None:
    """The worker does not retry BadResponse: one attempt, then a dead letter."""
    queue = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    try:

        def hostile(ticket_id: int) -> None:
            raise BadResponse(
                "zendesk ticket 4: status must be a string", service="zendesk"
            )

        serve_jobs(queue, lambda: {"reconcile": hostile})
        queue.enqueue_reconcile(4)
        task = queue.huey.dequeue()
        assert task is not None
        queue.huey.execute(task)
        assert (queue.depth(), queue.scheduled()) == (0, 0)
        (job,) = queue.failed_jobs()
        assert job.attempts == 1
        assert "status must be a string" in job.error
    finally:
        queue.close()
