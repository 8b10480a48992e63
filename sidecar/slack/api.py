"""The Slack Web API boundary: one client per process, one ``decipher`` for its answers.

``slack_sdk``'s ``WebClient`` sends every method as a POST to
``{base_url}{method}`` with the bot token as a Bearer header. It raises
``SlackApiError`` when the HTTP status is not 200 **or** the JSON says
``ok: false`` (errors come with HTTP 200 and a short ``error`` code), and lets
urllib's network errors through. :func:`call` turns all of those into
:mod:`sidecar.errors`, so the worker's retry rules apply to Slack as to Zendesk.
No transparent retries: the worker owns them (a 429 becomes RateLimited with
Slack's ``Retry-After``).
"""

from __future__ import annotations

import logging
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from sidecar.config import Config
from sidecar.errors import (
    AuthFailed,
    ConfigError,
    Gone,
    RateLimited,
    Rejected,
    Transient,
    UpstreamError,
)
from sidecar.net import parse_retry_after

log = logging.getLogger("sidecar.slack")

SERVICE = "slack"
DEFAULT_TIMEOUT = 10  # seconds; WebClient takes an int
DEFAULT_API_URL = "https://slack.com/api/"

# docs.slack.dev/reference/methods/* "Errors" tables: the token itself is refused.
_AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
    }
)
# The conversation or user is not there (any more) for us: nothing to retry.
_GONE_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "user_not_found",
        "user_not_visible",
        "user_not_in_channel",
        "message_not_found",
        "thread_not_found",
    }
)
# Slack's own trouble, per the same tables: try again later.
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class NotInChannel(Gone):
    """``not_in_channel``: the bot was never invited to (or was removed from) the channel.

    chat.postMessage "Errors": "not_in_channel: Cannot post user messages to
    a channel they are not in" (docs.slack.dev/reference/methods/chat.postMessage).
    Still a drop for the worker (retrying cannot invite the bot), but the one
    Gone an operator can fix in a minute, so the bridge says how.
    """


def web_client(config: Config) -> WebClient:
    """Build the bot's Web API client (SIDECAR_SLACK_API_URL for tests and proxies)."""
    if not config.slack_bot_token:
        raise ConfigError("SIDECAR_SLACK_BOT_TOKEN is not set")
    return WebClient(
        token=config.slack_bot_token.reveal(),
        base_url=config.slack_api_url,
        timeout=DEFAULT_TIMEOUT,
    )


def decipher(
    method: str, status: int, headers: Mapping[str, Any], body: Any
) -> UpstreamError:
    """Return the error a failed Slack Web API answer stands for."""
    code = body.get("error") if isinstance(body, Mapping) else None
    code = code[:80] if isinstance(code, str) else ""
    message = f"slack {method}: HTTP {status}" + (f" ({code})" if code else "")
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if status == 429 or code == "ratelimited":
        # docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with Retry-After seconds.
        return RateLimited(
            message, service=SERVICE, status=status, retry_after=retry_after
        )
    if status >= 500 or code in _TRANSIENT_ERRORS:
        return Transient(
            message, service=SERVICE, status=status, retry_after=retry_after
        )
    if code in _AUTH_ERRORS or status in (401, 403):
        return AuthFailed(message, service=SERVICE, status=status)
    if code == "not_in_channel":
        return NotInChannel(message, service=SERVICE, status=status)
    if code in _GONE_ERRORS:
        return Gone(message, service=SERVICE, status=status)
    return Rejected(message, service=SERVICE, status=status)


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _send(method: str, fn: Callable[..., Any], **kwargs: Any) -> SlackResponse:
    """Call one Web API method and return Slack's answer (data and headers)."""
    try:
        response: SlackResponse = fn(**kwargs)
    except SlackApiError as exc:
        answer = exc.response
        raise decipher(
            method,
            int(getattr(answer, "status_code", 0) or 0),
            dict(getattr(answer, "headers", {}) or {}),
            getattr(answer, "data", None),
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise Transient(
            f"slack {method}: connection failed ({type(exc).__name__})",
            service=SERVICE,
        ) from None
    if not isinstance(response.data, Mapping):
        raise Transient(f"slack {method}: answer is not a JSON object", service=SERVICE)
    return response


def call(method: str, fn: Callable[..., Any], **kwargs: Any) -> Mapping[str, Any]:
    """Call one Web API method; every failure leaves as a sidecar UpstreamError."""
    data: Mapping[str, Any] = _send(method, fn, **kwargs).data  # type: ignore[assignment]
    return data


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot token is (auth.test) and the scopes Slack says it holds."""

    user_id: str
    team: str
    team_id: str
    # From the ``x-oauth-scopes`` header; None when Slack did not send it.
    scopes: frozenset[str] | None


def bot_identity(client: WebClient) -> BotIdentity:
    """Check the token with auth.test; read its scopes from ``x-oauth-scopes``.

    auth.test needs no scope (docs.slack.dev/reference/methods/auth.test);
    Web API answers carry the token's scopes, comma-separated, in the
    ``x-oauth-scopes`` header (slack-ruby-client#378; Bolt's test server
    sends it on auth.test).
    """
    response = _send("auth.test", client.auth_test)
    data = response.data if isinstance(response.data, Mapping) else {}
    raw = _header(dict(response.headers or {}), "x-oauth-scopes")
    scopes = (
        frozenset(s.strip() for s in raw.split(",") if s.strip())
        if raw is not None
        else None
    )
    return BotIdentity(
        user_id=str(data.get("user_id") or ""),
        team=str(data.get("team") or ""),
        team_id=str(data.get("team_id") or ""),
        scopes=scopes,
    )


def bot_in_channel(client: WebClient, channel: str) -> bool:
    """Whether the bot is a member of ``channel`` (conversations.info ``is_member``).

    Needs ``channels:read`` (public) or ``groups:read`` (private channels);
    a private channel the bot is not in answers ``channel_not_found`` (Gone).
    """
    data = call("conversations.info", client.conversations_info, channel=channel)
    found = data.get("channel")
    return bool(isinstance(found, Mapping) and found.get("is_member") is True)


def user_identity(client: WebClient, user_id: str) -> tuple[str, str | None]:
    """Return (display name, email or None) of a Slack user; never raises for a hidden one.

    The email needs ``users:read.email`` and is often hidden for people of
    another organization in a Slack Connect channel (``is_stranger``): then
    None, and the caller falls back.
    """
    try:
        data = call("users.info", client.users_info, user=user_id)
    except (Gone, AuthFailed) as exc:
        # user_not_visible / missing_scope: the ticket still gets created.
        log.info("slack user %s not readable: %s", user_id, exc)
        return user_id, None
    user = data.get("user") or {}
    profile = user.get("profile") or {}
    name = (
        profile.get("real_name")
        or profile.get("display_name")
        or user.get("real_name")
        or user.get("name")
        or user_id
    )
    email = profile.get("email")
    return str(name), (str(email) if isinstance(email, str) and "@" in email else None)
