"""PagerDuty Events API v2 request contract, as schema fragments for the contract tests.

Source: PagerDuty's developer documentation, "Send an Alert Event"
(developer.pagerduty.com/docs/events-api-v2/trigger-events/, the
PagerDuty/developer-docs file docs/events-API-v2/02-Trigger-Events.md) and
"Events API v2 Overview" (01-Overview.md: size limit, PD-CEF table). The rules
are copied here by hand; nothing is read from outside the repository.

Every object is closed (``additionalProperties: false``): a property the
documentation does not list fails the test.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

ENDPOINT = "https://events.pagerduty.com/v2/enqueue"  # "Send an Alert Event": Endpoint
MAX_EVENT_BYTES = 512 * 1024  # Overview, "Size Limits": payloads limited to 512 KB

# "routing_key: This is the 32 character Integration Key".
ROUTING_KEY: Schema = {"type": "string", "minLength": 32, "maxLength": 32}
# "dedup_key: ... The maximum permitted length of this property is 255 characters."
DEDUP_KEY: Schema = {"type": "string", "minLength": 1, "maxLength": 255}

# Parameters table, `payload.*` rows; PD-CEF table (Overview) for the types.
PAYLOAD: Schema = {
    "type": "object",
    "required": ["summary", "source", "severity"],
    "properties": {
        # "The maximum permitted length of this property is 1024 characters."
        "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
        "source": {"type": "string", "minLength": 1},
        "severity": {"enum": ["critical", "error", "warning", "info"]},
        # "Timestamp (ISO 8601)", e.g. 2015-07-17T08:42:58.315+0000.
        "timestamp": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$",
        },
        "component": {"type": "string"},
        "group": {"type": "string"},
        "class": {"type": "string"},
        "custom_details": {"type": "object"},  # free-form by definition
    },
    "additionalProperties": False,
}

# "The images Property": src required and "must be served via HTTPS"; href, alt optional.
IMAGE: Schema = {
    "type": "object",
    "required": ["src"],
    "properties": {
        "src": {"type": "string", "pattern": "^https://"},
        "href": {"type": "string", "minLength": 1},
        "alt": {"type": "string"},
    },
    "additionalProperties": False,
}
# "The links Property": href required, text optional.
LINK: Schema = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string", "minLength": 1},
        "text": {"type": "string"},
    },
    "additionalProperties": False,
}

# A trigger: the whole Parameters table plus `client`/`client_url` (in the
# page's trigger example).
TRIGGER: Schema = {
    "type": "object",
    "required": ["routing_key", "event_action", "payload"],
    "properties": {
        "routing_key": ROUTING_KEY,
        "event_action": {"const": "trigger"},
        "dedup_key": DEDUP_KEY,
        "payload": PAYLOAD,
        "images": {"type": "array", "items": IMAGE},
        "links": {"type": "array", "items": LINK},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
    },
    "additionalProperties": False,
}
# Acknowledge / resolve: the page's examples carry routing_key, dedup_key and
# event_action only, and the action applies to "the incident referenced with the
# dedup_key", so the key is required and nothing else is expected.
FOLLOW_UP: Schema = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {
        "routing_key": ROUTING_KEY,
        "event_action": {"enum": ["acknowledge", "resolve"]},
        "dedup_key": DEDUP_KEY,
    },
    "additionalProperties": False,
}
EVENT: Schema = {
    "$comment": "PagerDuty 'Send an Alert Event' (Events API v2)",
    "type": "object",
    "required": ["event_action"],
    "properties": {"event_action": {"enum": ["trigger", "acknowledge", "resolve"]}},
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": TRIGGER,
    "else": FOLLOW_UP,
}
