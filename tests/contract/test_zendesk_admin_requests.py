"""The admin requests of `sidecar zendesk setup`, checked against Zendesk's published contract.

``ZendeskClient.admin_request`` / ``admin_list`` pass any method, path and body
through, so the contract of what they send lives at their call sites. These
tests keep those call sites in one module (sidecar/zendesk/setup.py), check
each literal method + path there against the documented operations, and drive
the real `sidecar zendesk setup` command (and ``--repair``) through the
recording double so every request it sends is validated against the closed
fragments of tests/contract/zendesk_admin_oas.py.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import sidecar
from sidecar.cli import main
from sidecar.config import Secret
from sidecar.zendesk.client import ZendeskClient
from tests.contract.admin_cases import URL, drift, drive_setup
from tests.contract.checker import Captured, find_operation, zendesk_violations
from tests.contract.zendesk_admin_oas import ADMIN_OPERATIONS
from tests.contract.zendesk_double import BASE, SUBDOMAIN, ContractZendesk

SIDECAR = Path(sidecar.__file__).parent
ADMIN_CALLS = {"admin_request", "admin_list"}
# Modules allowed to call them, each driven by tests/contract/admin_cases.py.
ADMIN_CALLERS = {"zendesk/setup.py", "zendesk/app_install.py"}
# Functions in those modules that pass their own arguments on (their callers'
# literal method + path are checked instead).
WRAPPERS = {"_write", "write", "_build"}


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


def operations(requests: list[Captured]) -> set[str]:
    names = set()
    for request in requests:
        op, _ = find_operation(request.method, urlsplit(request.url).path)
        assert op is not None, f"{request.method} {request.url}: undocumented"
        names.add(op.name)
    return names


def assert_on_contract(requests: list[Captured]) -> None:
    problems = [p for r in requests for p in zendesk_violations(r)]
    assert not problems, "\n".join(problems)


# --- the call sites ---------------------------------------------------------------


def _calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str | None]]:
    """(call, innermost enclosing function) for every admin call and wrapper call."""
    found: list[tuple[ast.Call, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ADMIN_CALLS | WRAPPERS
        ):
            found.append((node, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return iter(found)


def _literal_path(node: ast.expr) -> str | None:
    """The path a literal (or an f-string with placeholders) spells, ids as 1."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "1"
            for part in node.values
        )
    return None


def test_only_the_setup_module_calls_the_generic_admin_methods() -> None:
    """A new caller of admin_request/admin_list needs contract cases before it may exist."""
    callers = set()
    for path in sorted(SIDECAR.rglob("*.py")):
        name = path.relative_to(SIDECAR).as_posix()
        if name == "zendesk/client.py":
            continue
        tree = ast.parse(path.read_text())
        if any(
            isinstance(node, ast.Attribute) and node.attr in ADMIN_CALLS
            for node in ast.walk(tree)
        ):
            callers.add(name)
    assert callers == ADMIN_CALLERS, (
        f"{sorted(callers - ADMIN_CALLERS)} call ZendeskClient.admin_request/"
        "admin_list: drive them in tests/contract/admin_cases.py and list them here"
    )


def test_every_call_site_names_a_documented_operation() -> None:
    """Each literal method + path at a call site is a documented Zendesk operation."""
    checked = 0
    for module in ADMIN_CALLERS:
        tree = ast.parse((SIDECAR / module).read_text())
        for call, function in _calls(tree):
            if function in WRAPPERS:
                continue  # passes its callers' method and path on
            if call.func.attr == "admin_list":  # type: ignore[attr-defined]
                method, path = "GET", _literal_path(call.args[0])
            else:
                first = call.args[0]
                method = first.value if isinstance(first, ast.Constant) else None
                path = _literal_path(call.args[1])
            where = f"{module}:{call.lineno}"
            assert isinstance(method, str) and path is not None, (
                f"{where}: a non-literal method or path cannot be checked; "
                "add the function to WRAPPERS only if it passes its arguments on"
            )
            op, _ = find_operation(method, path)
            assert op is not None, f"{where}: {method} {path} is not documented"
            checked += 1
    assert checked >= 15


# --- the requests ---------------------------------------------------------------------


