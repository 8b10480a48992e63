"""Tests for POST /webhooks/zendesk and the health endpoints (real SQLite queue)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from sidecar.app import create_app
from sidecar.config import Config
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.queue import JobQueue
from tests.support import TEST_SECRET, sample, signed_headers

URL = "/webhooks/zendesk"
INVOCATION = "X-Zendesk-Webhook-Invocation-Id"


def post(client: FlaskClient, body: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(URL, data=body, headers=signed_headers(body, **kwargs))  # type: ignore[arg-type]


def queued_ticket_ids(queue: JobQueue) -> list[int]:
    return [task.args[0] for task in queue.huey.pending()]


def test_signed_ticket_event_is_queued(client: FlaskClient, queue: JobQueue) -> None:
    """A valid event is enqueued as reconcile(ticket_id) and answered 202."""
    body, _ = sample("ticket_status_changed")
    response = post(client, body)
    assert (response.status_code, response.json) == (202, {"status": "queued"})
    assert queued_ticket_ids(queue) == [5158]


def test_a_trigger_body_naming_sev_1_or_2_queues_in_the_urgent_lane(
    client: FlaskClient, queue: JobQueue
) -> None:
    """The severity the trigger body rendered picks the lane; nothing else changes."""
    for ticket_id, severity in ((21, "sev_1"), (22, "sev_2"), (23, "sev_3"), (24, "")):
        body = json.dumps({"ticket_id": str(ticket_id), "severity": severity}).encode()
        assert post(client, body, invocation_id=f"inv-{ticket_id}").status_code == 202
    assert [t.args[0] for t in queue.urgent_huey.pending()] == [21, 22]
    assert queued_ticket_ids(queue) == [23, 24]


def test_a_sev_1_of_an_organization_known_not_entitled_stays_in_the_normal_lane(
    client: FlaskClient, queue: JobQueue
) -> None:
    """What reconciles noted of organizations decides; unknown ones get the urgent lane."""
    memory = TicketMemory(queue, account="")
    memory.remember_org(7, entitled=False)
    memory.remember_org(8, entitled=True)
    for ticket_id, org in ((31, "7"), (32, "8"), (33, "9"), (34, "")):
        body = json.dumps(
            {"ticket_id": str(ticket_id), "organization_id": org, "severity": "sev_1"}
        ).encode()
        assert post(client, body, invocation_id=f"inv-{ticket_id}").status_code == 202
    assert [t.args[0] for t in queue.urgent_huey.pending()] == [32, 33, 34]
    assert queued_ticket_ids(queue) == [31]


def test_a_body_a_placeholder_broke_is_still_queued(
    client: FlaskClient, queue: JobQueue
) -> None:
    """Our trigger body with a quote rendered into it: the ticket is reconciled anyway."""
    body = b'{"ticket_id": "31", "event": "ticket.changed", "severity": "a"b"}'
    assert post(client, body, invocation_id="inv-31").status_code == 202
    assert queued_ticket_ids(queue) == [31]


def test_redelivery_is_a_duplicate(client: FlaskClient, queue: JobQueue) -> None:
    """The same event id again answers 200 duplicate and enqueues nothing more."""
    body, _ = sample("ticket_created")
    assert post(client, body, invocation_id="1").status_code == 202
    response = post(client, body, invocation_id="2")
    assert (response.status_code, response.json) == (200, {"status": "duplicate"})
    assert queued_ticket_ids(queue) == [5158]


def _stamp(seconds_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_a_change_to_a_ticket_already_waiting_is_answered_collapsed(
    client: FlaskClient, queue: JobQueue
) -> None:
    """A second event while the ticket's reconcile waits: 202 collapsed, its own metric, no job."""
    first = json.dumps({"ticket_id": "41", "event": "ticket.changed"}).encode()
    second = json.dumps({"ticket_id": "41", "event": "comment.added"}).encode()
    counted = 'sidecar_webhook_requests_total{outcome="collapsed"}'

    def collapsed() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        line = next((x for x in text.splitlines() if x.startswith(counted)), None)
        return float(line.split()[-1]) if line else 0.0

    before = collapsed()
    answers = [
        post(client, first, invocation_id="inv-41a"),
        post(client, second, invocation_id="inv-41b"),
    ]
    assert [(a.status_code, a.json) for a in answers] == [
        (202, {"status": "queued"}),
        (202, {"status": "collapsed"}),
    ]
    assert queued_ticket_ids(queue) == [41]
    assert collapsed() == before + 1
    # Still claimed: the same delivery again is a duplicate, not a new change.
    again = post(client, second, invocation_id="inv-41b")
    assert (again.status_code, again.json) == (200, {"status": "duplicate"})


