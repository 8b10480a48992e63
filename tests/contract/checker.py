"""Check one captured HTTP request against the contract fragments.

``zendesk_violations`` and ``pagerduty_violations`` return a list of
human-readable problems (empty when the request conforms), so a test can show
every problem of a request at once and the strict fake could reuse them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator

from tests.contract import pagerduty_events
from tests.contract.zendesk_admin_oas import ADMIN_OPERATIONS
from tests.contract.zendesk_apps_oas import APPS_OPERATIONS
from tests.contract.zendesk_oas import OPERATIONS, Operation, Schema
from tests.contract.zendesk_schedules_oas import SCHEDULE_OPERATIONS

ZENDESK_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.zendesk\.com$")


@dataclass(frozen=True)
class Captured:
    """One request as it left the client."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def header(self, name: str) -> str:
        """A header's value, whatever case the HTTP library wrote its name in."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def json(self) -> Any:
        return None if not self.body else json.loads(self.body)


def _problems(schema: Schema, instance: Any, where: str) -> list[str]:
    validator = Draft202012Validator(schema)
    return [
        f"{where}{'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else ''}: "
        f"{e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    ]


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


# Every documented operation: the tickets/organizations ones and the admin
# ones of `sidecar zendesk setup` (zendesk_admin_oas.py).
ALL_OPERATIONS: tuple[Operation, ...] = (
    *OPERATIONS,
    *ADMIN_OPERATIONS,
    *APPS_OPERATIONS,  # `setup --app` (zendesk_apps_oas.py)
    *SCHEDULE_OPERATIONS,  # the Business Hours reads (zendesk_schedules_oas.py)
)
_MATCHERS = [(op, _template_regex(op.path)) for op in ALL_OPERATIONS]


def documented_path(path: str) -> str:
    """The request path as the OAS spells it: without the `.json` suffix.

    Zendesk serves every API path with or without `.json`; its own reference
    pages use the suffix in their examples (e.g. "Adding tags to tickets
    without overwriting existing tags": `/api/v2/tickets/update_many.json`) and
    its `next_page` / `links.next` URLs carry it.
    """
    return path[: -len(".json")] if path.endswith(".json") else path


def find_operation(method: str, path: str) -> tuple[Operation | None, dict[str, str]]:
    """The documented operation a request goes to, and its path parameters.

    A literal segment wins over a parameter (`/organizations/search` is
    SearchOrganizations, not ShowOrganization with id "search"): among the
    matches whose parameters are valid, the one with the fewest parameters.
    """
    path = documented_path(path)
    found: list[tuple[Operation, dict[str, str]]] = []
    for op, regex in _MATCHERS:
        match = regex.match(path)
        if op.method != method or not match:
            continue
        params = match.groupdict()
        if all(
            not _problems(op.path_params[name], value, name)
            for name, value in params.items()
        ):
            found.append((op, params))
    if not found:
        return None, {}
    return min(found, key=lambda pair: len(pair[1]))


def query_of(url: str) -> tuple[dict[str, str], list[str]]:
    """The query string as a dict of strings, and the names sent more than once."""
    raw = parse_qs(urlsplit(url).query, keep_blank_values=True)
    repeated = sorted(name for name, values in raw.items() if len(values) > 1)
    return {name: values[0] for name, values in raw.items()}, repeated


def zendesk_violations(request: Captured) -> list[str]:
    """Everything about this request that Zendesk's published contract does not allow."""
    parts = urlsplit(request.url)
    where = f"{request.method} {parts.path}"
    problems: list[str] = []
    if parts.scheme != "https" or not ZENDESK_HOST.match(parts.hostname or ""):
        problems.append(f"{where}: not an https://<subdomain>.zendesk.com URL")
    op, _ = find_operation(request.method, parts.path)
    if op is None:
        return [
            *problems,
            f"{where}: no documented Zendesk operation for this method and path",
        ]
    where = f"{where} ({op.name})"
    params, repeated = query_of(request.url)
    problems += [f"{where}: query parameter {name!r} sent twice" for name in repeated]
    problems += _problems(op.query, params, f"{where} query")
    if op.form:
        return problems + _form_problems(op, request, where)
    if op.body is None:
        if request.body:
            problems.append(f"{where}: a body on an operation that takes none")
        return problems
    content_type = request.header("Content-Type")
    if not content_type.startswith("application/json"):
        problems.append(f"{where}: Content-Type {content_type!r}, not application/json")
    try:
        body = request.json()
    except ValueError:
        return [*problems, f"{where}: the body is not JSON"]
    return problems + _problems(op.body, body, f"{where} body")


def _form_problems(op: Operation, request: Captured, where: str) -> list[str]:
    """A multipart upload: the content type and each documented field."""
    content_type = request.header("Content-Type")
    if not content_type.startswith("multipart/form-data; boundary="):
        return [f"{where}: Content-Type {content_type!r}, not multipart/form-data"]
    body = request.body or b""
    return [
        f"{where}: form field {name!r} missing"
        for name in op.form
        if f'name="{name}"'.encode() not in body
    ]


def zendesk_response_problems(op: Operation, body: Any) -> list[str]:
    """Whether a canned answer is shaped as Zendesk documents it (for the tests' doubles)."""
    if op.response is None:
        return []
    return _problems(op.response, body, f"{op.name} response")


def pagerduty_violations(request: Captured) -> list[str]:
    """Everything about this event that the Events API v2 documentation does not allow."""
    problems: list[str] = []
    if request.method != "POST" or request.url != pagerduty_events.ENDPOINT:
        problems.append(
            f"{request.method} {request.url}: events go by POST to {pagerduty_events.ENDPOINT}"
        )
    if not request.header("Content-Type").startswith("application/json"):
        problems.append("Content-Type is not application/json")
    size = len(request.body or b"")
    if size > pagerduty_events.MAX_EVENT_BYTES:
        problems.append(f"event is {size} bytes, over PagerDuty's 512 KB")
    try:
        event = request.json()
    except ValueError:
        return [*problems, "the body is not JSON"]
    return problems + _problems(pagerduty_events.EVENT, event, "event")


def all_violations(requests: Iterable[Captured], check: Any) -> list[str]:
    return [problem for request in requests for problem in check(request)]
