"""Every request `sidecar pagerduty setup` sends, checked against PagerDuty's REST API.

Source: PagerDuty's OpenAPI document (PagerDuty/api-schema,
reference/REST/openapiv3.json at 91a06fb): listWebhookSubscriptions (``GET
/webhook_subscriptions``: parameters header_Accept, offset_limit,
offset_offset, offset_total, webhooks_filter_type, webhooks_filter_id) and
createWebhookSubscription (``POST /webhook_subscriptions``: header_Accept and
header_Content-Type required; body ``{"webhook_subscription":
WebhookSubscription}``, whose required properties are type, delivery_method,
events, filter; ``type`` enum webhook_subscription; ``delivery_method`` requires
type (enum http_delivery_method) and url; ``events`` minItems 1, uniqueItems;
``filter.type`` enum account_reference, service_reference, team_reference,
``filter.id`` "required for all filter types except account_reference"); the
securitySchemes ``api_key``: ``Authorization: Token token=<API_KEY>``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from sidecar.config import Secret
from sidecar.oncall.pagerduty_setup import PagerDutyRest, setup

TOKEN = "u+abcdefghij0123456789"
URL = "https://sidecar.example.com/webhooks/pagerduty"
LIST_QUERY = {"limit", "offset", "total", "filter_type", "filter_id"}
FILTER_TYPES = {"account_reference", "service_reference", "team_reference"}
SUBSCRIPTION_PROPERTIES = {
    "id",
    "type",
    "active",
    "delivery_method",
    "description",
    "events",
    "filter",
}


def violations(request: httpx2.Request) -> list[str]:
    """What in one request the published contract does not allow."""
    found: list[str] = []
    url = urlsplit(str(request.url))
    if url.scheme != "https" or url.hostname != "api.pagerduty.com":
        found.append(f"host {url.scheme}://{url.hostname}")
    if url.path != "/webhook_subscriptions":
        return [*found, f"undocumented path {url.path}"]
    if request.headers.get("Authorization") != f"Token token={TOKEN}":
        found.append("Authorization is not 'Token token=<API_KEY>'")
    if request.headers.get("Accept") != "application/vnd.pagerduty+json;version=2":
        found.append("Accept is not the version 2 header")
    query = parse_qs(url.query, keep_blank_values=True)
    if request.method == "GET":
        found += [f"undocumented parameter {n}" for n in set(query) - LIST_QUERY]
        if request.content:
            found.append("a GET carries no body")
        return found
    if request.method != "POST":
        return [*found, f"method {request.method}"]
    if query:
        found.append("createWebhookSubscription takes no query")
    if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
        found.append("Content-Type is not application/json")
    return found + body_violations(json.loads(request.content))


def body_violations(body: Any) -> list[str]:
    """What in a create body the WebhookSubscription schema does not allow."""
    if not isinstance(body, dict) or set(body) != {"webhook_subscription"}:
        return ["body must be {'webhook_subscription': ...}"]
    sub = body["webhook_subscription"]
    found = [f"unknown property {k}" for k in set(sub) - SUBSCRIPTION_PROPERTIES]
    found += [
        f"missing {k}"
        for k in ("type", "delivery_method", "events", "filter")
        if k not in sub
    ]
    if sub.get("type") != "webhook_subscription":
        found.append("type must be webhook_subscription")
    method = sub.get("delivery_method") or {}
    if method.get("type") != "http_delivery_method" or not method.get("url"):
        found.append("delivery_method needs type http_delivery_method and a url")
    if "secret" in method or "id" in sub:
        found.append("read-only properties sent")
    events = sub.get("events")
    if not isinstance(events, list) or not events or len(set(events)) != len(events):
        found.append("events: at least one, each once")
    filter_ = sub.get("filter") or {}
    if filter_.get("type") not in FILTER_TYPES:
        found.append("filter.type not in the enum")
    elif filter_["type"] != "account_reference" and not filter_.get("id"):
        found.append("filter.id is required but for account_reference")
    return found


class Recorder:
    """Answers as the OpenAPI examples do: an empty list, then the created subscription."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.transport = httpx2.MockTransport(self._answer)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.method == "GET":
            return httpx2.Response(
                200,
                json={
                    "webhook_subscriptions": [],
                    "limit": 100,
                    "offset": 0,
                    "more": False,
                    "total": None,
                },
            )
        sub = json.loads(request.content)["webhook_subscription"]
        sub["id"] = "PY1OL64"
        sub["delivery_method"] = {**sub["delivery_method"], "secret": "s3cr3t"}
        return httpx2.Response(200, json={"webhook_subscription": sub})


@pytest.mark.parametrize(
    ("filter_type", "filter_id"),
    [
        ("service_reference", "PSVC1"),
        ("team_reference", "PTEAM1"),
        ("account_reference", None),
    ],
)
def test_every_setup_request_is_on_contract(
    filter_type: str, filter_id: str | None
) -> None:
    """List then create, for each filter type: only documented requests and bodies."""
    recorder = Recorder()
    api = PagerDutyRest(token=Secret(TOKEN), transport=recorder.transport)
    result = setup(api, url=URL, filter_type=filter_type, filter_id=filter_id)
    assert (result.action, result.secret) == ("created", "s3cr3t")
    assert [r.method for r in recorder.requests] == ["GET", "POST"]
    assert [v for r in recorder.requests for v in violations(r)] == []


def test_the_checker_refuses_what_the_contract_does_not_allow() -> None:
    """Not a rubber stamp: a missing filter id, an empty event list, a wrong header fail."""
    bad = httpx2.Request(
        "POST",
        "https://api.pagerduty.com/webhook_subscriptions",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "webhook_subscription": {
                "type": "webhook_subscription",
                "delivery_method": {"type": "http_delivery_method", "url": URL},
                "events": [],
                "filter": {"type": "service_reference"},
            }
        },
    )
    found = violations(bad)
    assert "Authorization is not 'Token token=<API_KEY>'" in found
    assert "Accept is not the version 2 header" in found
    assert "events: at least one, each once" in found
    assert "filter.id is required but for account_reference" in found