def test_trigger_bodies_dedup_by_invocation_id(
    client: FlaskClient, queue: JobQueue
) -> None:
    """Trigger bodies dedup on the invocation id and on the signed timestamp + body;
    the same body signed at another second is a new delivery."""
    body = b'{"ticket_id": "9"}'
    assert (
        post(client, body, invocation_id="inv-1", timestamp=_stamp(3)).status_code
        == 202
    )
    assert (
        post(client, body, invocation_id="inv-1", timestamp=_stamp(2)).status_code
        == 200
    )
    assert (
        post(client, body, invocation_id="inv-2", timestamp=_stamp(2)).status_code
        == 202
    )
    assert post(client, body, timestamp=_stamp(1)).status_code == 202
    assert post(client, body, timestamp=_stamp(1)).status_code == 200
    # Three deliveries accepted; they collapse into the one reconcile of ticket 9
    # still waiting in the queue (it reads the ticket after all three).
    assert queued_ticket_ids(queue) == [9]


def test_a_replay_under_new_invocation_ids_is_queued_once(
    client: FlaskClient, queue: JobQueue
) -> None:
    """One captured signed request resent with 10 new invocation ids is enqueued once."""
    body = b'{"ticket_id": "9", "event": "ticket.changed"}'
    headers = signed_headers(body, invocation_id="captured")
    statuses = [client.post(URL, data=body, headers=headers).status_code]
    for n in range(10):
        replay = {**headers, "X-Zendesk-Webhook-Invocation-Id": f"forged-{n}"}
        statuses.append(client.post(URL, data=body, headers=replay).status_code)
    assert statuses == [202] + [200] * 10
    assert queued_ticket_ids(queue) == [9]


