"""Signed but malformed Slack requests through the real Flask app: a clear 4xx or a quiet 200, never a 5xx.

Requests are signed with the v0 scheme exactly as Slack signs them
(tests.fake_slack.slack_headers) and go through ``create_app`` with the Slack
app on, Bolt and all, against the fake Slack Web API. Slack retries an Events
API delivery on any non-2xx answer (docs.slack.dev/apis/events-api,
"Failure conditions" and "Retries"), so an event we can never process is
acknowledged with one warning; an interaction (no retries) or a body that is
not Slack's shape gets a 4xx with a JSON reason.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.app import create_app
from sidecar.config import Config, Secret
from sidecar.slack.blocks import (
    MODAL_CALLBACK,
    OPEN_MODAL_ACTION,
    SHORTCUT_CALLBACK,
    MessageRef,
    Prefill,
    button_value,
)
from sidecar.tasks.queue import JobQueue
from tests.fake_slack import (
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    FakeSlack,
    slack_headers,
)

CHANNEL, CUSTOMER = "C0SHARED01", "U0CUST0001"
FORM = "application/x-www-form-urlencoded"


class Records(logging.Handler):
    """Every record of the ``sidecar`` loggers, kept for assertions."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Records carrying a traceback, or logged at ERROR and above."""
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in self.records
            if r.exc_info or r.levelno >= logging.ERROR
        ]

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


@dataclass
class SlackApp:
    """The Flask app with the Slack app on, its queue, the fake Slack and the log."""

    client: FlaskClient
    queue: JobQueue
    slack: FakeSlack
    log: Records

    def event(self, event: Any, **headers: Any) -> tuple[int, Any]:
        """POST an Events API envelope carrying ``event``, signed."""
        return self.raw_event(json.dumps(envelope(event)), **headers)

    def raw_event(self, body: str, **signing: Any) -> tuple[int, Any]:
        return self.post("/slack/events", body, "application/json", **signing)

    def interaction(self, payload: Any) -> tuple[int, Any]:
        """POST an interaction payload as Slack does: a form field holding JSON."""
        return self.form({"payload": json.dumps(payload)})

    def form(self, fields: dict[str, str]) -> tuple[int, Any]:
        return self.post("/slack/interactions", urlencode(fields), FORM)

    def post(
        self, path: str, body: str, content_type: str, **signing: Any
    ) -> tuple[int, Any]:
        override = signing.pop("timestamp_header", None)
        headers = slack_headers(body, content_type=content_type, **signing)
        if override is not None:
            # Signed over the header's own text, as a sender would.
            headers = slack_headers(body, content_type=content_type, timestamp=0)
            headers["X-Slack-Request-Timestamp"] = override
            headers["X-Slack-Signature"] = _sign(body, override)
        answer = self.client.post(path, data=body.encode(), headers=headers)
        return answer.status_code, answer.get_json(silent=True)


def _sign(body: str, timestamp: str) -> str:
    import hashlib
    import hmac

    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


def envelope(event: Any, *, event_id: str = "Ev0MALFORMED") -> dict[str, Any]:
    """The Events API outer event object (docs.slack.dev/apis/events-api)."""
    return {
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
                "enterprise_id": None,
            }
        ],
        "event": event,
    }


def reaction(**item: Any) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": CUSTOMER,
        "reaction": "ticket",
        "item_user": CUSTOMER,
        "item": {"type": "message", "channel": CHANNEL, "ts": "1.000100", **item},
        "event_ts": "2.000200",
    }


def block_actions(value: Any, trigger: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": CUSTOMER, "username": "ana", "team_id": TEAM},
        "enterprise": None,
        "api_app_id": "A0APP0001",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": CHANNEL},
        "trigger_id": trigger,
        "channel": {"id": CHANNEL, "name": "acme-support"},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "action_id": OPEN_MODAL_ACTION,
                "block_id": "b",
                "type": "button",
                "value": value,
                "action_ts": "1.3",
            }
        ],
    }


def view_submission(view: Any = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": CUSTOMER, "username": "ana", "team_id": TEAM},
        "api_app_id": "A0APP0001",
        "trigger_id": "1.2.trigger",
        "response_urls": [],
    }
    if view is not None:
        payload["view"] = view
    return payload


def shortcut() -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": SHORTCUT_CALLBACK,
        "trigger_id": "1.2.trigger",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": CUSTOMER, "name": "ana"},
        "channel": {"id": CHANNEL, "name": "acme-support"},
        "message_ts": "1.000100",
        "message": {"type": "message", "user": CUSTOMER, "ts": "1.000100", "text": "x"},
    }


