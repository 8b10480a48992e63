"""Only the two adapters reach Zendesk and PagerDuty, so their contract cases cover the product.

test_zendesk_requests.py and test_pagerduty_events.py check every request
ZendeskClient and PagerDutyPager can send. That covers everything sidecar/
sends to those services only while no other module has its own way there;
these tests read the source (AST, not grep) to keep it so.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import sidecar

SIDECAR = Path(sidecar.__file__).parent

# Libraries that open network connections, and the modules allowed each (why).
HTTP_LIBRARIES = (
    "requests",
    "urllib3",
    "zenpy",
    "httpx",
    "httpx2",
    "pagerduty",
    "urllib.request",
    "http.client",
    "aiohttp",
    "slack_sdk",
    "slack_bolt",
)
ALLOWED: dict[str, set[str]] = {
    # PagerDuty's REST API, for `sidecar pagerduty setup` only (webhook subscriptions;
    # tests/e2e/test_pagerduty_setup.py runs it against the double's REST rules).
    "oncall/pagerduty_setup.py": {"httpx2"},
    # The Zendesk adapter: every request it sends is a contract case.
    "zendesk/client.py": {"requests", "urllib3", "zenpy"},
    # The PagerDuty adapter: every event it sends is a contract case.
    "oncall/pagerduty.py": {"httpx2"},
    # The on-call lookup (PagerDuty REST, GETs only): tests/contract/test_pagerduty_rest.py.
    "oncall/whois.py": {"httpx2"},
    # Slack, not Zendesk or PagerDuty.
    "oncall/slack.py": {"requests"},
    "slack/api.py": {"slack_sdk"},
    "tasks/slack_bridge.py": {"slack_sdk"},
    "webhooks/slack.py": {"slack_bolt", "slack_sdk"},
    # The container HEALTHCHECK probes 127.0.0.1 only.
    "healthcheck.py": {"urllib.request"},
}
# Ticket properties Zendesk honours only on the bulk update_many form.
BULK_ONLY = {"additional_tags", "remove_tags"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SIDECAR.rglob("*.py")):
        yield path.relative_to(SIDECAR).as_posix(), ast.parse(path.read_text())


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {
        library
        for name in names
        for library in HTTP_LIBRARIES
        if name == library or name.startswith(library + ".")
    }


def test_only_the_adapters_import_http_libraries() -> None:
    """A new network path must be an adapter with contract cases, not a side door."""
    unexpected = {
        name: sorted(libraries - ALLOWED.get(name, set()))
        for name, tree in modules()
        if (libraries := imported(tree)) - ALLOWED.get(name, set())
    }
    assert not unexpected, (
        f"{unexpected}: if this talks to Zendesk or PagerDuty, go through "
        "ZendeskClient / PagerDutyPager (whose requests tests/contract checks)"
    )


def test_nothing_outside_the_client_uses_its_session_or_zenpy() -> None:
    """client.zenpy (and the client's private transport) would send unchecked requests."""
    private = {"zenpy", "_zenpy", "_request", "_send", "_get_json", "_pages"}
    uses = [
        f"{name}:{node.lineno} .{node.attr}"
        for name, tree in modules()
        if name != "zendesk/client.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in private
    ]
    assert not uses, uses


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (prose may name anything)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
            ):
                found.add(id(body[0].value))
    return found


def spelled(node: ast.AST) -> str | None:
    """The identifier an attribute, keyword argument or name spells."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.keyword):
        return node.arg
    if isinstance(node, ast.Name):
        return node.id
    return None


def test_no_code_names_a_bulk_only_ticket_property() -> None:
    """No string or attribute in sidecar/ code spells additional_tags / remove_tags.

    With the funnel above and the hypothesis property in
    test_zendesk_requests.py (no TicketUpdate puts them in a single-ticket PUT),
    this proves the product never sends them to a single-ticket endpoint.
    """
    hits = []
    for name, tree in modules():
        prose = docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
                and any(word in node.value for word in BULK_ONLY)
            ) or spelled(node) in BULK_ONLY:
                hits.append(f"{name}:{getattr(node, 'lineno', '?')}")
    assert not hits, hits
