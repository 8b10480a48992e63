"""`sidecar zendesk setup` against FakeZendesk over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.zendesk.events import trigger_body
from sidecar.zendesk.setup import (
    MACRO_PAGE,
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
    """Fields (severity, due, outcome), org fields, both webhooks, the category, the trigger, three views and the macro are created."""
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
            "POST /api/v2/macros.json",
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
    # The agents' macro: the request tag and an internal note to write the reason in.
    ((macro,),) = [zendesk.macro_list()]
    assert macro["title"] == MACRO_PAGE and macro["active"] is True
    assert macro["actions"] == [
        {"field": "current_tags", "value": "sidecar_page_oncall"},
        {"field": "comment_mode_is_public", "value": "false"},
        {"field": "comment_value", "value": "Reason for paging: "},
    ]


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
    assert sum(" create" in line for line in lines) == 16
    assert any(line.split()[:1] == ["macro"] for line in lines)
    assert "dry run: nothing written" in result.output


def test_hand_edited_macro_is_reported_then_repaired(zendesk: FakeZendesk) -> None:
    """A macro someone edited (its tag removed) is reported, and rewritten with --repair."""
    assert setup(zendesk).exit_code == 0
    ((macro,),) = [zendesk.macro_list()]
    zendesk.edit_macro(
        macro["id"], actions=[{"field": "comment_value", "value": "Paging!"}]
    )
    zendesk.reset_calls()
    seen = setup(zendesk)
    assert seen.exit_code == 1 and writes(zendesk) == []
    assert "differs in actions" in seen.output
    repaired = setup(zendesk, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert writes(zendesk) == [f"PUT /api/v2/macros/{macro['id']}.json"]
    ((fixed,),) = [zendesk.macro_list()]
    assert {"field": "current_tags", "value": "sidecar_page_oncall"} in fixed["actions"]


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
    assert sum(" create" in line for line in result.output.splitlines()) == 15
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


# --- the people's side: Help Center, ticket forms, the account's severity options ----


def test_severity_is_set_for_the_help_center_and_own_fields_are_not_editable(
    zendesk: FakeZendesk,
) -> None:
    """New Issue Severity: visible, editable, titled in the Help Center; the sidecar's own fields are not editable there."""
    result = setup(zendesk, "--require-severity")
    assert result.exit_code == 0, result.output
    env = env_of(result.output)
    severity = zendesk.ticket_field(int(env["SIDECAR_SEVERITY_FIELD_ID"]))
    assert severity["visible_in_portal"] and severity["editable_in_portal"]
    assert severity["title_in_portal"] == "Issue Severity"
    assert severity["required_in_portal"] is True
    assert severity["custom_field_options"][0]["name"] == (
        "SEV 1 - Critical (Business-Critical Impact)"
    )
    for key in (
        "SIDECAR_DUE_AT_FIELD_ID",
        "SIDECAR_DUE_DATE_FIELD_ID",
        "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
        "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
        "SIDECAR_BREACH_MINUTES_FIELD_ID",
    ):
        own = zendesk.ticket_field(int(env[key]))
        assert own["editable_in_portal"] is False and own["visible_in_portal"] is False


def seven_fields(zendesk: FakeZendesk) -> list[int]:
    """An admin's own fields, in the order the admin put them on the forms."""
    return [zendesk.add_ticket_field(title=f"Admin field {n}") for n in range(3)]


def severity_n(zendesk: FakeZendesk, **properties: object) -> int:
    """An existing Issue Severity field whose tags are severity_1…severity_5."""
    return zendesk.add_ticket_field(
        title="Issue Severity",
        type="tagger",
        options=[(f"Severity {n}", f"severity_{n}") for n in range(1, 6)],
        **properties,
    )


