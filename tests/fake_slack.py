"""A fake Slack Web API on 127.0.0.1, and signed requests as Slack sends them.

``slack_sdk``'s ``WebClient(base_url=fake.api_url)`` talks to it: every method
is a POST to ``{base_url}{method}`` with ``Authorization: Bearer <token>``, a
JSON body (chat.postMessage, chat.postEphemeral, views.open) or a form body
(the rest); booleans come as "1"/"0". Every answer is HTTP 200 JSON with a
boolean ``ok`` and, on failure, a short ``error`` code (Slack Web API "Basics",
api.slack.com/web); 429 with ``Retry-After`` over a rate limit
(docs.slack.dev/apis/web-api/rate-limits). Each method checks what its
reference page documents, error code by error code:

- auth.test: the bot's identity (team_id, user_id, bot_id).
- chat.postMessage: ``channel_not_found``, ``not_in_channel`` (the bot must be a
  member: "Cannot post user messages to a channel they are not in", HTTP 200
  ``{"ok": false, "error": "not_in_channel"}``; the app has no
  ``chat:write.public``), ``no_text``; a ``thread_ts`` must be a parent's ts ("Avoid using a
  reply's ts value; use its parent instead": not an error code, so it is
  recorded in ``violations`` for tests to assert on).
- chat.postEphemeral: ``channel_not_found``, ``user_not_in_channel``, ``no_text``;
  answers ``message_ts``.
- chat.getPermalink: ``channel_not_found``, ``message_not_found``; replies get
  ``?thread_ts=…&cid=…``.
- users.info: ``user_not_found``; ``profile.email`` only for users whose email
  Slack shares (users:read.email, and not hidden for Slack Connect strangers).
- conversations.history: ``channel_not_found``; top-level messages only,
  newest first, within latest/oldest (``inclusive``), at most ``limit``.
- conversations.info: ``channel.is_member`` for the bot; needs ``channels:read``
  (public) or ``groups:read`` (private), else ``missing_scope``
  (docs.slack.dev/reference/methods/conversations.info, its scope table); a
  private channel the bot is not in is ``channel_not_found`` (private channels
  are visible only to members, docs.slack.dev/reference/objects/conversation-object).
- Every answer carries the token's scopes, comma-separated, in ``x-oauth-scopes``
  (slack-ruby-client#378; Bolt's own mock server sends it); a method that needs
  a scope the token lacks answers ``missing_scope`` with ``needed``/``provided``.
- views.open: ``expired_trigger_id`` (a trigger lives 3 s, api.slack.com/docs/triggers),
  ``exchanged_trigger_id`` (usable once), ``invalid_arguments`` for a view that
  breaks Block Kit's limits (title 24 characters, 100 blocks,
  private_metadata 3,000, callback_id 255, input blocks need ``submit``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode

from slack_sdk.signature import SignatureVerifier

from tests.support import http

BOT_TOKEN = "xoxb-test-bot-token"  # a test credential, not a secret
SIGNING_SECRET = "test-slack-signing-secret"
TEAM = "T0TEAM001"
BOT_USER, BOT_ID = "U0BOT0001", "B0BOT0001"
TRIGGER_SECONDS = 3.0
# The bot scopes of deploy/slack-manifest.yaml, granted unless a test says otherwise.
APP_SCOPES = (
    "chat:write",
    "commands",
    "reactions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
)


class ApiCall(NamedTuple):
    """One Web API request the fake received."""

    method: str
    args: dict[str, Any]


@dataclass
class _Channel:
    id: str
    members: set[str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    private: bool = False


class FakeSlack:
    """An in-memory Slack workspace served as the Web API over HTTP (threaded)."""

    def __init__(
        self, *, token: str = BOT_TOKEN, scopes: tuple[str, ...] = APP_SCOPES
    ) -> None:
        self.token = token
        self.scopes = scopes
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._channels: dict[str, _Channel] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, tuple[float, bool]] = {}
        self._ts = itertools.count(1)
        self._faults: list[tuple[str, int, float | None]] = []
        self.violations: list[str] = []
        self.errors: list[BaseException] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    status, body, headers = fake._handle(self.path, self.headers, raw)
                except Exception as exc:  # a fake bug must surface in the test
                    fake.errors.append(exc)
                    status, body, headers = 500, {"ok": False, "error": "fake_bug"}, {}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet; the request log is ``fake.calls()``."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    # --- lifecycle ----------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The base URL a WebClient takes (SIDECAR_SLACK_API_URL)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- state --------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        email: str | None = None,
        stranger: bool = False,
    ) -> str:
        """A workspace user; ``email`` None means Slack does not share it."""
        profile: dict[str, Any] = {"real_name": name, "display_name": name}
        if email is not None:
            profile["email"] = email
        with self._lock:
            self._users[user_id] = {
                "id": user_id,
                "team_id": TEAM,
                "name": name.lower().replace(" ", "."),
                "real_name": name,
                "is_bot": False,
                "is_stranger": stranger,
                "profile": profile,
            }
        return user_id

    def add_channel(
        self,
        channel_id: str,
        *,
        members: set[str],
        bot: bool = True,
        private: bool = False,
    ) -> str:
        """A channel ``members`` (and the bot, unless ``bot=False``) belong to."""
        people = {BOT_USER, *members} if bot else set(members)
        with self._lock:
            self._channels[channel_id] = _Channel(channel_id, people, private=private)
        return channel_id

    def add_message(
        self, channel: str, *, user: str, text: str, thread_ts: str | None = None
    ) -> str:
        """A message a person posted; return its ts."""
        with self._lock:
            ts = self._next_ts()
            message = {"type": "message", "user": user, "text": text, "ts": ts}
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._channels[channel].messages.append(message)
            return ts

    def new_trigger(self) -> str:
        """A trigger id as Slack puts in an interaction payload (valid 3 s, once)."""
        with self._lock:
            trigger = f"{next(self._ts)}.{int(time.time())}.trigger"
            self._triggers[trigger] = (time.monotonic(), False)
            return trigger

    def fail_next(
        self, method: str, status: int, *, retry_after: float | None = None
    ) -> None:
        """Answer the next call of ``method`` with HTTP ``status`` (429: Retry-After)."""
        with self._lock:
            self._faults.append((method, status, retry_after))

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Requests received, oldest first, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def posts(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages the bot posted (chat.postMessage arguments), oldest first."""
        return [
            c.args
            for c in self.calls("chat.postMessage")
            if (channel is None or c.args.get("channel") == channel)
            and (thread_ts is None or c.args.get("thread_ts") == thread_ts)
        ]

    # --- the API ------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _handle(
        self, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        method = path.removeprefix("/api/")
        args = _parse_body(headers.get("Content-Type") or "", raw)
        with self._lock:
            self._calls.append(ApiCall(method, args))
            fault = next((f for f in self._faults if f[0] == method), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            extra = {"Retry-After": str(int(fault[2]))} if fault[2] is not None else {}
            error = "ratelimited" if fault[1] == 429 else "internal_error"
            return fault[1], {"ok": False, "error": error}, extra
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        with self._lock:
            body = handler(args)
        return 200, body, {"x-oauth-scopes": ",".join(self.scopes)}

    @staticmethod
    def _fail(error: str, **extra: Any) -> dict[str, Any]:
        return {"ok": False, "error": error, **extra}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "ticket-bridge",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _channel(self, args: dict[str, Any]) -> _Channel | None:
        return self._channels.get(str(args.get("channel") or ""))

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return self._fail("channel_not_found")
        if BOT_USER not in channel.members:
            return self._fail("not_in_channel")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return self._fail("no_text")
        thread_ts = args.get("thread_ts")
        if thread_ts:
            parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
            if parent is None or parent.get("thread_ts", thread_ts) != thread_ts:
                self.violations.append(f"thread_ts {thread_ts} is not a parent message")
        ts = self._next_ts()
        message = {
            "type": "message",
            "bot_id": BOT_ID,
            "user": BOT_USER,
            "text": args.get("text", ""),
            "ts": ts,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": ts, "message": message}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return self._fail("channel_not_found")
        if str(args.get("user") or "") not in channel.members:
            return self._fail("user_not_in_channel")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            return self._fail("no_text")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return self._fail("channel_not_found")
        ts = str(args.get("message_ts") or "")
        message = next((m for m in channel.messages if m["ts"] == ts), None)
        if message is None:
            return self._fail("message_not_found")
        link = f"https://acme.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        parent = message.get("thread_ts")
        if parent and parent != ts:
            link += f"?thread_ts={parent}&cid={channel.id}"
        return {"ok": True, "channel": channel.id, "permalink": link}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user") or ""))
        if user is None:
            return self._fail("user_not_found")
        return {"ok": True, "user": json.loads(json.dumps(user))}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return self._fail("channel_not_found")
        inclusive = str(args.get("inclusive", "0")) in {"1", "true"}
        latest = float(args.get("latest") or "inf")
        oldest = float(args.get("oldest") or 0)
        limit = int(args.get("limit") or 100)

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        top = [
            m
            for m in channel.messages
            if m.get("thread_ts", m["ts"]) == m["ts"] and within(float(m["ts"]))
        ]
        top.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": top[:limit], "has_more": len(top) > limit}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        needed = (
            "groups:read"
            if channel is not None and channel.private
            else "channels:read"
        )
        if needed not in self.scopes:
            return self._fail(
                "missing_scope", needed=needed, provided=",".join(self.scopes)
            )
        if channel is None or (channel.private and BOT_USER not in channel.members):
            return self._fail("channel_not_found")
        return {
            "ok": True,
            "channel": {
                "id": channel.id,
                "name": channel.id.lower(),
                "is_channel": not channel.private,
                "is_group": channel.private,
                "is_private": channel.private,
                "is_archived": False,
                "is_member": BOT_USER in channel.members,
            },
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id") or "")
        issued = self._triggers.get(trigger)
        if issued is None:
            return self._fail("invalid_trigger_id")
        at, used = issued
        if used:
            return self._fail("exchanged_trigger_id")
        if time.monotonic() - at > TRIGGER_SECONDS:
            return self._fail("expired_trigger_id")
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        problems = _view_problems(view)
        if problems:
            return self._fail(
                "invalid_arguments", response_metadata={"messages": problems}
            )
        self._triggers[trigger] = (at, True)
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if "json" in content_type:
        data = json.loads(raw or b"{}")
        return data if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}


def _view_problems(view: Any) -> list[str]:
    """Block Kit limits of a modal view (api.slack.com/reference/surfaces/views)."""
    if not isinstance(view, dict):
        return ["[ERROR] view must be an object"]
    problems = []
    if view.get("type") != "modal":
        problems.append("[ERROR] type must be modal")
    title = (view.get("title") or {}).get("text", "")
    if not title or len(title) > 24:
        problems.append("[ERROR] title must be 1-24 characters")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > 100:
        problems.append("[ERROR] blocks must be a list of at most 100")
        blocks = []
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("[ERROR] private_metadata over 3000 characters")
    if len(str(view.get("callback_id") or "")) > 255:
        problems.append("[ERROR] callback_id over 255 characters")
    if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
        problems.append("[ERROR] submit is required with input blocks")
    for block in blocks:
        element = block.get("element") or {}
        for option in element.get("options") or ():
            if (
                len(option["text"]["text"]) > 75
                or len((option.get("description") or {}).get("text", "")) > 75
            ):
                problems.append("[ERROR] option text and description: 75 characters")
        initial = element.get("initial_value")
        if initial is not None and len(initial) > int(
            element.get("max_length") or 3000
        ):
            problems.append("[ERROR] initial_value longer than max_length")
    return problems


# --- requests from Slack to the app ----------------------------------------------


def slack_headers(
    body: str,
    *,
    content_type: str,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> dict[str, str]:
    """The headers Slack sends: the v0 signature over ``v0:timestamp:body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
            timestamp=ts, body=body
        ),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def post_event(
    base_url: str, event: dict[str, Any], *, event_id: str, **signing: Any
) -> tuple[int, bytes]:
    """POST an Events API envelope to /slack/events, signed."""
    envelope = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0APP0001",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "event": event,
    }
    body = json.dumps(envelope)
    headers = slack_headers(body, content_type="application/json", **signing)
    status, _, answer = http(
        "POST", base_url + "/slack/events", body=body.encode(), headers=headers
    )
    return status, answer


def post_interaction(
    base_url: str, payload: dict[str, Any], **signing: Any
) -> tuple[int, bytes]:
    """POST an interaction payload (form-encoded ``payload=<json>``) to /slack/interactions."""

    body = urlencode({"payload": json.dumps(payload)})
    headers = slack_headers(
        body, content_type="application/x-www-form-urlencoded", **signing
    )
    status, _, answer = http(
        "POST", base_url + "/slack/interactions", body=body.encode(), headers=headers
    )
    return status, answer
