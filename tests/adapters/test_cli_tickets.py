"""Tests for `sidecar reconcile` and `sidecar explain` against a fake Zendesk over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.setup import MACRO_PAGE_ACTIONS
from tests.e2e.conftest import DUE_AT_FIELD, SEVERITY_FIELD, connected_env
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_pagerduty_rest import FakePagerDutyRest, shift_now
from tests.fake_zendesk import FakeZendesk


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """A fake Zendesk with one entitled and one plain organization."""
    with FakeZendesk() as fake:
        fake.add_org(
            10,
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        fake.add_org(11, name="Small Shop", fields={"support_plan": "team"})
        yield fake


@pytest.fixture
def env(tmp_path: Path, zendesk: FakeZendesk) -> Iterator[dict[str, str]]:
    """The environment of a connected sidecar (the policy's SEV 3 is 6 h on 24/7)."""
    with FakePagerDuty() as pagerduty:
        yield connected_env(tmp_path, zendesk, pagerduty)


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_reconcile_dry_run_prints_the_diff_and_writes_nothing(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """--dry-run prints the exact diff and sends no PUT."""
    tid = zendesk.add_ticket(
        organization_id=10,
        custom_fields={SEVERITY_FIELD: "sev_3"},
        created_at="2026-11-27T15:00:00Z",
    )
    result = run(env, "reconcile", str(tid), "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"ticket {tid}: would write" in result.output
    diff = json.loads(result.output.split("would write\n", 1)[1])
    assert diff["custom_fields"][str(DUE_AT_FIELD)] == "2026-11-27T21:00:00Z"
    assert diff["tags_added"] == ["sla_breached"] or diff["tags_added"] == [
        "sla_pending"
    ]
    assert zendesk.calls(method="PUT") == []


def test_reconcile_writes_then_finds_nothing(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """A real run writes once; a second run has nothing to write."""
    JobQueue.from_url(
        env["SIDECAR_QUEUE_URL"]
    ).close()  # the service's, as serve makes it
    tid = zendesk.add_ticket(
        organization_id=10, custom_fields={SEVERITY_FIELD: "sev_3"}
    )
    first = run(env, "reconcile", str(tid))
    assert first.exit_code == 0 and f"ticket {tid}: wrote" in first.output
    second = run(env, "reconcile", str(tid))
    assert second.exit_code == 0 and "nothing to write" in second.output
    assert len(zendesk.calls(method="PUT")) == 1


def test_explain_says_why_a_ticket_does_not_page(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """explain shows severity, entitlement, policy, segments, due time, status and the paging decision."""
    tid = zendesk.add_ticket(
        organization_id=10,
        custom_fields={SEVERITY_FIELD: "sev_3"},
        created_at="2026-11-27T15:00:00Z",
    )
    result = run(env, "explain", str(tid))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "SEV 3" in out and "entitled" in out and "Acme Corp" in out
    assert "policy     fast" in out
    assert "due        2026-11-27T21:00:00Z" in out
    assert "only SEV 1 and SEV 2 page" in out
    assert zendesk.calls(method="PUT") == []


def test_explain_not_entitled(zendesk: FakeZendesk, env: dict[str, str]) -> None:
    """For an org without Enterprise Support, explain says so and that there is no SLA or page."""
    tid = zendesk.add_ticket(
        organization_id=11, custom_fields={SEVERITY_FIELD: "sev_1"}
    )
    out = run(env, "explain", str(tid)).output
    assert "not entitled" in out
    assert "sla           none" in out
    assert "no page: not entitled" in out


def test_unknown_ticket_is_a_one_line_error(env: dict[str, str]) -> None:
    """A ticket Zendesk does not have exits non-zero with the reason."""
    result = CliRunner().invoke(main, ["explain", "999"], env=env)
    assert result.exit_code == 1
    assert "404" in result.output and "Traceback" not in result.output


def test_without_credentials_the_commands_say_what_to_set(tmp_path: Path) -> None:
    """Unconnected, reconcile explains which variables are missing."""
    result = CliRunner().invoke(
        main, ["reconcile", "1"], env={"SIDECAR_ZENDESK_SUBDOMAIN": ""}
    )
    assert result.exit_code == 1
    assert "SIDECAR_ZENDESK_SUBDOMAIN" in result.output


def test_explain_shows_who_is_on_call_now(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """With a REST API token and the default key mapped: the route's fingerprint and the level-1 person."""
    tid = zendesk.add_ticket(
        organization_id=10, custom_fields={SEVERITY_FIELD: "sev_1"}
    )
    with FakePagerDutyRest() as rest:
        rest.add_policy("PEP1", "Support escalation", [shift_now("Tim Wright")])
        out = run(
            {
                **env,
                "SIDECAR_PAGERDUTY_API_TOKEN": rest.token,
                "SIDECAR_PAGERDUTY_API_URL": rest.url,
                "SIDECAR_PAGERDUTY_ONCALL_POLICIES": "default=PEP1",
            },
            "explain",
            str(tid),
        ).output
    fingerprint = key_fingerprint(env["SIDECAR_PAGERDUTY_ROUTING_KEY"])
    assert f"routing key   default (fingerprint {fingerprint})" in out
    assert "on call now   Tim Wright (Support escalation, level 1)" in out
    assert env["SIDECAR_PAGERDUTY_ROUTING_KEY"] not in out


def test_explain_says_unknown_when_pagerduty_fails(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """PagerDuty's REST API down: "unknown (why)", and the rest of explain is there."""
    tid = zendesk.add_ticket(
        organization_id=10, custom_fields={SEVERITY_FIELD: "sev_2"}
    )
    with FakePagerDutyRest() as rest:
        rest.fail_next(1, 500)
        result = run(
            {
                **env,
                "SIDECAR_PAGERDUTY_API_TOKEN": rest.token,
                "SIDECAR_PAGERDUTY_API_URL": rest.url,
                "SIDECAR_PAGERDUTY_ONCALL_POLICIES": "default=PEP1",
            },
            "explain",
            str(tid),
        )
    assert result.exit_code == 0
    assert "on call now   unknown (PagerDuty answered HTTP 500)" in result.output
    assert "paging        page: SEV 2" in result.output


def test_explain_shows_an_agents_page_request(
    zendesk: FakeZendesk, env: dict[str, str]
) -> None:
    """A ticket carrying the macro's tag: explain says who asked and why it will page."""
    agent = zendesk.add_user(role="agent", name="Jo Agent")
    tid = zendesk.add_ticket(
        organization_id=10, custom_fields={SEVERITY_FIELD: "sev_3"}
    )
    zendesk.apply_macro(tid, agent, MACRO_PAGE_ACTIONS, typed="EU checkout down")
    out = run(env, "explain", str(tid)).output
    assert "paging        page: requested by Jo Agent (EU checkout down)" in out


def test_reconcile_says_it_paged_when_it_paged(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """A SEV 1 of an entitled org: the command pages itself, and says so (not "queued")."""
    with FakePagerDuty() as pagerduty:
        env = connected_env(tmp_path, zendesk, pagerduty)
        JobQueue.from_url(env["SIDECAR_QUEUE_URL"]).close()
        tid = zendesk.add_ticket(
            organization_id=10, custom_fields={SEVERITY_FIELD: "sev_1"}
        )
        result = run(env, "reconcile", str(tid))
        assert result.exit_code == 0, result.output
        assert "paged on-call now; the escalate job records it" in result.output
        assert "queued: page on-call" not in result.output
        assert len(pagerduty.events) == 1