def test_three_forms_and_an_existing_severity_field(zendesk: FakeZendesk) -> None:
    """The account's severity_N tags are kept, its two active forms get our fields appended, the inactive one is left alone."""
    admin = seven_fields(zendesk)
    severity = severity_n(
        zendesk,
        visible_in_portal=True,
        editable_in_portal=True,
        title_in_portal="How bad?",
    )
    options_before = zendesk.ticket_field(severity)["custom_field_options"]
    web = zendesk.add_ticket_form("Web form", [admin[2], admin[0]])
    api = zendesk.add_ticket_form("API form", [admin[1], severity])
    old = zendesk.add_ticket_form("Old form", [admin[0]], active=False)
    result = setup(zendesk)
    assert result.exit_code == 0, result.output
    assert "severity tags: SEV 1 = severity_1" in result.output
    env = env_of(result.output)
    assert env["SIDECAR_SEVERITY_FIELD_ID"] == str(severity)
    ours = [
        int(env[key])
        for key in (
            "SIDECAR_DUE_AT_FIELD_ID",
            "SIDECAR_DUE_DATE_FIELD_ID",
            "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
            "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
            "SIDECAR_BREACH_MINUTES_FIELD_ID",
        )
    ]
    # Appended: the admin's order first, unchanged.
    assert zendesk.ticket_form(web)["ticket_field_ids"] == [
        admin[2],
        admin[0],
        severity,
        *ours,
    ]
    assert zendesk.ticket_form(api)["ticket_field_ids"] == [admin[1], severity, *ours]
    assert zendesk.ticket_form(old)["ticket_field_ids"] == [admin[0]]
    # The account's options and portal title are never rewritten.
    after = zendesk.ticket_field(severity)
    assert after["custom_field_options"] == options_before
    assert after["title_in_portal"] == "How bad?"
    assert not [w for w in writes(zendesk) if w.startswith("PUT /api/v2/ticket_fields")]
    zendesk.reset_calls()
    again = setup(zendesk)
    assert again.exit_code == 0 and "up to date" in again.output, again.output
    assert writes(zendesk) == []


