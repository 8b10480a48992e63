"""The Slack app's HTTP side: Bolt for Python behind a Flask blueprint.

``POST /slack/events`` (Events API) and ``POST /slack/interactions`` (buttons,
the message shortcut, the modal) both go to one Bolt ``App``, which checks the
v0 signature over the raw body and its 5-minute window (401 otherwise) before
any listener runs, and routes by payload type.

Listeners run before the answer (``process_before_response=True``): the
answer leaves only once the job is durably queued, so a failed enqueue is a
500 and Slack retries, as for Zendesk webhooks. What Slack needs inside its 3
seconds happens here: ``views.open`` with the trigger id (valid 3 s, once), and
the modal's validation errors. Everything that touches Zendesk is a queued job.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient

from sidecar.config import Config
from sidecar.entitlements import EntitlementsStore, OrgEntitlement
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.slack.blocks import (
    DESCRIPTION_BLOCK,
    MODAL_CALLBACK,
    NOT_CONNECTED_TEXT,
    OPEN_MODAL_ACTION,
    PROMPT_TEXT,
    SHORTCUT_CALLBACK,
    SUBJECT_BLOCK,
    MessageRef,
    Prefill,
    modal_view,
    parse_submission,
    prompt_blocks,
    read_button_value,
)
from sidecar.slack.links import Links
from sidecar.tasks.queue import JobQueue

log = logging.getLogger("sidecar.slack")

EXTENSION = "sidecar.slack"
# Inside Slack's 3 seconds, every Web API call must be quick to fail.
WEB_TIMEOUT = 2
# A duplicate event_id (a retry, or a redelivery) is dropped for an hour; Slack
# retries within about 5 minutes.
EVENT_CLAIM_SECONDS = 3600.0
# Message subtypes that are a person writing (docs.slack.dev/reference/events/message).
_USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})

bp = Blueprint("slack", __name__)


def _bot_identity(client: WebClient, token: str) -> Any:
    """Bolt's ``authorize``: the bot's identity from one auth.test, cached.

    Passing ``authorize`` (rather than ``token``) keeps Bolt from switching to
    OAuth mode when SLACK_CLIENT_ID/SECRET happen to be in the environment,
    and gives the self-event filter the bot's user and bot ids. (A plain
    function: Bolt passes arguments by the names it finds in the signature.)
    """
    cached: list[AuthorizeResult] = []
    lock = threading.Lock()

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        with lock:
            if not cached:
                answer = client.auth_test(token=token)
                cached.append(
                    AuthorizeResult.from_auth_test_response(
                        bot_token=token, auth_test_response=answer
                    )
                )
            return cached[0]

    return authorize


class SlackApp:
    """One process's Slack app: the Bolt App, its Flask handler and what listeners need."""

    def __init__(self, config: Config, *, queue: JobQueue) -> None:
        if not (config.slack_signing_secret and config.slack_bot_token):
            raise ConfigError(
                "the Slack app needs SIDECAR_SLACK_SIGNING_SECRET and "
                "SIDECAR_SLACK_BOT_TOKEN"
            )
        self.queue = queue
        self.emoji = frozenset(config.slack_emoji.split(","))
        self.store = EntitlementsStore.from_config(config)
        self.links = Links(queue, account=config.zendesk_subdomain or "zendesk")
        token = config.slack_bot_token.reveal()
        # No token on the shared client: each request's client gets the token
        # from ``authorize`` (Bolt copies base_url and timeout from this one).
        client = WebClient(base_url=config.slack_api_url, timeout=WEB_TIMEOUT)
        self.bolt = App(
            client=client,
            signing_secret=config.slack_signing_secret.reveal(),
            authorize=_bot_identity(client, token),
            process_before_response=True,
            raise_error_for_unhandled_request=True,
            logger=logging.getLogger("sidecar.slack.bolt"),
        )
        self._register()
        self.handler = SlackRequestHandler(self.bolt)

    def channel_entry(self, channel: str) -> OrgEntitlement | None:
        """The organization whose shared channel this is (the file as it is now)."""
        self.store.reload_if_changed()
        return self.store.file.for_channel(channel)

    def _register(self) -> None:
        app = self.bolt
        app.event("reaction_added")(self.on_reaction)
        app.event("message")(self.on_message)
        app.action(OPEN_MODAL_ACTION)(self.on_open_modal)
        app.shortcut(SHORTCUT_CALLBACK)(self.on_shortcut)
        app.view(MODAL_CALLBACK)(self.on_submit)
        app.error(self.on_error)

    # --- listeners ----------------------------------------------------------------

    def on_reaction(
        self, event: dict[str, Any], body: dict[str, Any], client: WebClient
    ) -> None:
        """🎫 on a message: the ephemeral prompt (or "not connected") for whoever reacted."""
        item = event.get("item") or {}
        if event.get("reaction") not in self.emoji or item.get("type") != "message":
            return
        channel, ts, user = str(item["channel"]), str(item["ts"]), str(event["user"])
        # Bolt does no dedup: a retry (X-Slack-Retry-Num) carries the same event_id.
        claim = f"slack_event:{body.get('event_id') or f'{channel}:{ts}:{user}'}"
        if not self.queue.claim(claim, ttl_seconds=EVENT_CLAIM_SECONDS):
            log.info(
                "duplicate slack event ignored",
                extra={"event_id": body.get("event_id")},
            )
            return
        try:
            if self.channel_entry(channel) is None:
                client.chat_postEphemeral(
                    channel=channel, user=user, text=NOT_CONNECTED_TEXT
                )
                return
            text, author, thread_ts = _read_message(client, channel, ts)
            ref = MessageRef(
                channel=channel, ts=ts, thread_ts=thread_ts or ts, author=author
            )
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=PROMPT_TEXT,
                blocks=prompt_blocks(ref, Prefill.from_text(text)),
            )
        except Exception:
            self.queue.release(claim)  # Slack's retry may try again
            raise

    def on_message(self, event: dict[str, Any]) -> None:
        """A person's reply in a thread that follows a ticket: queue it as a comment."""
        if event.get("bot_id") or event.get("subtype") not in _USER_SUBTYPES:
            return  # our own posts, edits, joins...
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        if not thread_ts or not ts or thread_ts == ts or not event.get("user"):
            return
        channel = str(event.get("channel") or "")
        if self.links.ticket_of(channel, str(thread_ts)) is None:
            return  # a thread about something else
        message = {
            "channel": channel,
            "ts": str(ts),
            "thread_ts": str(thread_ts),
            "user": str(event["user"]),
            "text": str(event.get("text") or ""),
            "files": bool(event.get("files")),
        }
        # Atomic with the enqueue, keyed by the message: retries and duplicate
        # event ids never add a second comment.
        self.queue.slack.submit_comment(message)

    def on_open_modal(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """The prompt's button: open the modal at once (the trigger lives 3 s)."""
        ack()
        ref, prefill = read_button_value(str(action.get("value") or "{}"))
        client.views_open(trigger_id=body["trigger_id"], view=modal_view(ref, prefill))

    def on_shortcut(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        """The "Create Zendesk ticket" message shortcut: the same modal, directly."""
        ack()
        channel = str((body.get("channel") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        message = body.get("message") or {}
        if self.channel_entry(channel) is None:
            client.chat_postEphemeral(
                channel=channel, user=user, text=NOT_CONNECTED_TEXT
            )
            return
        ts = str(message.get("ts") or body.get("message_ts"))
        ref = MessageRef(
            channel=channel,
            ts=ts,
            thread_ts=str(message.get("thread_ts") or ts),
            author=message.get("user"),
        )
        prefill = Prefill.from_text(str(message.get("text") or ""))
        client.views_open(trigger_id=body["trigger_id"], view=modal_view(ref, prefill))

    def on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The modal's submit: validate in the answer, then queue the ticket."""
        user = str((body.get("user") or {}).get("id") or "")
        team = (body.get("team") or {}).get("id")
        parsed = parse_submission(view, user=user, team=team)
        if isinstance(parsed, dict):
            ack(response_action="errors", errors=parsed)
            return
        if self.channel_entry(parsed.message.channel) is None:
            ack(response_action="errors", errors={SUBJECT_BLOCK: NOT_CONNECTED_TEXT})
            return
        try:
            queued = self.queue.slack.submit_create(parsed)
        except QueueUnavailable as exc:
            log.error("slack ticket not queued: %s", exc)
            ack(
                response_action="errors",
                errors={
                    DESCRIPTION_BLOCK: "The ticket could not be saved just now; "
                    "please submit again in a minute."
                },
            )
            return
        log.info(
            "slack ticket queued" if queued else "slack ticket already queued",
            extra={"channel": parsed.message.channel, "message_ts": parsed.message.ts},
        )
        ack()

    def on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Unhandled request kinds are acknowledged; failures answer 500 (Slack retries)."""
        if isinstance(error, BoltUnhandledRequestError):
            # An event we do not act on: a non-2xx answer would only bring retries.
            return BoltResponse(status=200, body="")
        log.error(
            "slack request failed: %s: %s",
            error.__class__.__name__,
            error,
            extra={
                "event_id": body.get("event_id") if isinstance(body, dict) else None
            },
        )
        return BoltResponse(status=500, body="")


def _read_message(
    client: WebClient, channel: str, ts: str
) -> tuple[str, str | None, str | None]:
    """The text, author and thread of a channel message; empty when it cannot be read.

    A reaction event carries no text (docs.slack.dev reaction_added). Best
    effort: without it the modal starts empty, and the worker corrects the
    thread from the permalink.
    """
    try:
        answer = client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
    except Exception as exc:  # the prompt must still go out
        log.info("slack message not readable: %s", exc.__class__.__name__)
        return "", None, None
    for message in answer.get("messages") or ():
        if message.get("ts") == ts:
            return (
                str(message.get("text") or ""),
                message.get("user"),
                message.get("thread_ts"),
            )
    return "", None, None


def _dispatch() -> Response:
    slack_app: SlackApp = current_app.extensions[EXTENSION]
    response: Response = slack_app.handler.handle(request)
    return response


bp.add_url_rule("/slack/events", "events", _dispatch, methods=["POST"])
bp.add_url_rule("/slack/interactions", "interactions", _dispatch, methods=["POST"])


def init_app(app: Flask, config: Config, *, queue: JobQueue) -> bool:
    """Mount the Slack app when it is configured; return whether it was."""
    if not config.slack_enabled:
        return False
    app.extensions[EXTENSION] = SlackApp(config, queue=queue)
    app.register_blueprint(bp)
    return True
