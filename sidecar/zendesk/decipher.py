"""What a Zendesk HTTP answer means: the one place that maps a status to an error.

``decipher`` is pure (gidgethub's ``decipher_response``): given the method, the
path, the status, the headers and the parsed body, it returns the
:mod:`sidecar.errors` error whose class tells the worker what to do (retry after
N seconds, drop, dead-letter). The client raises what it returns; nothing else
in the sidecar looks at a Zendesk status code. ``decipher_failure`` does the
same for a request that got no answer (refused, DNS, TLS, timeout).

The message is what an operator reads (the CLI's error line, the worker's log
line, the dead letter's reason): it names the host, the API user, what Zendesk
said and the next step, never a credential.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
from sidecar.zendesk.budget import UPDATE_ENDPOINT, account_headroom, endpoint_headroom

SERVICE = "zendesk"
# Zendesk's answer to any update of a closed ticket, e.g. {"error": "RecordInvalid",
# "description": "Record validation errors", "details": {"status": [{"description":
# "Status: closed prevents ticket update"}]}} (seen in several public API clients'
# fixtures; the wording is what they match on too).
_CLOSED_WORDING = "closed prevents ticket update"
# Where an API token is switched on and the admin role given (Zendesk Help:
# "Managing API token access to the Zendesk API", "Understanding Zendesk
# Support user roles"). Wording of the Admin Center menus as of 2026.
_TOKEN_PLACE = "Admin Center > Apps and integrations > APIs > Zendesk API"
_ROLE_PLACE = "Admin Center > People > Team > Team members"


@dataclass(frozen=True)
class Account:
    """Who calls which Zendesk: named in every error message, never a secret.

    ``host`` is where requests go (the SIDECAR_ZENDESK_URL override's host, or
    ``<subdomain>.zendesk.com``); ``user`` the API user's email (empty with an
    OAuth token, whose user Zendesk alone knows).
    """

    subdomain: str
    host: str
    user: str = ""
    oauth: bool = False
    overridden: bool = False  # host comes from SIDECAR_ZENDESK_URL

    def where(self, method: str, path: str) -> str:
        """``zendesk GET /path on host as user``: the start of every message."""
        who = self.user if not self.oauth else "the OAuth token's user"
        return f"zendesk {method} {path} on {self.host} as {who or 'an unnamed user'}"

    def check_credentials(self) -> str:
        """The next step after a 401."""
        if self.oauth:
            return (
                f"check SIDECAR_ZENDESK_OAUTH_TOKEN for {self.subdomain}: the OAuth "
                "token must be active (not revoked) and issued by this account"
            )
        return (
            f"check SIDECAR_ZENDESK_EMAIL / SIDECAR_ZENDESK_API_TOKEN for "
            f"{self.subdomain}: the email must be the API user's, the token must "
            f"be active and API token access enabled in {_TOKEN_PLACE}"
        )

    def check_role(self) -> str:
        """The next step after a 403."""
        if self.oauth:
            return (
                "the OAuth token's user or scope lacks the permission for this "
                f"call: give the API user the admin role ({_ROLE_PLACE}) and the "
                "token the read and write scopes"
            )
        return (
            f"{self.user} lacks the permission for this call: give the API user "
            f"the admin role ({_ROLE_PLACE})"
        )

    def check_host(self) -> str:
        """Which setting chose the host, for a failure to reach it."""
        if self.overridden:
            return f"SIDECAR_ZENDESK_URL ({self.host})"
        return (
            f"SIDECAR_ZENDESK_SUBDOMAIN ({self.subdomain}; SIDECAR_ZENDESK_URL unset)"
        )


def _where(account: Account | None, method: str, path: str) -> str:
    return account.where(method, path) if account else f"zendesk {method} {path}"


def error_code(body: Any) -> str:
    """Zendesk's short error code (``RecordNotFound``...), never the whole body."""
    code = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(code, Mapping):  # some endpoints nest {"title", "message"}
        code = code.get("title")
    if code is None and isinstance(body, Mapping):
        # OAS `Errors`: {"errors": [{"code": ..., "title": ...}]}.
        found = body.get("errors")
        first = found[0] if isinstance(found, list) and found else None
        code = first.get("code") if isinstance(first, Mapping) else None
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