def test_a_form_that_lost_the_severity_field_is_drift(zendesk: FakeZendesk) -> None:
    """An admin takes Issue Severity off a form: reported (exit 1, no write); --repair appends it again."""
    admin = seven_fields(zendesk)
    form = zendesk.add_ticket_form("Web form", admin[:2])
    assert setup(zendesk).exit_code == 0
    severity = int(env_of(setup(zendesk).output)["SIDECAR_SEVERITY_FIELD_ID"])
    ids = zendesk.ticket_form(form)["ticket_field_ids"]
    zendesk._ticket_forms[form]["ticket_field_ids"] = [i for i in ids if i != severity]
    zendesk.reset_calls()
    seen = setup(zendesk)
    assert seen.exit_code == 1
    assert writes(zendesk) == []
    (row,) = [
        line for line in seen.output.splitlines() if line.startswith("ticket form")
    ]
    assert "changed" in row and "lacks Issue Severity" in row
    repaired = setup(zendesk, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert writes(zendesk) == [f"PUT /api/v2/ticket_forms/{form}.json"]
    assert zendesk.ticket_form(form)["ticket_field_ids"][-1] == severity


def test_only_the_forms_named(zendesk: FakeZendesk) -> None:
    """--form NAME adds the fields to that form only; an unknown name lists the forms."""
    admin = seven_fields(zendesk)
    chosen = zendesk.add_ticket_form("Enterprise", [admin[0]])
    other = zendesk.add_ticket_form("Billing", [admin[1]])
    result = setup(zendesk, "--form", "Enterprise")
    assert result.exit_code == 0, result.output
    assert len(zendesk.ticket_form(chosen)["ticket_field_ids"]) == 7
    assert zendesk.ticket_form(other)["ticket_field_ids"] == [admin[1]]
    zendesk.reset_calls()
    unknown = setup(zendesk, "--form", "Enterprize")
    assert unknown.exit_code == 1
    assert "--form 'Enterprize': no ticket form has that name or id" in unknown.output
    assert "'Billing'" in unknown.output and writes(zendesk) == []


def test_an_existing_severity_field_hidden_from_the_help_center(
    zendesk: FakeZendesk,
) -> None:
    """Not visible in the Help Center: drift; --repair sends only the portal properties, never the options."""
    severity = severity_n(zendesk)
    assert setup(zendesk).exit_code == 1
    zendesk.reset_calls()
    seen = setup(zendesk)
    (row,) = [
        line
        for line in seen.output.splitlines()
        if line.startswith("ticket field  ") and "Issue Severity" in line
    ]
    assert "visible_in_portal False → True" in row and writes(zendesk) == []
    repaired = setup(zendesk, "--repair")
    assert repaired.exit_code == 0, repaired.output
    (put,) = zendesk.calls("PUT", f"/ticket_fields/{severity}")
    assert put.json == {
        "ticket_field": {
            "visible_in_portal": True,
            "editable_in_portal": True,
            "title_in_portal": "Issue Severity",
        }
    }


def test_a_due_field_editable_by_end_users_is_drift(zendesk: FakeZendesk) -> None:
    """Someone lets customers edit the due time: reported, and --repair takes it back."""
    first = setup(zendesk)
    due_at = int(env_of(first.output)["SIDECAR_DUE_AT_FIELD_ID"])
    zendesk.edit_ticket_field(due_at, visible_in_portal=True, editable_in_portal=True)
    seen = setup(zendesk)
    assert seen.exit_code == 1 and "editable_in_portal True → False" in seen.output
    assert setup(zendesk, "--repair").exit_code == 0
    field = zendesk.ticket_field(due_at)
    # Visibility is the admin's choice; editing is never the customer's.
    assert field["editable_in_portal"] is False and field["visible_in_portal"] is True


def test_a_severity_without_an_option_is_refused_before_any_write(
    zendesk: FakeZendesk,
) -> None:
    """Options for SEV 1-4 only: setup names the options and SEV 5, and writes nothing."""
    zendesk.add_ticket_field(
        title="Issue Severity",
        type="tagger",
        options=[(f"P{n}", f"severity_{n}") for n in range(1, 5)] + [("Low", "low")],
    )
    for args in ((), ("--dry-run",), ("--repair",)):
        result = setup(zendesk, *args)
        assert result.exit_code == 1
        assert "no option for SEV 5" in result.output
        assert "'Low' (tag 'low')" in result.output
        assert "Traceback" not in result.output
    assert writes(zendesk) == []


def test_views_made_by_an_earlier_setup_are_drift(zendesk: FakeZendesk) -> None:
    """A view sorted by the due date without the new columns is reported and rewritten by --repair."""
    assert setup(zendesk).exit_code == 0
    env = env_of(setup(zendesk).output)
    view_id = next(
        v for v, view in zendesk._views.items() if view["title"] == "SLA at risk"
    )
    zendesk._views[view_id]["output"] = {
        "columns": ["nice_id", "description", "status", "requester"],
        "sort_by": env["SIDECAR_DUE_DATE_FIELD_ID"],
        "sort_order": "asc",
    }
    seen = setup(zendesk)
    assert seen.exit_code == 1 and "differs in columns, sort" in seen.output
    assert setup(zendesk, "--repair").exit_code == 0
    assert (
        zendesk._views[view_id]["output"]["sort_by"] == env["SIDECAR_DUE_AT_FIELD_ID"]
    )


def test_an_account_without_ticket_forms(zendesk: FakeZendesk) -> None:
    """List Ticket Forms answers 403 on plans without forms: setup says so and goes on."""
    zendesk.fail_next(1, 403, path_contains="/ticket_forms", method="GET")
    result = setup(zendesk)
    assert result.exit_code == 0, result.output
    assert "this account has no ticket forms" in result.output
    zendesk.fail_next(1, 403, path_contains="/ticket_forms", method="GET")
    named = setup(zendesk, "--form", "Web")
    assert named.exit_code == 1 and "Traceback" not in named.output


METRICS_POLICY = """
[policies.contract]
sev1 = { target = "1h", schedule = "24/7" }

[policies.contract.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "4h", schedule = "24/7" }
resolution = { target = "1d", schedule = "24/7", pause = ["pending"] }
"""


def test_due_fields_only_for_the_metrics_the_policy_uses(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """Issue 21: a next-reply and a resolution field (no periodic update), and the reply-soon view."""
    bare = setup(zendesk, "--dry-run")
    assert "SLA next reply due" not in bare.output  # the built-in policy: none
    policy = tmp_path / "policy.toml"
    policy.write_text(METRICS_POLICY)
    env = {"SIDECAR_POLICY_FILE": str(policy)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        first = setup(zendesk)
        assert first.exit_code == 0, first.output
        lines = env_of(first.output)
        titles = {f["title"]: f for f in zendesk._ticket_fields}
        assert titles["SLA next reply due"]["type"] == "text"
        assert "SLA resolution due" in titles
        assert "SLA periodic update due" not in titles
        assert lines["SIDECAR_NEXT_REPLY_DUE_FIELD_ID"] == str(
            titles["SLA next reply due"]["id"]
        )
        assert "SIDECAR_PERIODIC_UPDATE_DUE_FIELD_ID" not in lines
        views = [
            v
            for v in zendesk.view_list()
            if v["title"] == "SLA reply due within the hour"
        ]
        assert len(views) == 1
        zendesk.reset_calls()
        again = setup(zendesk)
        assert again.exit_code == 0, again.output
        assert writes(zendesk) == []


def test_a_macro_read_back_in_another_spelling_is_up_to_date(
    zendesk: FakeZendesk,
) -> None:
    """comment_value as ["channel:all", text] and a JSON boolean, in another order: no drift."""
    assert setup(zendesk).exit_code == 0
    ((macro,),) = [zendesk.macro_list()]
    zendesk.edit_macro(
        macro["id"],
        actions=[
            {"field": "comment_value", "value": ["channel:all", "Reason for paging: "]},
            {"field": "comment_mode_is_public", "value": False},
            {"field": "current_tags", "value": "sidecar_page_oncall"},
        ],
    )
    zendesk.reset_calls()
    again = setup(zendesk)
    assert again.exit_code == 0, again.output
    assert writes(zendesk) == []