def good_view() -> dict[str, Any]:
    ref = MessageRef(channel=CHANNEL, ts="1.000100", thread_ts="1.000100")
    return {
        "id": "V0VIEW0001",
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": ref.to_json(),
        "state": {"values": {}},
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[SlackApp]:
    entitlements = tmp_path / "entitlements.toml"
    entitlements.write_text(f'[orgs."42"]\nslack_channel = "{CHANNEL}"\n')
    records = Records()
    logger = logging.getLogger("sidecar")
    logger.addHandler(records)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    with FakeSlack() as slack:
        slack.add_user(CUSTOMER, name="Ana", email="ana@acme.example")
        slack.add_channel(CHANNEL, members={CUSTOMER})
        config = Config(
            webhook_secret=Secret("w" * 32),
            slack_signing_secret=Secret(SIGNING_SECRET),
            slack_bot_token=Secret(BOT_TOKEN),
            slack_api_url=slack.api_url,
            entitlements_file=str(entitlements),
            queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
        )
        queue = JobQueue.from_url(config.queue_url)
        flask_app = create_app(config, queue=queue)
        try:
            yield SlackApp(flask_app.test_client(), queue, slack, records)
        finally:
            queue.close()
            logger.removeHandler(records)
            logger.setLevel(previous)


# --- each finding of issue 17 --------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "missing"),
    [
        (reaction(channel=None), "'channel'"),
        ({**reaction(), "user": None}, "'user'"),
        ({k: v for k, v in reaction().items() if k != "user"}, "'user'"),
    ],
    ids=["no item.channel", "null user", "no user"],
)
def test_an_unusable_reaction_is_acknowledged_once_with_a_warning(
    app: SlackApp, event: dict[str, Any], missing: str
) -> None:
    """A reaction_added without item.channel or user: 200 (Slack would retry anything else), one warning, nothing done."""
    status, _ = app.event(event)
    assert status == 200
    assert app.log.tracebacks() == []
    (warning,) = app.log.warnings()
    assert "not processed" in warning and missing in warning
    assert app.slack.calls("chat.postEphemeral") == []
    assert app.queue.depth() == 0


@pytest.mark.parametrize(
    "value", ["12", "not a number", "[1, 2]", 7, None, '{"ref": 3}']
)
def test_a_button_value_that_is_not_our_prompt_is_a_400(
    app: SlackApp, value: Any
) -> None:
    """A block_actions value that is not a prompt's JSON: 400 with the reason, no modal, no traceback."""
    status, body = app.interaction(block_actions(value, app.slack.new_trigger()))
    assert status == 400
    assert "not a ticket prompt" in body["error"]
    assert app.slack.calls("views.open") == []
    assert app.log.tracebacks() == []


def test_a_real_prompt_value_still_opens_the_modal(app: SlackApp) -> None:
    """The same request with the value our prompt wrote opens the modal (the check is not a wall)."""
    ref = MessageRef(channel=CHANNEL, ts="1.000100", thread_ts="1.000100")
    value = button_value(ref, Prefill.from_text("Pushes fail"))
    status, _ = app.interaction(block_actions(value, app.slack.new_trigger()))
    assert status == 200
    assert len(app.slack.calls("views.open")) == 1
    assert app.log.tracebacks() == []


@pytest.mark.parametrize(
    "view",
    [None, "a string", {"callback_id": MODAL_CALLBACK}, {"type": "modal", "state": []}],
    ids=["no view", "view is a string", "view without type", "state is a list"],
)
def test_a_view_submission_without_a_usable_view_is_a_4xx_or_the_modal_errors(
    app: SlackApp, view: Any
) -> None:
    """A view_submission without a view object: 400; a view of the wrong shape: the modal's errors, never a 500."""
    if isinstance(view, dict) and view.get("type") == "modal":
        view = {**good_view(), **view}
    status, body = app.interaction(view_submission(view))
    assert status in (200, 400), status
    if status == 200:
        assert body["response_action"] == "errors"
    else:
        assert body["error"]
    assert app.queue.depth() == 0
    assert app.log.tracebacks() == []


@pytest.mark.parametrize(
    "payload", ["{not json", "", "[1, 2]", '"text"', "null", "{" * 5000]
)
def test_a_payload_field_that_is_not_a_json_object_is_a_400(
    app: SlackApp, payload: str
) -> None:
    """The form's payload field must hold a JSON object; otherwise 400 with the reason and no retry."""
    answer = app.client.post(
        "/slack/interactions",
        data=urlencode({"payload": payload}).encode(),
        headers=slack_headers(urlencode({"payload": payload}), content_type=FORM),
    )
    assert answer.status_code == 400
    assert "payload" in answer.get_json()["error"]
    assert answer.headers["X-Slack-No-Retry"] == "1"
    assert app.log.tracebacks() == []