def test_a_replayed_organization_event_refreshes_once(
    client: FlaskClient, queue: JobQueue
) -> None:
    """A captured organization event resent under new invocation ids queues one refresh."""
    body, _ = sample("organization_custom_field_changed")
    headers = signed_headers(body, invocation_id="captured")
    statuses = [
        client.post(
            URL, data=body, headers={**headers, INVOCATION: f"forged-{n}"}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [202] + [200] * 4
    assert len(queue.huey.pending()) == 1


def test_ignored_event_is_not_queued(client: FlaskClient, queue: JobQueue) -> None:
    """Events the product does not act on answer 200 ignored."""
    body, _ = sample("user_active_changed")
    response = post(client, body)
    assert (response.status_code, response.json) == (200, {"status": "ignored"})
    assert queued_ticket_ids(queue) == []


def test_org_event_sets_invalidation_flag(client: FlaskClient, queue: JobQueue) -> None:
    """An organization event records when the org changed and enqueues a refresh of its open tickets."""
    body, _ = sample("organization_custom_field_changed")
    response = post(client, body)
    assert response.status_code == 202
    changed = queue.get_flag("org_changed:9012")
    assert changed is not None
    assert abs(datetime.fromisoformat(changed) - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    (task,) = queue.huey.pending()
    assert (task.name, task.args) == ("refresh_org", (9012,))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Zendesk-Webhook-Signature": "AAAA"}, "does not match"),
        ({"X-Zendesk-Webhook-Signature": ""}, "missing"),
        ({"X-Zendesk-Webhook-Signature-Timestamp": "2021-03-25T05:09:27Z"}, "window"),
    ],
)
def test_bad_signature_is_401(
    client: FlaskClient, queue: JobQueue, headers: dict[str, str], reason: str
) -> None:
    """Bad, missing or stale signatures answer 401 with a JSON reason."""
    body, _ = sample("ticket_created")
    all_headers = signed_headers(body) | headers
    response = client.post(URL, data=body, headers=all_headers)
    assert response.status_code == 401
    assert reason in response.json["error"]
    assert queued_ticket_ids(queue) == []


def test_wrong_secret_is_401(client: FlaskClient) -> None:
    """A body signed with another secret is rejected."""
    body, _ = sample("ticket_created")
    assert post(client, body, secret="other").status_code == 401


def test_unsigned_test_secret_request_is_rejected(client: FlaskClient) -> None:
    """Zendesk's static test secret does not open an unsigned mode."""
    body, _ = sample("ticket_created")
    secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
    assert post(client, body, secret=secret).status_code == 401


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    """Only application/json is accepted."""
    body = b"ticket_id=5"
    headers = signed_headers(body) | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    response = client.post(URL, data=body, headers=headers)
    assert (response.status_code, response.json["error"]) == (
        415,
        "content type must be application/json",
    )


def test_oversized_body_is_413(client: FlaskClient) -> None:
    """A body over 256 KiB answers 413 before it is read."""
    body = b'{"ticket_id": "1", "pad": "' + b"x" * (256 * 1024) + b'"}'
    response = post(client, body)
    assert (response.status_code, response.json) == (
        413,
        {"error": "body larger than 256 KiB"},
    )


def test_chunked_oversized_body_is_413(client: FlaskClient) -> None:
    """A body without Content-Length is cut off at 256 KiB too."""
    body = b'{"ticket_id": "1", "pad": "' + b"x" * (300 * 1024) + b'"}'
    headers = signed_headers(body) | {"Transfer-Encoding": "chunked"}
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "status"), [(b"nope", 400), (b"[]", 400), (b'{"a": 1}', 422)]
)
def test_unparseable_signed_body_is_4xx(
    client: FlaskClient, queue: JobQueue, body: bytes, status: int
) -> None:
    """Signed but unusable bodies are 400/422 with a reason; nothing is queued."""
    response = post(client, body)
    assert response.status_code == status
    assert response.json["error"]
    assert queued_ticket_ids(queue) == []


