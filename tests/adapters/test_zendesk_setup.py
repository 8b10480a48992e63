"""`sidecar zendesk setup` against FakeZendesk over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.webhooks.events import trigger_body
from sidecar.zendesk.setup import (
    SEVERITY_OPTIONS,
    TRIGGER,
    merge_env_file,
)
from tests.fake_zendesk import FakeZendesk
from tests.fake_zendesk_admin import ADMIN_WRITES

URL = "https://sidecar.example.test/webhooks/zendesk"


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.empty_account()
        yield fake


def setup(zendesk: FakeZendesk, *args: str) -> Result:
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_SEVERITY_FIELD_ID": None,
        "SIDECAR_DUE_AT_FIELD_ID": None,
        "SIDECAR_DUE_DATE_FIELD_ID": None,
        **zendesk.env(),
    }
    return CliRunner().invoke(main, ["zendesk", "setup", "--url", URL, *args], env=env)


def writes(zendesk: FakeZendesk) -> list[str]:
    return [f"{c.method} {c.path}" for c in zendesk.calls() if c.method in ADMIN_WRITES]


def env_of(output: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in output.splitlines()
        if "=" in line and line.split("=", 1)[0].isupper()
    )


def test_setup_on_an_empty_account_creates_everything(zendesk: FakeZendesk) -> None:
    """Fields (severity, due, outcome), org fields, both webhooks, the category, the trigger and two views are created."""
    result = setup(zendesk)
    assert result.exit_code == 0, result.output
    assert sorted(writes(zendesk)) == sorted(
        [
            *["POST /api/v2/ticket_fields.json"] * 6,
            "POST /api/v2/organization_fields.json",
            "POST /api/v2/organization_fields.json",
            "POST /api/v2/webhooks",
            "POST /api/v2/webhooks",
            "POST /api/v2/trigger_categories",
            "POST /api/v2/triggers.json",
            "POST /api/v2/views.json",
            "POST /api/v2/views.json",
            "POST /api/v2/views.json",
        ]
    )
    env = env_of(result.output)
    severity = next(
        f
        for f in zendesk.calls("POST", "/ticket_fields")
        if f.json["ticket_field"]["type"] == "tagger"
    ).json["ticket_field"]
    assert [(o["name"], o["value"]) for o in severity["custom_field_options"]] == list(
        SEVERITY_OPTIONS
    )
    assert severity["custom_field_options"][0]["name"].startswith("SEV 1 - Critical")
    assert {"SIDECAR_SEVERITY_FIELD_ID", "SIDECAR_DUE_AT_FIELD_ID"} <= set(env)
    hooks = {h["name"]: h for h in zendesk.webhook_list()}
    assert {h["endpoint"] for h in hooks.values()} == {URL}
    assert hooks["Sidecar: ticket changes"]["subscriptions"] == [
        "conditional_ticket_events"
    ]
    assert hooks["Sidecar: organization events"]["subscriptions"] == [
        "zen:event-type:organization.custom_field_changed"
    ]
    # Both signing secrets, fetched from Zendesk and printed once as the env line.
    secrets = env["SIDECAR_WEBHOOK_SECRET"].split(",")
    assert sorted(secrets) == sorted(
        zendesk.webhook_secret(h["id"]) for h in hooks.values()
    )
    ((trigger,),) = [zendesk.trigger_list()]
    assert trigger["title"] == TRIGGER
    assert trigger["actions"] == [
        {
            "field": "notification_webhook",
            "value": [
                hooks["Sidecar: ticket changes"]["id"],
                trigger_body(env["SIDECAR_SEVERITY_FIELD_ID"]),
            ],
        }
    ]
    # The body names the new dropdown's value: the receiver's lane hint.
    body = json.loads(trigger["actions"][0]["value"][1])
    assert body["ticket_id"] == "{{ticket.id}}"
    assert body["severity"] == (
        "{{ticket.ticket_field_" + env["SIDECAR_SEVERITY_FIELD_ID"] + "}}"
    )
    views = {v["title"]: v for v in zendesk.view_list()}
    assert sorted(views) == ["Paged on-call", "SLA at risk", "SLA breached"]
    due_at = int(env["SIDECAR_DUE_AT_FIELD_ID"])
    severity_id = int(env["SIDECAR_SEVERITY_FIELD_ID"])
    for view in views.values():
        # Sorted by the due-time text; due time and severity are columns.
        assert view["output"]["sort_by"] == str(due_at)
        assert view["output"]["columns"][-2:] == [severity_id, due_at]
    assert views["Paged on-call"]["all"][1]["value"] == "oncall_paged"


def test_second_run_writes_nothing(zendesk: FakeZendesk) -> None:
    """Run again, setup finds every object by name, writes nothing and says so; no secret again."""
    first = setup(zendesk)
    assert first.exit_code == 0, first.output
    zendesk.reset_calls()
    second = setup(zendesk)
    assert second.exit_code == 0, second.output
    assert writes(zendesk) == []
    assert "up to date: nothing written" in second.output
    assert "SIDECAR_WEBHOOK_SECRET" not in second.output
    assert (
        env_of(second.output)["SIDECAR_SEVERITY_FIELD_ID"]
        == env_of(first.output)["SIDECAR_SEVERITY_FIELD_ID"]
    )


def test_dry_run_prints_the_plan_and_writes_nothing(zendesk: FakeZendesk) -> None:
    """--dry-run on an empty account prints a table of creations and writes nothing."""
    result = setup(zendesk, "--dry-run")
    assert result.exit_code == 0, result.output
    assert writes(zendesk) == []
    lines = result.output.splitlines()
    assert lines[0].split() == ["OBJECT", "NAME", "ACTION", "ID"]
    assert sum(" create" in line for line in lines) == 15
    assert "dry run: nothing written" in result.output


def test_hand_edited_trigger_is_reported_then_repaired(zendesk: FakeZendesk) -> None:
    """A trigger someone edited is reported (exit 1, no write) and rewritten with --repair."""
    assert setup(zendesk).exit_code == 0
    ((trigger,),) = [zendesk.trigger_list()]
    zendesk.edit_trigger(
        trigger["id"],
        conditions={
            "all": [{"field": "current_via_id", "operator": "is_not", "value": "5"}],
            "any": trigger["conditions"]["any"],
        },
    )
    zendesk.reset_calls()
    seen = setup(zendesk)
    assert seen.exit_code == 1
    assert writes(zendesk) == []
    assert "changed" in seen.output and "differs in conditions" in seen.output
    assert "--repair rewrites them" in seen.output
    repaired = setup(zendesk, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert writes(zendesk) == [f"PUT /api/v2/triggers/{trigger['id']}.json"]
    ((after,),) = [zendesk.trigger_list()]
    assert after["conditions"]["all"] == []
    zendesk.reset_calls()
    assert "up to date" in setup(zendesk).output and writes(zendesk) == []


def test_loop_condition_from_the_trigger_definitions(zendesk: FakeZendesk) -> None:
    """When the definitions offer our API user under "Current user", the trigger excludes it."""
    zendesk.current_user_values.append(
        {"value": str(zendesk.api_user_id), "title": "Sidecar", "enabled": True}
    )
    result = setup(zendesk)
    assert result.exit_code == 0, result.output
    ((trigger,),) = [zendesk.trigger_list()]
    assert trigger["conditions"]["all"] == [
        {"field": "role", "operator": "is_not", "value": str(zendesk.api_user_id)}
    ]
    assert "Current user is not" not in result.output


def test_without_the_condition_setup_says_why(zendesk: FakeZendesk) -> None:
    """Definitions without our user: no loop condition, and a note explains the cost."""
    result = setup(zendesk)
    assert "no 'Current user is not <sidecar>' condition" in result.output


def test_configured_fields_are_used_not_created(zendesk: FakeZendesk) -> None:
    """A severity field id in the environment is checked, not created again."""
    fid = zendesk.add_ticket_field(
        title="Severity (ours)",
        type="tagger",
        options=[(f"SEV {n}", f"sev_{n}") for n in range(1, 6)],
        visible_in_portal=True,
        editable_in_portal=True,
        title_in_portal="Severity",
    )
    env = {
        "SIDECAR_CONFIG": None,
        **zendesk.env(),
        "SIDECAR_SEVERITY_FIELD_ID": str(fid),
    }
    result = CliRunner().invoke(
        main, ["zendesk", "setup", "--url", URL, "--dry-run"], env=env
    )
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if "Issue Severity" in line]
    assert row.split()[-4:] == [
        "configured",
        str(fid),
        "from",
        "SIDECAR_SEVERITY_FIELD_ID",
    ]
    assert sum(" create" in line for line in result.output.splitlines()) == 14
    missing = CliRunner().invoke(
        main,
        ["zendesk", "setup", "--url", URL],
        env={**env, "SIDECAR_SEVERITY_FIELD_ID": "999999"},
    )
    assert missing.exit_code == 1 and "no ticket field with that id" in missing.output


def test_env_file_is_written_and_merged(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """--env-file writes the lines (0600); a second run keeps the secrets and other lines."""
    path = tmp_path / "sidecar.env"
    path.write_text("OTHER=1\n")
    assert setup(zendesk, "--env-file", str(path)).exit_code == 0
    first = path.read_text()
    assert "OTHER=1" in first and "SIDECAR_WEBHOOK_SECRET=" in first
    assert path.stat().st_mode & 0o777 == 0o600
    assert setup(zendesk, "--env-file", str(path)).exit_code == 0
    assert path.read_text() == first


def test_merge_env_file_adds_secrets() -> None:
    """A new secret joins the ones already in the file; other lines stay."""
    merged = merge_env_file(
        "# keep\nSIDECAR_WEBHOOK_SECRET=a\nX=1\n", ["SIDECAR_WEBHOOK_SECRET=b", "Y=2"]
    )
    assert merged == "# keep\nSIDECAR_WEBHOOK_SECRET=a,b\nX=1\nY=2\n"


def test_url_must_be_https(zendesk: FakeZendesk) -> None:
    """Zendesk calls webhooks over https: a plain http URL is refused before any call."""
    env = {"SIDECAR_CONFIG": None, **zendesk.env()}
    result = CliRunner().invoke(
        main,
        ["zendesk", "setup", "--url", "http://example.test/webhooks/zendesk"],
        env=env,
    )
    assert result.exit_code == 1 and "https" in result.output


def test_a_severity_field_that_is_not_a_dropdown_stays_out_of_the_trigger_body(
    zendesk: FakeZendesk,
) -> None:
    """A configured text field could render a quote into the JSON: no severity hint."""
    fid = zendesk.add_ticket_field(
        title="Severity (text)",
        type="text",
        visible_in_portal=True,
        editable_in_portal=True,
        title_in_portal="Severity",
    )
    env = {
        "SIDECAR_CONFIG": None,
        **zendesk.env(),
        "SIDECAR_SEVERITY_FIELD_ID": str(fid),
    }
    result = CliRunner().invoke(main, ["zendesk", "setup", "--url", URL], env=env)
    assert result.exit_code == 0, result.output
    ((trigger,),) = [zendesk.trigger_list()]
    body = json.loads(trigger["actions"][0]["value"][1])
    assert "severity" not in body and body["ticket_id"] == "{{ticket.id}}"