def test_every_admin_fragment_is_driven(
    zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """The setup paths send a request to every admin operation, and all are on contract."""
    drive_setup(client)
    assert_on_contract(zendesk.captured)
    sent = operations(zendesk.captured)
    missing = {op.name for op in ADMIN_OPERATIONS} - sent
    assert not missing, f"admin fragments no request exercises: {sorted(missing)}"


def setup_cli(*args: str) -> Any:
    env = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_ZENDESK_URL": None,
        "SIDECAR_SEVERITY_FIELD_ID": None,
        "SIDECAR_DUE_AT_FIELD_ID": None,
        "SIDECAR_DUE_DATE_FIELD_ID": None,
        "SIDECAR_ZENDESK_SUBDOMAIN": SUBDOMAIN,
        "SIDECAR_ZENDESK_EMAIL": "bot@acme.test",
        "SIDECAR_ZENDESK_API_TOKEN": "contract-token",
        "SIDECAR_ORG_PLAN_FIELD": "sidecar_plan",
        "SIDECAR_ORG_ENTERPRISE_FIELD": "sidecar_es",
    }
    return CliRunner().invoke(main, ["zendesk", "setup", "--url", URL, *args], env=env)


def test_the_setup_command_and_its_repair_send_only_documented_requests(
    zendesk: ContractZendesk, client: ZendeskClient
) -> None:
    """`sidecar zendesk setup`, again, and `--repair` after a drift: every request on contract."""
    # Definitions without our API user: the trigger has no "Current user" condition.
    zendesk.current_user_values = [{"value": "end_user", "title": "(end-user)"}]
    first = setup_cli()
    assert first.exit_code == 0, first.output
    assert "17 write(s)" in first.output
    second = setup_cli()
    assert second.exit_code == 0 and "up to date" in second.output
    drift(client)
    reported = setup_cli()
    assert reported.exit_code == 1 and "--repair rewrites them" in reported.output
    repaired = setup_cli("--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "6 write(s)" in repaired.output
    assert_on_contract(zendesk.captured)
    (created,) = [
        json.loads(r.body or b"{}")["trigger"]
        for r in zendesk.captured
        if r.method == "POST" and urlsplit(r.url).path.startswith("/api/v2/triggers")
    ]
    assert created["conditions"]["all"] == []
    writes = [r for r in zendesk.captured if r.method in ("POST", "PUT")]
    assert {op for op in operations(writes)} == {
        "CreateTicketField",
        "UpdateTicketField",
        "UpdateTicketForm",
        "CreateOrganizationField",
        "CreateWebhook",
        "CreateTriggerCategory",
        "CreateTrigger",
        "CreateView",
        "UpdateWebhook",
        "UpdateTrigger",
        "UpdateView",
        "CreateMacro",
        "UpdateMacro",
    }


# --- the fragments reject what the contract does not allow ------------------------------


def admin(method: str, path: str, body: Any) -> Captured:
    return Captured(
        method,
        BASE + path,
        {"Content-Type": "application/json"},
        json.dumps(body).encode(),
    )


HOOK = {
    "name": "n",
    "endpoint": "https://x.example.test/hook",
    "http_method": "POST",
    "request_format": "json",
    "status": "active",
    "subscriptions": ["conditional_ticket_events"],
}
TRIGGER = {
    "title": "t",
    "category_id": "10026",
    "conditions": {"all": [], "any": [{"field": "update_type", "value": "Create"}]},
    "actions": [{"field": "notification_webhook", "value": ["01HABC", "{}"]}],
}
VIEW = {
    "title": "v",
    "all": [{"field": "status", "operator": "less_than", "value": "solved"}],
    "output": {"columns": ["nice_id"], "sort_by": "created", "sort_order": "asc"},
}


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (
            admin(
                "POST",
                "/api/v2/ticket_fields.json",
                {"ticket_field": {"type": "tagger", "title": "S"}},
            ),
            "custom_field_options",
        ),
        (
            admin(
                "POST",
                "/api/v2/ticket_fields.json",
                {"ticket_field": {"type": "text", "title": "S", "id": 5}},
            ),
            "Additional properties",
        ),
        (
            admin(
                "POST",
                "/api/v2/organization_fields.json",
                {
                    "organization_field": {
                        "key": "123",
                        "type": "checkbox",
                        "title": "x",
                    }
                },
            ),
            "key",
        ),
        (
            admin(
                "POST",
                "/api/v2/organization_fields.json",
                {"organization_field": {"key": "plan", "type": "tagger", "title": "x"}},
            ),
            "tagger",
        ),
        (
            admin(
                "POST",
                "/api/v2/webhooks",
                {
                    "webhook": {
                        **HOOK,
                        "http_method": "GET",
                        "subscriptions": ["zen:event-type:organization.created"],
                    }
                },
            ),
            "POST",
        ),
        (
            admin(
                "POST",
                "/api/v2/webhooks",
                {
                    "webhook": {
                        **HOOK,
                        "subscriptions": [
                            "conditional_ticket_events",
                            "zen:event-type:organization.created",
                        ],
                    }
                },
            ),
            "too long",
        ),
        (
            admin("POST", "/api/v2/webhooks", {"webhook": {**HOOK, "id": "01HABC"}}),
            "id",
        ),
        (
            admin("POST", "/api/v2/triggers.json", {"trigger": {**TRIGGER, "all": []}}),
            "should not be valid",
        ),
        (
            admin(
                "POST",
                "/api/v2/triggers.json",
                {"trigger": {k: v for k, v in TRIGGER.items() if k != "category_id"}},
            ),
            "any of the given schemas",
        ),
        (
            admin(
                "PUT",
                "/api/v2/triggers/5.json",
                {
                    "trigger": {
                        **TRIGGER,
                        "actions": [
                            {"field": "notification_webhook", "value": "01HABC"}
                        ],
                    }
                },
            ),
            "value",
        ),
        (
            admin(
                "POST",
                "/api/v2/views.json",
                {
                    "view": {
                        **VIEW,
                        "all": [
                            {
                                "field": "current_tags",
                                "operator": "includes",
                                "value": "x",
                            }
                        ],
                    }
                },
            ),
            "contain",
        ),
        (
            admin(
                "POST",
                "/api/v2/views.json",
                {"view": {**VIEW, "output": {"columns": list(range(1, 12))}}},
            ),
            "too long",
        ),
        (
            admin(
                "POST",
                "/api/v2/views.json",
                {"view": {**VIEW, "conditions": {"all": VIEW["all"]}}},
            ),
            "Additional properties",
        ),
        (admin("PUT", "/api/v2/views/5.json", {"view": {"any": VIEW["all"]}}), "all"),
        # OAS MacroInput: title and actions are required, on update too.
        (admin("POST", "/api/v2/macros.json", {"macro": {"title": "m"}}), "actions"),
        (
            admin(
                "PUT",
                "/api/v2/macros/5.json",
                {"macro": {"actions": [{"field": "current_tags", "value": "x"}]}},
            ),
            "title",
        ),
        (
            admin(
                "POST",
                "/api/v2/macros.json",
                {"macro": {"title": "m", "actions": [{"field": "current_tags"}]}},
            ),
            "value",
        ),
        (
            admin(
                "PUT",
                "/api/v2/ticket_fields/5.json",
                {"ticket_field": {"type": "text", "visible_in_portal": True}},
            ),
            "should not be valid",
        ),
        (
            admin(
                "PUT",
                "/api/v2/ticket_forms/5.json",
                {"ticket_form": {"ticket_field_ids": ["5"]}},
            ),
            "is not of type 'integer'",
        ),
        (
            admin(
                "PUT",
                "/api/v2/ticket_forms/5.json",
                {"ticket_form": {"ticket_field_ids": [5], "id": 5}},
            ),
            "Additional properties",
        ),
    ],
)
def test_admin_fragments_name_each_violation(request_: Captured, why: str) -> None:
    problems = zendesk_violations(request_)
    assert problems and any(why in p for p in problems), problems


def test_both_trigger_condition_forms_are_accepted() -> None:
    """`conditions: {all, any}` (OAS) and bare `all`/`any` (Conditions reference) both pass."""
    bare = {k: v for k, v in TRIGGER.items() if k != "conditions"}
    bare |= {"all": [], "any": TRIGGER["conditions"]["any"]}  # type: ignore[index]
    for trigger in (TRIGGER, bare):
        assert (
            zendesk_violations(admin("POST", "/api/v2/triggers", {"trigger": trigger}))
            == []
        )
    assert (
        zendesk_violations(admin("POST", "/api/v2/webhooks", {"webhook": HOOK})) == []
    )
    assert zendesk_violations(admin("POST", "/api/v2/views", {"view": VIEW})) == []