def test_queue_down_is_503_with_retry_after(
    client: FlaskClient, queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the job cannot be stored Zendesk gets 503 + Retry-After: 10."""

    def down(*args: object, **kwargs: object) -> None:
        raise QueueUnavailable("queue enqueue failed: OperationalError: disk I/O error")

    monkeypatch.setattr(queue, "deliver_reconcile", down)
    monkeypatch.setattr(queue, "ping", down)
    body, _ = sample("ticket_created")
    response = post(client, body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    assert response.json == {"error": "queue unavailable, retry later"}
    assert client.get("/readyz").status_code == 503


def test_failed_enqueue_leaves_no_claim(client: FlaskClient, queue: JobQueue) -> None:
    """If storing the job fails, the claim is not kept: the retry is queued."""
    body, _ = sample("ticket_created")
    storage = queue.huey.storage
    storage.sql("alter table task rename to task_gone", commit=True)
    try:
        assert post(client, body).status_code == 503
    finally:
        storage.sql("alter table task_gone rename to task", commit=True)
    assert post(client, body).status_code == 202
    assert queued_ticket_ids(queue) == [5158]


def test_unexpected_error_is_json_500_without_secrets(
    client: FlaskClient, queue: JobQueue, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    """A bug answers a JSON 500 logged with the invocation id, revealing nothing."""

    def boom(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("bug")

    monkeypatch.setattr(queue, "deliver_reconcile", boom)
    body, _ = sample("ticket_created")
    response = post(client, body, invocation_id="inv-500")
    assert (response.status_code, response.json) == (500, {"error": "internal error"})
    record = next(r for r in caplog.records if r.getMessage() == "unhandled error")
    assert record.invocation_id == "inv-500"  # type: ignore[attr-defined]
    assert TEST_SECRET not in caplog.text


def test_create_app_refuses_without_secret(queue: JobQueue) -> None:
    """There is no unsigned mode: no secret, no app, and the error says what to set."""
    with pytest.raises(ConfigError, match="SIDECAR_WEBHOOK_SECRET"):
        create_app(Config(), queue=queue)


def test_health_and_readiness(client: FlaskClient, queue: JobQueue) -> None:
    """healthz is 200; readyz is 200 until Zendesk auth fails, then 503."""
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json["zendesk_connected"]) == (200, False)
    queue.set_flag("zendesk_auth_failed", "2025-03-04T10:00:00+00:00")
    assert client.get("/readyz").status_code == 503
    queue.set_flag("zendesk_auth_failed", None)
    assert client.get("/readyz").status_code == 200


def test_metrics_expose_outcomes_latency_and_queue(
    client: FlaskClient, queue: JobQueue
) -> None:
    """/metrics has request outcomes, enqueue latency, depth and dead letters."""
    body, _ = sample("ticket_comment_added")
    post(client, body)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'sidecar_webhook_requests_total{outcome="queued"}' in text
    assert "sidecar_enqueue_seconds_count" in text
    assert "sidecar_queue_depth 1.0" in text
    assert "sidecar_dead_letter_jobs 0.0" in text
    assert "sidecar_dead_lettered_total 0.0" in text


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    """Every error answer is JSON, including routing errors."""
    response = client.get(URL)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert json.loads(response.data) == {"error": "method not allowed"}


def test_a_webhook_never_goes_through_flask(client: FlaskClient) -> None:
    """POST /webhooks/zendesk is plain WSGI; every other path is Flask's.

    Flask's request context, routing and response object were about a fifth
    of an accepted webhook's CPU under gunicorn (issue 19).
    """
    from flask import request_started

    seen: list[str] = []

    def started(sender: object, **extra: object) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(started)
    try:
        body, _ = sample("ticket_status_changed")
        assert post(client, body).status_code == 202
        assert client.get("/healthz").status_code == 200
    finally:
        request_started.disconnect(started)
    assert seen == ["/healthz"]


def test_comma_separated_secrets_each_verify(queue: JobQueue) -> None:
    """SIDECAR_WEBHOOK_SECRET="a, b" accepts deliveries signed with either webhook's secret."""
    from sidecar.config import Secret

    client = create_app(
        Config(webhook_secret=Secret("first-secret, second-secret")), queue=queue
    ).test_client()
    body, _ = sample("ticket_status_changed")
    assert (
        post(client, body, secret="second-secret", invocation_id="a").status_code == 202
    )
    assert post(client, body, secret="first-secret", invocation_id="b").status_code in {
        200,
        202,
    }
    assert (
        post(
            client, body, secret="first-secret, second-secret", invocation_id="c"
        ).status_code
        == 401
    )


def test_an_organization_event_whose_job_was_not_stored_is_stored_on_zendesks_retry(
    client: FlaskClient, queue: JobQueue
) -> None:
    """The flag is written before the refresh and its claim: a failure between leaves the flag only.

    A flag without its job only drops cached organizations (harmless); no claim
    is left, so Zendesk's retry of the 503 stores the refresh (not "duplicate").
    """
    body, _ = sample("organization_custom_field_changed")
    storage = queue.huey.storage
    storage.sql("alter table task rename to task_gone", commit=True)
    try:
        failed = post(client, body)
    finally:
        storage.sql("alter table task_gone rename to task", commit=True)
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    assert queue.get_flag("org_changed:9012") is not None
    assert queue.huey.pending() == []
    retried = post(client, body)
    assert (retried.status_code, retried.json) == (202, {"status": "accepted"})
    (task,) = queue.huey.pending()
    assert (task.name, task.args) == ("refresh_org", (9012,))


def test_a_body_shorter_than_its_content_length_is_400(
    client: FlaskClient, queue: JobQueue
) -> None:
    """A body that ends before its Content-Length is refused as such, not as a bad signature."""
    body, _ = sample("ticket_created")
    response = client.post(
        URL,
        data=body,
        headers=signed_headers(body),
        environ_overrides={"CONTENT_LENGTH": str(len(body) + 10)},
    )
    assert (response.status_code, response.json) == (
        400,
        {"error": "request body ended early"},
    )
    assert queued_ticket_ids(queue) == []
