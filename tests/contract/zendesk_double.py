"""A `responses`-based Zendesk that records every request and answers as documented.

The contract tests drive the real ``ZendeskClient`` against it. Its answers are
checked against the response fragments of ``zendesk_oas`` before they are sent
(a double that answered in shapes Zendesk never sends would prove nothing), and
list endpoints answer in two pages, so the follow-up requests the client builds
from ``links.next`` / ``next_page`` are captured and checked too.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import responses

from tests.contract.checker import (
    Captured,
    documented_path,
    find_operation,
    query_of,
    zendesk_response_problems,
)
from tests.contract.zendesk_admin_double import AdminAnswers
from tests.contract.zendesk_apps_double import AppsAnswers
from tests.contract.zendesk_schedules_double import ScheduleAnswers

SUBDOMAIN = "acme"
BASE = f"https://{SUBDOMAIN}.zendesk.com"
STAMP = "2024-05-01T10:05:07Z"


def ticket_json(ticket_id: int, **changes: Any) -> dict[str, Any]:
    """A ticket as OAS `TicketObject` shows it."""
    return {
        "id": ticket_id,
        "subject": "Database down",
        "status": "open",
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": STAMP,
        "organization_id": 7,
        "requester_id": 100,
        "tags": ["vip", "sev_1"],
        "custom_fields": [{"id": 111, "value": "sev_1"}, {"id": 112, "value": None}],
        "follower_ids": [5],
        **changes,
    }


def organization_json(org_id: int, **changes: Any) -> dict[str, Any]:
    """An organization as OAS `OrganizationObject` shows it."""
    return {
        "id": org_id,
        "name": f"Org {org_id}",
        "external_id": f"ACME-{org_id}",
        "organization_fields": {
            "support_plan": "enterprise",
            "enterprise_support": True,
        },
        "tags": [],
        **changes,
    }


class ContractZendesk(AdminAnswers, AppsAnswers, ScheduleAnswers):
    """Record each request to https://acme.zendesk.com and answer it plausibly."""

    def __init__(self) -> None:
        self.captured: list[Captured] = []
        self._init_admin()  # fields, webhooks, triggers, views: zendesk_admin_double.py
        self._init_apps()  # private apps: zendesk_apps_double.py
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    def __enter__(self) -> ContractZendesk:
        self._mock.start()
        everything = re.compile(re.escape(BASE) + r"/.*")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self._mock.add_callback(method, everything, callback=self._answer)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._mock.stop()
        self._mock.reset()

    # --- answers -------------------------------------------------------------

    def _answer(
        self, request: requests.PreparedRequest
    ) -> tuple[int, dict[str, str], str]:
        body = request.body
        self.captured.append(
            Captured(
                method=request.method or "",
                url=request.url or "",
                headers=dict(request.headers),
                body=body.encode() if isinstance(body, str) else body,
            )
        )
        path = urlsplit(request.url or "").path
        op, params = find_operation(request.method or "", path)
        if op is None:
            return 404, {}, json.dumps({"error": "InvalidEndpoint"})
        query, _ = query_of(request.url or "")
        answer = getattr(self, f"_{op.name}")(params, query, request)
        problems = zendesk_response_problems(op, answer)
        assert not problems, f"the contract double answers off-contract: {problems}"
        if op.status == 204:
            return 204, {}, ""
        return op.status, {"Content-Type": "application/json"}, json.dumps(answer)

    @staticmethod
    def _page(
        key: str,
        items: list[dict[str, Any]],
        path: str,
        query: dict[str, str],
    ) -> dict[str, Any]:
        """Half the items per page, cursor or offset style as the request asked."""
        half = max(1, len(items) // 2)
        base = BASE + path
        if "page[size]" in query or "page[after]" in query:
            first = "page[after]" not in query
            after = {**query, "page[after]": "c2"}
            return {
                key: items[:half] if first else items[half:],
                "meta": {
                    "has_more": first,
                    "after_cursor": "c2" if first else None,
                    "before_cursor": None,
                },
                "links": {
                    "next": f"{base}?{urlencode(after)}" if first else None,
                    "prev": None,
                },
            }
        first = query.get("page", "1") == "1"
        return {
            key: items[:half] if first else items[half:],
            "next_page": f"{base}?{urlencode({**query, 'page': '2'})}"
            if first
            else None,
            "previous_page": None,
            "count": len(items),
        }

    def _ShowCurrentUser(self, params: Any, query: Any, request: Any) -> Any:
        return {"user": {"id": 3, "role": "admin", "name": "Sidecar"}}

    def _ShowTicket(self, params: Any, query: Any, request: Any) -> Any:
        return {"ticket": ticket_json(int(params["ticket_id"]))}

    def _UpdateTicket(self, params: Any, query: Any, request: Any) -> Any:
        # OAS `AuditObject`: the update's events, a Comment event per comment.
        sent = json.loads(request.body or "{}").get("ticket") or {}
        events = [{"id": 901, "type": "Comment"}] if "comment" in sent else []
        return {
            "ticket": ticket_json(int(params["ticket_id"])),
            "audit": {"id": 900, "events": events},
        }

    def _CreateTicket(self, params: Any, query: Any, request: Any) -> Any:
        sent = json.loads(request.body or "{}").get("ticket") or {}
        return {
            "ticket": ticket_json(
                50,
                subject=sent.get("subject", ""),
                tags=sent.get("tags", []),
                organization_id=sent.get("organization_id"),
            )
        }

    def _SearchUsers(self, params: Any, query: Any, request: Any) -> Any:
        users = [{"id": 5, "email": "ana@acme.test", "role": "agent"}]
        wanted = query.get("query", "").removeprefix("email:").casefold()
        return {"users": [u for u in users if u["email"] == wanted]}

    def _ListTicketComments(self, params: Any, query: Any, request: Any) -> Any:
        comments = [
            {
                "id": i,
                "author_id": 100 if i == 1 else 5,
                "public": True,
                "created_at": f"2024-05-01T10:0{i}:00Z",
            }
            for i in (1, 2)
        ]
        page = self._page("comments", comments, urlsplit(request.url).path, query)
        if query.get("include") == "users":
            page["users"] = [
                {"id": 100, "role": "end-user"},
                {"id": 5, "role": "agent"},
            ]
        return page

    def _ListAuditsForTicket(self, params: Any, query: Any, request: Any) -> Any:
        # OAS TicketAuditsForTicketResponseExample: a Create, then a status Change.
        audits = [
            {
                "id": 700 + i,
                "ticket_id": int(params["ticket_id"]),
                "author_id": 5,
                "created_at": f"2024-05-01T10:0{i}:00Z",
                "events": [
                    {
                        "id": 800 + i,
                        "type": "Create" if i == 1 else "Change",
                        "field_name": "status",
                        "value": "new" if i == 1 else "open",
                        **({} if i == 1 else {"previous_value": "new"}),
                    }
                ],
            }
            for i in (1, 2)
        ]
        return self._page("audits", audits, urlsplit(request.url).path, query)

    def _ShowOrganization(self, params: Any, query: Any, request: Any) -> Any:
        return {"organization": organization_json(int(params["organization_id"]))}

    def _UpdateOrganization(self, params: Any, query: Any, request: Any) -> Any:
        sent = json.loads(request.body or "{}").get("organization") or {}
        org = organization_json(int(params["organization_id"]))
        org["organization_fields"] = {
            **org["organization_fields"],
            **(sent.get("organization_fields") or {}),
        }
        return {"organization": org}

    def _ListOrganizations(self, params: Any, query: Any, request: Any) -> Any:
        orgs = [organization_json(i) for i in (7, 8)]
        return self._page("organizations", orgs, urlsplit(request.url).path, query)

    def _SearchOrganizations(self, params: Any, query: Any, request: Any) -> Any:
        wanted = query.get("external_id", "").casefold()
        found = [
            org
            for org in (organization_json(i) for i in (7, 8))
            if org["external_id"].casefold() == wanted
        ]
        return {"organizations": found, "next_page": None, "count": len(found)}

    def _ListOrganizationFields(self, params: Any, query: Any, request: Any) -> Any:
        fields = self.organization_fields  # two to start with, and what setup adds
        return self._page(
            "organization_fields", fields, urlsplit(request.url).path, query
        )

    def _ListTicketFields(self, params: Any, query: Any, request: Any) -> Any:
        fields = self.ticket_fields  # two to start with, and what setup adds
        return self._page("ticket_fields", fields, urlsplit(request.url).path, query)

    def _ListTickets(self, params: Any, query: Any, request: Any) -> Any:
        tickets = [ticket_json(i) for i in (41, 42)]
        return self._page("tickets", tickets, urlsplit(request.url).path, query)

    def _ListOrganizationTickets(self, params: Any, query: Any, request: Any) -> Any:
        org = int(params["organization_id"])
        tickets = [
            ticket_json(41, organization_id=org),
            ticket_json(42, organization_id=org, status="solved"),
        ]
        return self._page("tickets", tickets, urlsplit(request.url).path, query)

    def _ListSearchResults(self, params: Any, query: Any, request: Any) -> Any:
        return {
            "results": [{"id": 41, "result_type": "ticket"}],
            "next_page": None,
            "previous_page": None,
            "count": 1,
        }

    def _CountSearchResults(self, params: Any, query: Any, request: Any) -> Any:
        return {"count": 6}  # SearchCountResponseExample

    def _IncrementalTicketExportCursor(
        self, params: Any, query: Any, request: Any
    ) -> Any:
        first = "cursor" not in query
        return {
            "tickets": [ticket_json(41)]
            if first
            else [ticket_json(43, status="deleted")],
            "after_cursor": "x2" if first else "x3",
            "after_url": f"{BASE}{documented_path(urlsplit(request.url).path)}.json?cursor=x2",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": not first,
        }