def error_words(body: Any) -> str:
    """What Zendesk said: its error code and its description or message, shortened."""
    code = error_code(body)
    words: object = None
    if isinstance(body, Mapping):
        words = body.get("description")
        nested = body.get("error")
        if isinstance(nested, Mapping):
            words = nested.get("message") or words
    text = words.strip()[:160] if isinstance(words, str) and words.strip() else ""
    return f"{code}: {text}" if code and text and text != code else code or text


def decipher(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    account: Account | None = None,
) -> UpstreamError:
    """Return the error a non-2xx Zendesk answer stands for."""
    said = error_words(body)
    message = f"{_where(account, method, path)}: HTTP {status}"
    if said:
        message += f" ({said})"
    # Header names are case-insensitive (RFC 9110, section 5.1); callers may
    # pass a plain mapping (a recorded answer, a 429 kept on the error).
    retry_after = parse_retry_after(
        next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    )
    if status == 429:
        if retry_after is None:
            # No Retry-After: wait for the latest reset the rate-limit headers give.
            resets = [
                found[2]
                for found in (
                    account_headroom(headers),
                    endpoint_headroom(headers, UPDATE_ENDPOINT),
                )
                if found is not None and found[2] is not None
            ]
            retry_after = max(resets) if resets else None
        return RateLimited(
            message, service=SERVICE, status=status, retry_after=retry_after
        )
    if status == 409:
        # safe_update refused: the ticket changed since we read it.
        return Conflict(message, service=SERVICE, status=status)
    if status == 404:
        return NotFound(message, service=SERVICE, status=status)
    if status == 401:
        if account:
            message += f"; {account.check_credentials()}"
        return AuthFailed(message, service=SERVICE, status=status)
    if status == 403:
        if account:
            message += f"; {account.check_role()}"
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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (urllib3's ``reason``, ``__cause__``...)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
        ]
        nested.extend(a for a in current.args if isinstance(a, BaseException))
        todo.extend(n for n in nested if isinstance(n, BaseException))


def decipher_failure(
    method: str,
    path: str,
    exc: BaseException,
    *,
    timed_out: bool,
    account: Account | None = None,
    seconds: float | None = None,
) -> Transient:
    """Return the error for a request that got no answer: say why and what to check.

    ``exc`` is the transport's exception (requests/urllib3), read only for its
    kind: refused, a name that does not resolve, a TLS failure, a timeout.
    Always Transient: the worker retries; the message tells an operator what to
    look at if the retries run out.
    """
    causes = list(_causes(exc))
    names = {type(c).__name__ for c in causes}
    account = account or Account(subdomain="?", host="the Zendesk host")
    host, setting = account.host, account.check_host()
    if timed_out:
        within = f" within {seconds:g} s" if seconds else ""
        why = (
            f"timed out ({type(exc).__name__}): no answer from {host}{within}; "
            f"check this machine's outbound network, firewall and proxy "
            f"(HTTPS_PROXY) towards {host}, and status.zendesk.com"
        )
    elif "NameResolutionError" in names or any(
        isinstance(c, socket.gaierror) for c in causes
    ):
        why = (
            f"connection failed: cannot resolve {host} (DNS); check {setting} "
            "and this machine's DNS"
        )
    elif "SSLError" in names or any(isinstance(c, ssl.SSLError) for c in causes):
        why = (
            f"connection failed: TLS handshake with {host} failed; check that "
            f"{setting} is an https endpoint, and the CA certificates "
            "(REQUESTS_CA_BUNDLE for a TLS-inspecting proxy) and the clock"
        )
    elif any(isinstance(c, ConnectionRefusedError) for c in causes):
        why = (
            f"connection failed: {host} refused the connection; check {setting} "
            "and that a proxy or firewall lets this machine reach it"
        )
    else:
        why = (
            f"connection failed ({type(exc).__name__}): the connection to {host} "
            f"broke; check {setting}, the network and any proxy between"
        )
    return Transient(f"{_where(account, method, path)}: {why}", service=SERVICE)
