"""What Slack sends us, checked before Bolt sees it: the v0 signature, then the body's shape.

Pure (stdlib only). Bolt verifies the signature too, but it calls
``int(timestamp)`` unguarded, and its routing and context code index the
payload as Slack documents it (``body["event"]["type"]``,
``body["view"]["type"]``, ``"id" in body["user"]``...): a signed body of
another shape raised inside Bolt and became a 500, which Slack retries. So
every request is verified here on the raw bytes (401 otherwise) and parsed
the way Bolt will parse it; a body that is not JSON, or whose documented
fields have another type, is refused (400) before Bolt runs.

Sources: docs.slack.dev/authentication/verifying-requests-from-slack (v0
signature, 5 minutes); docs.slack.dev/apis/events-api (the outer event
object: ``type``, ``event`` with its ``type``, ``authorizations``);
docs.slack.dev/reference/interaction-payloads (a form field ``payload``
holding JSON, with ``type``, ``user``, ``team``, ``channel``, ``actions``,
``view``...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from sidecar.errors import BadEvent, InvalidSignature

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
# "If the timestamp is more than five minutes from local time, it could be a
# replay attack" (verifying-requests-from-slack); Bolt uses the same 300 s.
TOLERANCE_SECONDS = 300
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

# Where an id-bearing field may be a string or an object (Bolt reads both).
_ID_FIELDS = ("user", "team", "channel", "enterprise")
# Objects when present (or null).
_OBJECT_FIELDS = (
    "event",
    "item",
    "message",
    "previous_message",
    "assistant_thread",
    "function_data",
    "container",
    "view",
    "state",
    "workflow_step",
)
# Lists of objects when present.
_LIST_FIELDS = ("authorizations", "actions", "response_urls")
# Strings when present: Bolt matches them against listeners' patterns.
_STRING_FIELDS = ("type", "callback_id", "action_id", "command", "challenge")
# Strings or null when present (Slack sends ``"enterprise_id": null`` and the like).
_OPTIONAL_STRING_FIELDS = (
    "subtype",
    "thread_ts",
    "ts",
    "bot_id",
    "trigger_id",
    "response_url",
    "team_id",
    "api_app_id",
    "event_id",
    "channel_id",
    "user_id",
    "enterprise_id",
)
# How deep a payload is checked: Slack's nest a message in an event in an
# envelope, an action in a list; anything deeper is a value nobody routes on.
_MAX_DEPTH = 4


def verify(
    body: bytes,
    *,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Verify Slack's v0 signature on the raw body, or raise InvalidSignature.

    Fails closed: a missing header, a timestamp that is not whole Unix
    seconds or further than ``tolerance`` from ``now``, or a signature that
    does not match.
    """
    if not signature or not timestamp:
        raise InvalidSignature(f"{SIGNATURE_HEADER} or {TIMESTAMP_HEADER} is missing")
    stamp = timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    if abs(now - int(stamp)) > tolerance:
        raise InvalidSignature(
            f"{TIMESTAMP_HEADER} is more than {tolerance} s from our clock"
        )
    digest = hmac.new(
        secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(
        f"v0={digest}".encode(), signature.encode("utf-8", "replace")
    ):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")


def read(body: bytes, *, content_type: str | None) -> Mapping[str, Any]:
    """Parse a verified body as Bolt will, and check its documented fields' types.

    Raises BadEvent (400) for a body Bolt could not route: not UTF-8, not
    JSON, a ``payload`` field that is not a JSON object, a field of another
    type than Slack documents. A form body without ``payload`` (slash
    commands, ``ssl_check``) holds strings only and passes as it is.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadEvent("the body is not UTF-8 text") from None
    if not text:
        return {}
    # Bolt's own rule (slack_bolt/request/internals.py parse_body): JSON when
    # the content type says so or the body starts with "{", else a form.
    if media == JSON_TYPE or text.startswith("{"):
        parsed = _json_object(text, what="the body")
        if not isinstance(parsed.get("type"), str):
            raise BadEvent(
                "the body has no 'type' (Slack's outer event object has one)"
            )
    elif media in (FORM_TYPE, ""):
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" not in form:
            return form
        parsed = _json_object(form["payload"], what="the 'payload' field")
        if not isinstance(parsed.get("type"), str):
            raise BadEvent("the 'payload' field has no 'type'")
    else:
        raise BadEvent(f"unsupported content type {media[:60]!r}", status=415)
    problem = _shape_problem(parsed, where="", depth=0)
    if problem:
        raise BadEvent(problem)
    if parsed.get("type") == "event_callback" and not isinstance(
        parsed.get("event"), Mapping
    ):
        raise BadEvent("an event_callback has no 'event' object")
    if parsed.get("type") in ("view_submission", "view_closed") and not isinstance(
        parsed.get("view"), Mapping
    ):
        raise BadEvent(f"a {parsed['type']} has no 'view' object")
    if parsed.get("type") == "block_actions" and not (
        parsed.get("actions")
        and all(isinstance(a.get("action_id"), str) for a in parsed["actions"])
    ):
        # Each block action carries action_id and block_id (interaction
        # payloads reference, block_actions); Bolt routes on the first's.
        raise BadEvent("a block_actions payload has no 'actions' with an 'action_id'")
    return parsed


def _json_object(text: str, *, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise BadEvent(f"{what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadEvent(f"{what} is not a JSON object")
    return parsed


def _shape_problem(data: Mapping[str, Any], *, where: str, depth: int) -> str | None:
    """The first documented field of ``data`` whose type is not Slack's, or None."""
    for name in _ID_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str | Mapping):
            return f"'{where}{name}' is neither an id nor an object"
    for name in _STRING_FIELDS:
        if name in data and not isinstance(data[name], str):
            return f"'{where}{name}' is not a string"
    for name in _OPTIONAL_STRING_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            return f"'{where}{name}' is not a string"
    if isinstance(data.get("view"), Mapping) and not isinstance(
        data["view"].get("type"), str
    ):
        return f"'{where}view' has no 'type'"
    if isinstance(data.get("event"), Mapping) and not isinstance(
        data["event"].get("type"), str
    ):
        return f"'{where}event' has no 'type'"
    children: list[tuple[str, Mapping[str, Any]]] = []
    for name in _OBJECT_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            return f"'{where}{name}' is not an object"
        children.append((name, value))
    for name in _ID_FIELDS:
        value = data.get(name)
        if isinstance(value, Mapping):
            children.append((name, value))
    for name in _LIST_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(
            isinstance(item, Mapping) for item in value
        ):
            return f"'{where}{name}' is not a list of objects"
        children.extend((f"{name}[{i}]", item) for i, item in enumerate(value))
    if depth >= _MAX_DEPTH:
        return None
    for name, child in children:
        problem = _shape_problem(child, where=f"{where}{name}.", depth=depth + 1)
        if problem:
            return problem
    return None
