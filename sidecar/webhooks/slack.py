"""The Slack app's HTTP side: Bolt for Python behind a Flask blueprint.

``POST /slack/events`` (Events API) and ``POST /slack/interactions`` (buttons,
the message shortcut, the modal) are first checked by sidecar.slack.inbound:
the v0 signature over the raw body and its 5-minute window (401 otherwise),
then the body's shape (400/415, no retry); only then do they go to one Bolt
``App``, which verifies again and routes by payload type. A well-formed event
a listener cannot use is acknowledged (200, one warning): Slack would retry
anything else. An interaction it cannot use is a 400 with the reason.

Listeners run before the answer (``process_before_response=True``): the
answer leaves only once the job is durably queued, so a failed enqueue is a
500 and Slack retries, as for Zendesk webhooks. What Slack needs inside its 3
seconds happens here: ``views.open`` with the trigger id (valid 3 s, once), and
the modal's validation errors. Everything that touches Zendesk is a queued job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient

from sidecar.config import Config
from sidecar.entitlements import EntitlementsStore, OrgEntitlement
from sidecar.errors import (
    AuthFailed,
    BadEvent,
    ConfigError,
    Gone,
    InvalidSignature,
    QueueUnavailable,
    Rejected,
)
from sidecar.slack import api, inbound
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

    def __init__(
        self,
        config: Config,
        *,
        queue: JobQueue,
        clock: Callable[[], float] = time.time,
    ) -> None:
        signing_secret = config.slack_signing_secret
        if not (signing_secret and config.slack_bot_token):
            raise ConfigError(
                "the Slack app needs SIDECAR_SLACK_SIGNING_SECRET and "
                "SIDECAR_SLACK_BOT_TOKEN"
            )
        self.queue = queue
        self.clock = clock
        self._signing_secret = signing_secret
        self.emoji = frozenset(config.slack_emoji.split(","))
        self.store = EntitlementsStore.from_config(config)
        self.links = Links(queue, account=config.zendesk_subdomain or "zendesk")
        token = config.slack_bot_token.reveal()
        # No token on the shared client: each request's client gets the token
        # from ``authorize`` (Bolt copies base_url and timeout from this one).
        client = WebClient(base_url=config.slack_api_url, timeout=WEB_TIMEOUT)
        self.bolt = App(
            client=client,
            signing_secret=signing_secret.reveal(),
            authorize=_bot_identity(client, token),
            process_before_response=True,
            raise_error_for_unhandled_request=True,
            logger=logging.getLogger("sidecar.slack.bolt"),
        )
        self._register()
        self.handler = SlackRequestHandler(self.bolt)

    def dispatch(self, req: Request) -> Response:
        """Verify and check the request (401/400/415), then hand it to Bolt."""
        body = req.get_data()  # cached: Bolt's adapter reads the same bytes
        try:
            inbound.verify(
                body,
                signature=req.headers.get(inbound.SIGNATURE_HEADER),
                timestamp=req.headers.get(inbound.TIMESTAMP_HEADER),
                secret=self._signing_secret.reveal(),
                now=self.clock(),
            )
            inbound.read(body, content_type=req.headers.get("Content-Type"))
        except InvalidSignature as exc:
            return _refused(req, 401, str(exc), outcome="invalid_signature")
        except BadEvent as exc:
            return _refused(req, exc.status, exc.reason, outcome="bad_request")
        response: Response = self.handler.handle(req)
        return response

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
        item = event.get("item")
        reaction = event.get("reaction")
        if not (isinstance(reaction, str) and reaction in self.emoji):
            return
        if not isinstance(item, Mapping) or item.get("type") != "message":
            return  # a reaction to a file or a file comment
        channel = _required(item, "channel", what="reaction_added item")
        ts = _required(item, "ts", what="reaction_added item")
        user = _required(event, "user", what="reaction_added event")
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
                _call(
                    "chat.postEphemeral",
                    client.chat_postEphemeral,
                    channel=channel,
                    user=user,
                    text=NOT_CONNECTED_TEXT,
                )
                return
            text, author, thread_ts = _read_message(client, channel, ts)
            ref = MessageRef(
                channel=channel, ts=ts, thread_ts=thread_ts or ts, author=author
            )
            _call(
                "chat.postEphemeral",
                client.chat_postEphemeral,
                channel=channel,
                user=user,
                text=PROMPT_TEXT,
                blocks=prompt_blocks(ref, Prefill.from_text(text)),
            )
        except BadEvent:
            raise  # acknowledged: a retry would be refused the same way
        except Exception:
            self.queue.release(claim)  # Slack's retry may try again
            raise

    def on_message(self, event: dict[str, Any]) -> None:
        """A person's reply in a thread that follows a ticket: queue it as a comment."""
        subtype = event.get("subtype")
        if event.get("bot_id") or not (subtype is None or subtype in _USER_SUBTYPES):
            return  # our own posts, edits, joins...
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        if not thread_ts or not ts or thread_ts == ts or not event.get("user"):
            return
        thread_ts = _required(event, "thread_ts", what="message event")
        ts = _required(event, "ts", what="message event")
        channel = _required(event, "channel", what="message event")
        _required(event, "user", what="message event")
        if self.links.ticket_of(channel, str(thread_ts)) is None:
            return  # a thread about something else
        message = {
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts,
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
        try:
            ref, prefill = read_button_value(action.get("value"))
        except ValueError as exc:
            raise BadEvent(f"block_actions: {exc}") from None
        trigger = _required(body, "trigger_id", what="block_actions payload")
        _call(
            "views.open",
            client.views_open,
            trigger_id=trigger,
            view=modal_view(ref, prefill),
        )

    def on_shortcut(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        """The "Create Zendesk ticket" message shortcut: the same modal, directly."""
        ack()
        trigger = _required(body, "trigger_id", what="message_action payload")
        channel = _id_of(body.get("channel"), what="message_action channel")
        user = _id_of(body.get("user"), what="message_action user")
        message = body.get("message")
        message = message if isinstance(message, Mapping) else {}
        if self.channel_entry(channel) is None:
            _call(
                "chat.postEphemeral",
                client.chat_postEphemeral,
                channel=channel,
                user=user,
                text=NOT_CONNECTED_TEXT,
            )
            return
        ts = message.get("ts") or body.get("message_ts")
        if not isinstance(ts, str) or not ts:
            raise BadEvent("message_action payload has no message ts")
        ref = MessageRef(
            channel=channel,
            ts=ts,
            thread_ts=str(message.get("thread_ts") or ts),
            author=message.get("user"),
        )
        prefill = Prefill.from_text(str(message.get("text") or ""))
        _call(
            "views.open",
            client.views_open,
            trigger_id=trigger,
            view=modal_view(ref, prefill),
        )

    def on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The modal's submit: validate in the answer, then queue the ticket."""
        user = _id_of(body.get("user"), what="view_submission user")
        team = _id_of(body.get("team"), what="view_submission team", optional=True)
        parsed = parse_submission(view, user=user, team=team or None)
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
        """Unhandled kinds and unusable events are acknowledged; failures answer 500 (Slack retries)."""
        if isinstance(error, BoltUnhandledRequestError):
            # An event we do not act on: a non-2xx answer would only bring retries.
            return BoltResponse(status=200, body="")
        if isinstance(error, BadEvent):
            return _unusable(error, body)
        log.error(
            "slack request failed: %s: %s",
            error.__class__.__name__,
            error,
            extra={
                "event_id": body.get("event_id") if isinstance(body, dict) else None
            },
        )
        return BoltResponse(status=500, body="")


def _call(method: str, fn: Callable[..., Any], **kwargs: Any) -> Mapping[str, Any]:
    """A Web API call in the request: Slack's refusal of the request's own data is a BadEvent.

    ``invalid_trigger_id``, ``channel_not_found``, ``user_not_in_channel``...
    come back the same on every retry. Our token refused (AuthFailed) and
    Slack's own trouble (Transient) stay errors: 500, and Slack retries.
    """
    try:
        return api.call(method, fn, **kwargs)
    except AuthFailed:
        raise
    except (Gone, Rejected) as exc:
        raise BadEvent(str(exc)) from None


def _required(data: Mapping[str, Any], name: str, *, what: str) -> str:
    """``data[name]`` when it is a non-empty string; BadEvent otherwise."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BadEvent(f"{what} has no {name!r}")
    return value


def _id_of(value: object, *, what: str, optional: bool = False) -> str:
    """The id of a ``user``/``team``/``channel`` field (Slack sends an id or an object)."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if isinstance(value, str) and value:
        return value
    if optional and value is None:
        return ""
    raise BadEvent(f"{what} has no id")


def _unusable(error: BadEvent, body: object) -> BoltResponse:
    """Answer a signed request whose fields we cannot use.

    An Events API delivery is acknowledged (200): Slack retries any other
    answer up to three times and counts it against the app's failure limit
    (docs.slack.dev/apis/events-api "Failure conditions", "Retries"), and
    the same event can never be processed. Interactivity has no retries: the
    person sees the failure, and the answer says why (400, no retry).
    """
    envelope = body if isinstance(body, Mapping) else {}
    event_id = envelope.get("event_id")
    context = {
        "event_id": event_id if isinstance(event_id, str) else None,
        "payload_type": str(envelope.get("type"))[:40],
        "outcome": "unprocessable",
    }
    if envelope.get("type") == "event_callback":
        log.warning(
            "slack event acknowledged but not processed: %s",
            error.reason,
            extra=context,
        )
        return BoltResponse(status=200, body="")
    log.warning("slack request refused: %s", error.reason, extra=context)
    return BoltResponse(
        status=400,
        body=json.dumps({"error": error.reason}),
        headers={"content-type": "application/json", "x-slack-no-retry": "1"},
    )


def _refused(req: Request, status: int, reason: str, *, outcome: str) -> Response:
    """A request refused before Bolt: JSON reason, and no retry of a body that cannot change."""
    log.warning(
        "slack request refused (%d): %s",
        status,
        reason,
        extra={"path": req.path, "outcome": outcome},
    )
    response = jsonify(error=reason)
    response.status_code = status
    if status != 401:
        # docs.slack.dev/apis/events-api "Turning retries off".
        response.headers["X-Slack-No-Retry"] = "1"
    return response


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
    return slack_app.dispatch(request)


bp.add_url_rule("/slack/events", "events", _dispatch, methods=["POST"])
bp.add_url_rule("/slack/interactions", "interactions", _dispatch, methods=["POST"])


def init_app(app: Flask, config: Config, *, queue: JobQueue) -> bool:
    """Mount the Slack app when it is configured; return whether it was."""
    if not config.slack_enabled:
        return False
    app.extensions[EXTENSION] = SlackApp(config, queue=queue)
    app.register_blueprint(bp)
    return True
