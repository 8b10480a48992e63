"""What a Zendesk HTTP answer means: the one place that maps a status to an error.

``decipher`` is pure (gidgethub's ``decipher_response``): given the method, the
path, the status, the headers and the parsed body, it returns the
:mod:`sidecar.errors` error whose class tells the worker what to do (retry after
N seconds, drop, dead-letter). The client raises what it returns; nothing else
in the sidecar looks at a Zendesk status code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import (
    AuthFailed,
    Conflict,
    NotFound,
    RateLimited,
    Rejected,
    TicketClosed,
    Transient,
    UpstreamError,
)
from sidecar.net import parse_retry_after

SERVICE = "zendesk"
# Zendesk's answer to any update of a closed ticket, e.g. {"error": "RecordInvalid",
# "description": "Record validation errors", "details": {"status": [{"description":
# "Status: closed prevents ticket update"}]}} (seen in several public API clients'
# fixtures; the wording is what they match on too).
_CLOSED_WORDING = "closed prevents ticket update"


def error_code(body: Any) -> str:
    """Zendesk's short error code (``RecordNotFound``...), never the whole body."""
    code = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(code, Mapping):  # some endpoints nest {"title", "message"}
        code = code.get("title")
    return code[:80] if isinstance(code, str) else ""


def invalid_fields(body: Any) -> list[tuple[str, str]]:
    """The (field, description) pairs of a RecordInvalid answer's ``details``."""
    details = body.get("details") if isinstance(body, Mapping) else None
    if not isinstance(details, Mapping):
        return []
    found: list[tuple[str, str]] = []
    for field, problems in details.items():
        for problem in problems if isinstance(problems, list) else [problems]:
            text = problem.get("description") if isinstance(problem, Mapping) else None
            where = str(field)
            if isinstance(problem, Mapping) and problem.get("ticket_field_id"):
                where = f"ticket field {problem['ticket_field_id']}"
            found.append((where, str(text or "invalid")[:200]))
    return found


def decipher(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: Any,
) -> UpstreamError:
    """Return the error a non-2xx Zendesk answer stands for."""
    code = error_code(body)
    message = f"zendesk {method} {path}: HTTP {status}"
    if code:
        message += f" ({code})"
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        return RateLimited(
            message, service=SERVICE, status=status, retry_after=retry_after
        )
    if status == 409:
        # safe_update refused: the ticket changed since we read it.
        return Conflict(message, service=SERVICE, status=status)
    if status == 404:
        return NotFound(message, service=SERVICE, status=status)
    if status in (401, 403):
        return AuthFailed(message, service=SERVICE, status=status)
    if status >= 500:
        return Transient(
            message, service=SERVICE, status=status, retry_after=retry_after
        )
    if status == 422:
        problems = invalid_fields(body)
        if any(_CLOSED_WORDING in text.lower() for _, text in problems):
            return TicketClosed(
                f"{message}: the ticket is closed", service=SERVICE, status=status
            )
        if problems:
            named = "; ".join(f"{field}: {text}" for field, text in problems[:5])
            message = f"{message}: {named}"
    return Rejected(message, service=SERVICE, status=status)