@pytest.mark.parametrize("stamp", ["abc", "", "1e9", "-5", "12.5", "٣٣٣", "9" * 40])
def test_an_unparseable_timestamp_is_a_401(app: SlackApp, stamp: str) -> None:
    """X-Slack-Request-Timestamp that is not whole Unix seconds: 401, as a bad signature is."""
    status, body = app.raw_event(
        json.dumps(envelope(reaction())), timestamp_header=stamp
    )
    assert status == 401
    assert body["error"]
    assert app.log.tracebacks() == []
    assert app.slack.calls("chat.postEphemeral") == []


def test_a_good_reaction_still_prompts(app: SlackApp) -> None:
    """A well-formed signed reaction goes through to the ephemeral prompt (200)."""
    app.slack.add_message(CHANNEL, user=CUSTOMER, text="Pushes fail")
    ts = app.slack.add_message(CHANNEL, user=CUSTOMER, text="Pushes fail")
    status, _ = app.event(reaction(ts=ts))
    assert status == 200
    (prompt,) = app.slack.calls("chat.postEphemeral")
    assert prompt.args["user"] == CUSTOMER and prompt.args.get("blocks")
    assert app.log.tracebacks() == []


def test_url_verification_and_ssl_check_still_pass(app: SlackApp) -> None:
    """Slack's url_verification (JSON) and ssl_check (a form without payload) pass the check."""
    body = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"})
    status, answer = app.raw_event(body)
    assert (status, answer) == (200, {"challenge": "abc123"})
    status, _ = app.form({"ssl_check": "1", "token": "t"})
    assert status == 200
    assert app.log.tracebacks() == []


def test_an_unsigned_malformed_body_is_a_401_before_it_is_read(app: SlackApp) -> None:
    """Without a valid signature nothing is parsed: 401, not 400."""
    answer = app.client.post(
        "/slack/events",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 401
    assert app.log.tracebacks() == []


# --- fuzz: randomly malformed signed bodies of each kind ------------------------------

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three fields replaced by any JSON value, or removed."""
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUE)
    return data


def _bases() -> dict[str, dict[str, Any]]:
    message = {
        "type": "message",
        "channel": CHANNEL,
        "user": CUSTOMER,
        "text": "still down",
        "ts": "3.000300",
        "thread_ts": "1.000100",
    }
    return {
        "reaction": envelope(reaction()),
        "message": envelope(message),
        "block_actions": block_actions("{}", "1.2.trigger"),
        "view_submission": view_submission(good_view()),
        "shortcut": shortcut(),
    }


BASES = _bases()
EVENT_KINDS = ("reaction", "message")

REQUESTS = st.one_of(
    # An Events API body with random fields broken.
    st.sampled_from(EVENT_KINDS).flatmap(
        lambda kind: mutated(BASES[kind]).map(lambda d: ("event", json.dumps(d)))
    ),
    # An interaction payload with random fields broken.
    st.sampled_from(("block_actions", "view_submission", "shortcut")).flatmap(
        lambda kind: mutated(BASES[kind]).map(lambda d: ("interaction", json.dumps(d)))
    ),
    # Any JSON at all, or any text, as the body or as the payload field.
    JSON_VALUE.map(lambda v: ("event", json.dumps(v))),
    st.text(max_size=40).map(lambda t: ("event", t)),
    JSON_VALUE.map(lambda v: ("interaction", json.dumps(v))),
    st.text(max_size=40).map(lambda t: ("interaction", t)),
    # A good body under a timestamp header that is not Unix seconds.
    # (A header cannot carry a line break: HTTP itself refuses it.)
    st.text(
        st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)),
        max_size=15,
    ).map(lambda t: ("timestamp", t)),
)


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=REQUESTS)
def test_no_malformed_signed_request_gets_a_5xx_or_a_traceback(
    app: SlackApp, request: tuple[str, str]
) -> None:
    """Randomly malformed signed events, interactions, payloads and timestamps: 200/400/401/415 only, no traceback logged."""
    kind, text = request
    app.log.records.clear()
    if kind == "event":
        status, _ = app.raw_event(text)
    elif kind == "interaction":
        status, _ = app.form({"payload": text})
    else:
        status, _ = app.raw_event(
            json.dumps(envelope(reaction())), timestamp_header=text
        )
    assert status in (200, 400, 401, 415), (status, text)
    assert app.log.tracebacks() == [], text
