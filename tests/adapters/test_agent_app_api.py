"""GET /api/tickets/<id>/sla: the sidebar app's endpoint, on the real app factory and a fake Zendesk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sidecar.app import create_app
from sidecar.config import Config
from sidecar.sla import explain, format_utc, load_policy
from sidecar.tasks.queue import JobQueue
from tests.e2e.conftest import SEVERITY_FIELD, connected_env, define_fields
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_pagerduty_rest import FakePagerDutyRest, shift_now
from tests.fake_zendesk import SUBDOMAIN, FakeZendesk

APP_SECRET = "app-s3cret-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {APP_SECRET}"}


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """A fake Zendesk with an entitled and a plain organization and the sidecar's fields."""
    with FakeZendesk() as fake:
        define_fields(fake)
        fake.add_org(
            10,
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        fake.add_org(11, name="Small Shop", fields={"support_plan": "team"})
        yield fake


def _config(tmp_path: Path, zendesk: FakeZendesk, **overrides: str) -> Config:
    with FakePagerDuty() as pagerduty:
        env = connected_env(tmp_path, zendesk, pagerduty, **overrides)
    return Config.from_env(env)


@pytest.fixture
def config(tmp_path: Path, zendesk: FakeZendesk) -> Config:
    """A connected sidecar's config with the app's secret set."""
    return _config(tmp_path, zendesk, SIDECAR_APP_SECRET=APP_SECRET)


@pytest.fixture
def client(config: Config) -> Iterator[FlaskClient]:
    """The real web app's test client."""
    queue = JobQueue.from_url(config.queue_url)
    yield create_app(config, queue=queue).test_client()
    queue.close()


def _ticket(zendesk: FakeZendesk, *, severity: str, org: int, **kw: object) -> int:
    return zendesk.add_ticket(
        organization_id=org,
        custom_fields={SEVERITY_FIELD: severity},
        **kw,  # type: ignore[arg-type]
    )


def test_without_the_secret_the_answer_is_401_with_a_reason(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """No Authorization header: 401 with a JSON reason, and no Zendesk call."""
    tid = _ticket(zendesk, severity="sev_3", org=10)
    before = len(zendesk.calls())
    response = client.get(f"/api/tickets/{tid}/sla")
    assert response.status_code == 401
    assert "secret" in response.get_json()["error"]
    assert len(zendesk.calls()) == before


def test_a_wrong_secret_is_401_and_no_secret_reaches_the_logs(
    client: FlaskClient, zendesk: FakeZendesk, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret gets 401; neither the wrong nor the right one is logged."""
    tid = _ticket(zendesk, severity="sev_3", org=10)
    caplog.set_level(logging.DEBUG)
    wrong = APP_SECRET[:-1] + "X"
    for header in (f"Bearer {wrong}", APP_SECRET, f"Basic {APP_SECRET}"):
        response = client.get(
            f"/api/tickets/{tid}/sla", headers={"Authorization": header}
        )
        assert response.status_code == 401, header
    ok = client.get(f"/api/tickets/{tid}/sla", headers=BEARER)
    assert ok.status_code == 200
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert wrong not in logged and APP_SECRET not in logged


def test_without_a_configured_secret_every_request_is_401(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """SIDECAR_APP_SECRET unset: the endpoint is off, whatever the request sends."""
    config = _config(tmp_path, zendesk)
    queue = JobQueue.from_url(config.queue_url)
    try:
        client = create_app(config, queue=queue).test_client()
        tid = _ticket(zendesk, severity="sev_3", org=10)
        for headers in ({}, BEARER, {"Authorization": "Bearer "}):
            response = client.get(f"/api/tickets/{tid}/sla", headers=headers)
            assert response.status_code == 401
            assert "SIDECAR_APP_SECRET" in response.get_json()["error"]
    finally:
        queue.close()


def test_another_account_gets_403_and_an_unknown_ticket_404(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """A request naming another account is refused; a ticket not in ours is 404."""
    tid = _ticket(zendesk, severity="sev_3", org=10)
    other = client.get(
        f"/api/tickets/{tid}/sla",
        headers={**BEARER, "X-Zendesk-Account": "someone-else"},
    )
    assert other.status_code == 403
    assert "sla" not in other.get_json()
    ours = client.get(
        f"/api/tickets/{tid}/sla",
        headers={**BEARER, "X-Zendesk-Account": SUBDOMAIN.upper()},
    )
    assert ours.status_code == 200
    missing = client.get("/api/tickets/999999/sla", headers=BEARER)
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "ticket 999999 not found in this account"}
    assert client.get("/api/tickets/abc/sla", headers=BEARER).status_code == 404


def test_the_view_is_the_explanation_of_sidecar_explain(
    client: FlaskClient, zendesk: FakeZendesk, config: Config
) -> None:
    """Severity, entitlement, status, due and at-risk instants match the SLA engine."""
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    tid = _ticket(zendesk, severity="sev_3", org=10, created_at=format_utc(created))
    body = client.get(f"/api/tickets/{tid}/sla", headers=BEARER).get_json()
    assert config.policy_file is not None
    policy = load_policy(config.policy_file)
    expected = explain(created, 3, policy)
    assert body["severity"] == {"value": 3, "problem": None}
    assert body["entitlement"]["entitled"] is True
    assert body["entitlement"]["plan"] == "enterprise"
    assert body["entitlement"]["enterprise_support"] is True
    assert body["entitlement"]["organization"] == {"id": 10, "name": "Acme Corp"}
    assert body["sla"]["due_at"] == format_utc(expected.due_at)
    assert body["sla"]["status"] == "at_risk"  # 5 h of a 6 h target
    assert body["sla"]["first_response_at"] is None
    assert body["why"]["lines"] == expected.lines()
    assert body["why"]["skipped"] == []  # 24/7: nothing skipped
    assert body["oncall"]["pages"] is False  # SEV 3 never pages


def test_a_paged_sev1_shows_the_on_call_state_and_its_dedup_key(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """A SEV 1 of an entitled org that was paged: paged, not resolved, the dedup key."""
    tid = _ticket(zendesk, severity="sev_1", org=10, tags=["oncall_paged"])
    body = client.get(f"/api/tickets/{tid}/sla", headers=BEARER).get_json()
    assert body["oncall"]["pages"] is True
    assert body["oncall"]["paged"] is True
    assert body["oncall"]["resolved"] is False
    assert body["oncall"]["dedup_key"] == f"zendesk-{SUBDOMAIN}-ticket-{tid}"


def test_a_plain_org_has_no_sla_and_says_why(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """Not entitled: no SLA, no page, and the entitlement's reason."""
    tid = _ticket(zendesk, severity="sev_1", org=11)
    body = client.get(f"/api/tickets/{tid}/sla", headers=BEARER).get_json()
    assert body["entitlement"]["entitled"] is False
    assert body["entitlement"]["plan"] == "team"
    assert body["entitlement"]["reason"]
    assert body["sla"] is None and body["why"] is None
    assert body["oncall"] == {
        "pages": False,
        "paged": False,
        "resolved": False,
        "dedup_key": None,
        "reason": body["oncall"]["reason"],
        "requested_by": None,  # no agent asked for a page
        "now": None,  # no SIDECAR_PAGERDUTY_API_TOKEN: not looked up
        "acknowledged": False,
        "incident": None,
    }


def test_an_agent_reopening_the_ticket_costs_no_zendesk_call(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """Within the cache's 30 s, the same ticket is answered without reading Zendesk."""
    tid = _ticket(zendesk, severity="sev_3", org=10)
    first = client.get(f"/api/tickets/{tid}/sla", headers=BEARER)
    reads = len(zendesk.calls(method="GET"))
    second = client.get(f"/api/tickets/{tid}/sla", headers=BEARER)
    assert second.get_json() == first.get_json()
    assert len(zendesk.calls(method="GET")) == reads
    assert "no-store" in second.headers["Cache-Control"]


def test_an_exhausted_budget_answers_503_with_retry_after(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """The reads count in the Zendesk budget: over it, 503 + Retry-After, not a wait."""
    config = _config(
        tmp_path,
        zendesk,
        SIDECAR_APP_SECRET=APP_SECRET,
        SIDECAR_ZENDESK_BUDGET_REQUESTS="2",
        SIDECAR_ZENDESK_BUDGET_RESERVE="0",
    )
    queue = JobQueue.from_url(config.queue_url)
    try:
        client = create_app(config, queue=queue).test_client()
        statuses = []
        for _ in range(4):
            tid = _ticket(zendesk, severity="sev_5", org=11)
            response = client.get(f"/api/tickets/{tid}/sla", headers=BEARER)
            statuses.append(response.status_code)
        assert 503 in statuses
        refused = response if response.status_code == 503 else None
        assert refused is not None
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        queue.close()


def test_a_changed_ticket_is_read_afresh(
    client: FlaskClient, zendesk: FakeZendesk
) -> None:
    """Another updatedAt from the app is another cache key: Zendesk is read again."""
    tid = _ticket(zendesk, severity="sev_3", org=10)
    url = f"/api/tickets/{tid}/sla"
    client.get(url + "?updated=2026-12-06T10:00:00Z", headers=BEARER)
    reads = len(zendesk.calls(method="GET"))
    client.get(url + "?updated=2026-12-06T10:00:00Z", headers=BEARER)
    assert len(zendesk.calls(method="GET")) == reads
    client.get(url + "?updated=2026-12-06T10:05:00Z", headers=BEARER)
    assert len(zendesk.calls(method="GET")) > reads


def test_while_rotating_both_secrets_are_accepted(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """SIDECAR_APP_SECRET=new,old: either opens the endpoint, nothing else does."""
    config = _config(tmp_path, zendesk, SIDECAR_APP_SECRET="n3w-secret, 0ld-secret")
    queue = JobQueue.from_url(config.queue_url)
    try:
        client = create_app(config, queue=queue).test_client()
        tid = _ticket(zendesk, severity="sev_3", org=10)
        url = f"/api/tickets/{tid}/sla"
        for token, status in (
            ("n3w-secret", 200),
            ("0ld-secret", 200),
            ("n3w-secret, 0ld-secret", 401),
            ("", 401),
        ):
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get(url, headers=headers).status_code == status, token
    finally:
        queue.close()


def _with_rest(tmp_path: Path, zendesk: FakeZendesk, rest: FakePagerDutyRest) -> Config:
    return _config(
        tmp_path,
        zendesk,
        SIDECAR_APP_SECRET=APP_SECRET,
        SIDECAR_PAGERDUTY_API_TOKEN=rest.token,
        SIDECAR_PAGERDUTY_API_URL=rest.url,
        SIDECAR_PAGERDUTY_ONCALL_POLICIES="default=PEP1",
    )


def test_the_view_says_who_is_on_call_now_and_asks_pagerduty_once_a_minute(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """An entitled ticket: `oncall.now` names the level-1 person; a second ticket asks PagerDuty nothing."""
    first = _ticket(zendesk, severity="sev_1", org=10)
    second = _ticket(zendesk, severity="sev_3", org=10)
    plain = _ticket(zendesk, severity="sev_1", org=11)
    with FakePagerDutyRest() as rest:
        rest.add_policy("PEP1", "Support escalation", [shift_now("Tim Wright")])
        queue = JobQueue.from_url(_with_rest(tmp_path, zendesk, rest).queue_url)
        client = create_app(
            _with_rest(tmp_path, zendesk, rest), queue=queue
        ).test_client()
        now = client.get(f"/api/tickets/{first}/sla", headers=BEARER).get_json()
        assert now["oncall"]["now"] == {
            "known": True,
            "people": ["Tim Wright"],
            "policy": "Support escalation",
            "level": 1,
            "text": "Tim Wright (Support escalation, level 1)",
        }
        again = client.get(f"/api/tickets/{second}/sla", headers=BEARER).get_json()
        assert again["oncall"]["now"]["people"] == ["Tim Wright"]
        assert len(rest.calls("/oncalls")) == 1
        # A plain organization's ticket cannot page (default policy): not shown.
        shown = client.get(f"/api/tickets/{plain}/sla", headers=BEARER).get_json()
        assert shown["oncall"]["now"] is None
        queue.close()


def test_pagerduty_down_shows_unknown_and_the_sla_still(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """The REST API failing never breaks the sidebar: 200, the SLA, and "unknown (why)"."""
    tid = _ticket(zendesk, severity="sev_2", org=10)
    with FakePagerDutyRest() as rest:
        rest.fail_next(3, 503)
        config = _with_rest(tmp_path, zendesk, rest)
        queue = JobQueue.from_url(config.queue_url)
        response = (
            create_app(config, queue=queue)
            .test_client()
            .get(f"/api/tickets/{tid}/sla", headers=BEARER)
        )
        queue.close()
    assert response.status_code == 200
    body = response.get_json()
    assert body["sla"]["status"] == "pending"
    assert body["oncall"]["now"]["known"] is False
    assert body["oncall"]["now"]["text"] == "unknown (PagerDuty answered HTTP 503)"


def test_a_bad_mapping_is_unknown_with_the_reason_not_a_broken_sidebar(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """SIDECAR_PAGERDUTY_ONCALL_POLICIES unreadable: the app starts; the reason shows."""
    tid = _ticket(zendesk, severity="sev_2", org=10)
    config = _config(
        tmp_path,
        zendesk,
        SIDECAR_APP_SECRET=APP_SECRET,
        SIDECAR_PAGERDUTY_API_TOKEN="t",
        SIDECAR_PAGERDUTY_ONCALL_POLICIES="PEP1",
    )
    queue = JobQueue.from_url(config.queue_url)
    body = (
        create_app(config, queue=queue)
        .test_client()
        .get(f"/api/tickets/{tid}/sla", headers=BEARER)
        .get_json()
    )
    queue.close()
    assert "SIDECAR_PAGERDUTY_ONCALL_POLICIES" in body["oncall"]["now"]["text"]
