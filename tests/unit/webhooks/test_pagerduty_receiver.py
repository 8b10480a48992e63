"""POST /webhooks/pagerduty on a real SQLite queue: verify, map, dedup, enqueue (issue 22)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from sidecar.app import create_app
from sidecar.config import Config, Secret
from sidecar.errors import BadEvent
from sidecar.oncall.pagerduty_webhooks import parse
from sidecar.tasks.queue import JobQueue
from tests.fake_pagerduty import INTEGRATION_AGENT, Incident, sign_v1, webhook_body
from tests.support import TEST_SECRET

SECRET = "pd-signing-secret"
INCIDENT = Incident(
    routing_key="r" * 32,
    dedup_key="zendesk-acme-ticket-42",
    id="PINC42",
    number=3,
    title="[SEV 1] Acme: down",
)


def make_app(queue: JobQueue, secret: str | None = SECRET) -> Flask:
    return create_app(
        Config(
            webhook_secret=Secret(TEST_SECRET),
            zendesk_subdomain="acme",
            pagerduty_webhook_secret=Secret(secret) if secret else None,
        ),
        queue=queue,
    )


@pytest.fixture
def pd_client(queue: JobQueue) -> FlaskClient:
    return make_app(queue).test_client()


def post(
    client: FlaskClient, body: bytes, *, secret: str | None = SECRET
) -> TestResponse:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-PagerDuty-Signature"] = sign_v1(body, secret)
    return client.post("/webhooks/pagerduty", data=body, headers=headers)


def body(event_type: str, **kwargs: Any) -> bytes:
    return webhook_body(event_type, INCIDENT, agent=INTEGRATION_AGENT, **kwargs)


def jobs(queue: JobQueue) -> list[Any]:
    return [job for job in queue.pending_jobs() if job.task == "pagerduty_event"]


def test_an_acknowledge_is_queued_once(pd_client: FlaskClient, queue: JobQueue) -> None:
    """202 queued with one job carrying the ticket and the event; the same delivery again is a duplicate."""
    ack = body("incident.acknowledged")
    first = post(pd_client, ack)
    assert (first.status_code, first.json) == (202, {"status": "queued"})
    again = post(pd_client, ack)
    assert (again.status_code, again.json) == (200, {"status": "duplicate"})
    (job,) = jobs(queue)
    assert job.subject_id == 42  # as `sidecar jobs list` shows it


def test_a_note_maps_through_the_incident_seen_before(
    pd_client: FlaskClient, queue: JobQueue
) -> None:
    """A note names only the incident: ignored until an event with its key was seen, then queued."""
    note = body("incident.annotated", note="rolling back")
    assert post(pd_client, note).json == {"status": "ignored"}
    assert post(pd_client, body("incident.triggered")).json == {"status": "noted"}
    again = body("incident.annotated", note="rolling back, again")
    response = post(pd_client, again)
    assert (response.status_code, response.json) == (202, {"status": "queued"})
    assert len(jobs(queue)) == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda: (b'{"event": 1}', SECRET), 400, "no 'event' object"),
        (lambda: (body("incident.acknowledged"), None), 401, "missing X-PagerDuty"),
        (lambda: (body("incident.acknowledged"), "forged"), 401, "does not match"),
        (
            lambda: (
                body(
                    "incident.acknowledged",
                    occurred_at=datetime.now(UTC) + timedelta(hours=1),
                ),
                SECRET,
            ),
            401,
            "in the future",
        ),
    ],
)
def test_refusals_say_why(
    pd_client: FlaskClient,
    queue: JobQueue,
    make: Any,
    status: int,
    reason: str,
) -> None:
    """Bad body 400; missing, forged or future-dated 401; each with a JSON reason and no job."""
    raw, secret = make()
    response = post(pd_client, raw, secret=secret)
    assert response.status_code == status
    assert reason in response.json["error"]
    assert jobs(queue) == []


def test_without_a_secret_every_delivery_is_refused(queue: JobQueue) -> None:
    """No SIDECAR_PAGERDUTY_WEBHOOK_SECRET: 401, fail closed."""
    client = make_app(queue, secret=None).test_client()
    response = post(client, body("incident.acknowledged"))
    assert response.status_code == 401
    assert "SIDECAR_PAGERDUTY_WEBHOOK_SECRET" in response.json["error"]


def test_queue_down_is_503_and_keeps_no_claim(
    pd_client: FlaskClient, queue: JobQueue
) -> None:
    """The job cannot be stored: 503 + Retry-After (PagerDuty retries), and the retry is queued."""
    storage = queue.huey.storage
    storage.sql("alter table task rename to task_gone", commit=True)
    ack = body("incident.acknowledged")
    response = post(pd_client, ack)
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    storage.sql("alter table task_gone rename to task", commit=True)
    assert post(pd_client, ack).status_code == 202


@settings(max_examples=200)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=20)
        | st.sampled_from(
            ["incident.acknowledged", "incident.annotated", "2026-12-07T14:03:11Z"]
        ),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "event",
                        "id",
                        "event_type",
                        "occurred_at",
                        "data",
                        "agent",
                        "incident",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_parse_answers_an_event_none_or_bad_event(document: object) -> None:
    """Whatever JSON arrives signed, parsing ends in an event, None or BadEvent (a 400), never a crash."""
    with contextlib.suppress(BadEvent):
        parse(json.dumps(document).encode())
