"""Every request the on-call lookup (sidecar.oncall.whois) sends, checked against PagerDuty's REST API.

Source: PagerDuty's OpenAPI document (PagerDuty/api-schema,
reference/REST/openapiv3.json): ListOnCalls (``GET /oncalls``) and GetService
(``GET /services/{id}``); securitySchemes ``api_key`` ("The API Key with
format ``Token token=<API_KEY>``" in ``Authorization``); parameter
``header_Accept`` (required, ``application/vnd.pagerduty+json;version=2``).
The lookup is given a recording ``httpx2.MockTransport``; each captured
request must be a GET of a documented path whose query names only that
operation's documented parameters, with the two headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from sidecar.config import Secret
from sidecar.oncall.pagerduty import key_fingerprint
from sidecar.oncall.whois import OnCallDirectory

TOKEN = "u+abcdefghij0123456789"  # the shape of a PagerDuty API key
KEY = Secret("R0UT1NGKEY0123456789abcdef012345")
# ListOnCalls parameters (openapiv3.json, /oncalls get): the query names allowed.
ONCALLS_QUERY = {
    "time_zone",
    "limit",
    "offset",
    "total",
    "include[]",
    "user_ids[]",
    "escalation_policy_ids[]",
    "schedule_ids[]",
    "since",
    "until",
    "earliest",
}
# GetService parameters (openapiv3.json, /services/{id} get).
SERVICE_QUERY = {"include[]"}
# Boolean query parameters are "true"/"false" (schema type boolean).
BOOLEAN = {"earliest", "total"}


def violations(request: httpx2.Request) -> list[str]:
    """What in one request the published contract does not allow."""
    found: list[str] = []
    url = urlsplit(str(request.url))
    query = parse_qs(url.query, keep_blank_values=True)
    if request.method != "GET":
        found.append(f"method {request.method}: the lookup only reads")
    if url.scheme != "https" or url.hostname != "api.pagerduty.com":
        found.append(f"host {url.scheme}://{url.hostname}")
    if url.path == "/oncalls":
        allowed = ONCALLS_QUERY
    elif url.path.startswith("/services/") and url.path.count("/") == 2:
        allowed = SERVICE_QUERY
    else:
        return [*found, f"undocumented path {url.path}"]
    found += [f"undocumented parameter {name}" for name in set(query) - allowed]
    found += [
        f"{name} must be true/false"
        for name in BOOLEAN & set(query)
        if query[name] != ["true"] and query[name] != ["false"]
    ]
    if request.headers.get("Authorization") != f"Token token={TOKEN}":
        found.append("Authorization is not 'Token token=<API_KEY>'")
    if request.headers.get("Accept") != "application/vnd.pagerduty+json;version=2":
        found.append("Accept is not the version 2 header")
    if request.content:
        found.append("a GET carries no body")
    return found


class Recorder:
    """Answers as PagerDuty does (the ListOnCalls and GetService examples' shapes)."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.transport = httpx2.MockTransport(self._answer)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.url.path.startswith("/services/"):
            body: dict[str, Any] = {
                "service": {
                    "id": "PSVC9",
                    "escalation_policy": {
                        "id": "PEP2",
                        "type": "escalation_policy_reference",
                    },
                }
            }
        else:
            body = {
                "oncalls": [
                    {
                        "user": {"id": "PT23IWX", "summary": "Tim Wright"},
                        "escalation_policy": {"id": "PEP2", "summary": "Platform"},
                        "escalation_level": 1,
                    }
                ],
                "limit": 25,
                "offset": 0,
                "more": False,
                "total": None,
            }
        return httpx2.Response(200, json=body)


@pytest.mark.parametrize("target", ["PEP1", "service:PSVC9"])
def test_every_lookup_request_is_on_contract(target: str) -> None:
    """A policy lookup and a service lookup send only documented requests."""
    recorder = Recorder()
    directory = OnCallDirectory(
        token=Secret(TOKEN),
        policies={"default": target},
        default_route=key_fingerprint(KEY),
        transport=recorder.transport,
    )
    assert directory.who(KEY).people == ("Tim Wright",)
    assert recorder.requests
    assert [v for r in recorder.requests for v in violations(r)] == []


def test_the_checker_refuses_what_the_contract_does_not_allow() -> None:
    """The checker is not a rubber stamp: a wrong header, parameter or path fails."""
    bad = httpx2.Request(
        "GET",
        "https://api.pagerduty.com/oncalls?escalation_policy_id=PEP1&earliest=yes",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    found = violations(bad)
    assert "undocumented parameter escalation_policy_id" in found
    assert "earliest must be true/false" in found
    assert "Authorization is not 'Token token=<API_KEY>'" in found
    assert "Accept is not the version 2 header" in found
    assert violations(httpx2.Request("GET", "https://api.pagerduty.com/users")) != []
