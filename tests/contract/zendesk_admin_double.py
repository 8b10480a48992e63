"""The admin answers of the contract double: fields, webhooks, triggers, views.

Mixed into ``ContractZendesk`` so `sidecar zendesk setup` can be driven
through the recording double end to end: what it creates is kept, so a second
run finds it (and sends only reads), and an object changed through the API is
read back changed (so ``--repair`` sends its PUTs). Answers are shaped as the
response fragments of ``zendesk_admin_oas`` (the double checks them before
answering); list endpoints page the way each one documents (webhooks and
trigger categories cursor only, the others as asked).
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any
from urllib.parse import urlsplit

from tests.contract.zendesk_admin_oas import ORGANIZATION_FIELD_TYPES

# The API user of the double (ShowCurrentUser answers id 3).
API_USER_ID = 3


class AdminAnswers:
    """In-memory admin objects of the contract double (see the module docstring)."""

    def _init_admin(self) -> None:
        self._admin_ids = itertools.count(9001)
        self.ticket_fields: list[dict[str, Any]] = [
            {
                "id": 111,
                "type": "tagger",
                "title": "Severity",
                # A dropdown always has its options (OAS TicketFieldObject
                # `custom_field_options`); setup reads them as the truth.
                "custom_field_options": [
                    {"id": 1100 + n, "name": f"SEV {n}", "value": f"sev_{n}"}
                    for n in range(1, 6)
                ],
            },
            {"id": 112, "type": "text", "title": "Due at"},
        ]
        # Two forms of the admin's, in the admin's order (OAS TicketFormObject).
        self.ticket_forms: list[dict[str, Any]] = [
            {"id": 51, "name": "Web", "active": True, "ticket_field_ids": [112]},
            {"id": 52, "name": "Old", "active": False, "ticket_field_ids": [112]},
        ]
        self.organization_fields: list[dict[str, Any]] = [
            {"id": 1, "key": "support_plan", "type": "dropdown", "title": "Plan"},
            {"id": 2, "key": "enterprise_support", "type": "checkbox", "title": "ES"},
        ]
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.trigger_categories: list[dict[str, Any]] = []
        self.triggers: dict[int, dict[str, Any]] = {}
        self.views: dict[int, dict[str, Any]] = {}
        self.macros: dict[int, dict[str, Any]] = {}
        # Values the "Current user" condition (subject "role") offers; by
        # default our API user is among them (a test may take it out).
        self.current_user_values: list[dict[str, Any]] = [
            {"value": "end_user", "title": "(end-user)"},
            {"value": "agent", "title": "(agent)"},
            {"value": str(API_USER_ID), "title": "Sidecar"},
        ]

    @staticmethod
    def _sent(request: Any, key: str) -> dict[str, Any]:
        body = json.loads(request.body or "{}")
        found = body.get(key)
        return copy.deepcopy(found) if isinstance(found, dict) else {}

    def _cursor_page(
        self, key: str, items: list[dict[str, Any]], request: Any, query: dict[str, str]
    ) -> dict[str, Any]:
        # Cursor pagination whatever was asked: these endpoints offer no other.
        cursor_query = (
            query if "page[after]" in query else {**query, "page[size]": "100"}
        )
        return self._page(key, items, urlsplit(request.url).path, cursor_query)  # type: ignore[attr-defined]

    # --- fields -----------------------------------------------------------------------

    def _options(self, sent: dict[str, Any]) -> None:
        if "custom_field_options" in sent:
            sent["custom_field_options"] = [
                {"id": next(self._admin_ids), **option}
                for option in sent["custom_field_options"]
            ]

    def _CreateTicketField(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._sent(request, "ticket_field")
        self._options(sent)
        created = {"active": True, **sent, "id": next(self._admin_ids)}
        self.ticket_fields.append(created)
        return {"ticket_field": created}

    def _UpdateTicketField(self, params: Any, query: Any, request: Any) -> Any:
        found = next(
            f for f in self.ticket_fields if f["id"] == int(params["ticket_field_id"])
        )
        sent = self._sent(request, "ticket_field")
        self._options(sent)
        found.update(sent)
        return {"ticket_field": found}

    def _ListTicketForms(self, params: Any, query: Any, request: Any) -> Any:
        return {"ticket_forms": copy.deepcopy(self.ticket_forms)}

    def _UpdateTicketForm(self, params: Any, query: Any, request: Any) -> Any:
        form = next(
            f for f in self.ticket_forms if f["id"] == int(params["ticket_form_id"])
        )
        form.update(self._sent(request, "ticket_form"))
        return {"ticket_form": copy.deepcopy(form)}

    def _CreateOrganizationField(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._sent(request, "organization_field")
        assert sent.get("type") in ORGANIZATION_FIELD_TYPES
        self._options(sent)
        created = {"active": True, **sent, "id": next(self._admin_ids)}
        self.organization_fields.append(created)
        return {"organization_field": created}

    # --- webhooks ---------------------------------------------------------------------

    def _ListWebhooks(self, params: Any, query: Any, request: Any) -> Any:
        return self._cursor_page(
            "webhooks", list(self.webhooks.values()), request, query
        )

    def _CreateWebhook(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._sent(request, "webhook")
        # Webhook ids are string ULIDs (go-zendesk fixtures).
        hook_id = f"01HSIDECAR{next(self._admin_ids):016d}"
        created = {**sent, "id": hook_id, "created_by": str(API_USER_ID)}
        self.webhooks[hook_id] = created
        return {"webhook": created}

    def _UpdateWebhook(self, params: Any, query: Any, request: Any) -> Any:
        hook_id = params["webhook_id"]
        kept = {k: self.webhooks[hook_id][k] for k in ("id", "created_by")}
        self.webhooks[hook_id] = {**self._sent(request, "webhook"), **kept}
        return None  # 204 No Content

    def _ShowWebhookSigningSecret(self, params: Any, query: Any, request: Any) -> Any:
        secret = f"contract-signing-secret-{params['webhook_id']}"
        return {"signing_secret": {"algorithm": "SHA256", "secret": secret}}

    # --- triggers ---------------------------------------------------------------------

    def _ListTriggerCategories(self, params: Any, query: Any, request: Any) -> Any:
        return self._cursor_page(
            "trigger_categories", self.trigger_categories, request, query
        )

    def _CreateTriggerCategory(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._sent(request, "trigger_category")
        created = {
            "position": len(self.trigger_categories),
            **sent,
            "id": str(next(self._admin_ids)),
        }
        self.trigger_categories.append(created)
        return {"trigger_category": created}

    def _ListTriggerActionConditionDefinitions(
        self, params: Any, query: Any, request: Any
    ) -> Any:
        operators = [
            {"value": "is", "title": "Is"},
            {"value": "is_not", "title": "Is not"},
        ]
        role = {
            "subject": "role",
            "title": "Current user",
            "type": "list",
            "operators": operators,
            "values": copy.deepcopy(self.current_user_values),
        }
        update_type = {
            "subject": "update_type",
            "title": "Ticket",
            "type": "list",
            "operators": operators,
            "values": [{"value": "Create"}, {"value": "Change"}],
        }
        return {
            "definitions": {
                "actions": [{"subject": "notification_webhook"}],
                "conditions_all": [role, update_type],
                "conditions_any": [role, update_type],
            }
        }

    @staticmethod
    def _trigger_read(trigger_id: int, sent: dict[str, Any]) -> dict[str, Any]:
        # Reads carry `conditions` whichever form was written (TriggerObject).
        conditions = sent.get("conditions") or {
            "all": sent.get("all") or [],
            "any": sent.get("any") or [],
        }
        return {
            "id": trigger_id,
            "title": sent["title"],
            "active": sent.get("active", True),
            "category_id": sent.get("category_id"),
            "conditions": {
                "all": conditions.get("all") or [],
                "any": conditions.get("any") or [],
            },
            "actions": sent["actions"],
        }

    def _ListTriggers(self, params: Any, query: Any, request: Any) -> Any:
        items = list(self.triggers.values())
        return self._page("triggers", items, urlsplit(request.url).path, query)  # type: ignore[attr-defined]

    def _CreateTrigger(self, params: Any, query: Any, request: Any) -> Any:
        trigger_id = next(self._admin_ids)
        read = self._trigger_read(trigger_id, self._sent(request, "trigger"))
        self.triggers[trigger_id] = read
        return {"trigger": read}

    def _UpdateTrigger(self, params: Any, query: Any, request: Any) -> Any:
        trigger_id = int(params["trigger_id"])
        read = self._trigger_read(trigger_id, self._sent(request, "trigger"))
        self.triggers[trigger_id] = read
        return {"trigger": read}

    # --- views ------------------------------------------------------------------------

    @staticmethod
    def _view_read(view_id: int, sent: dict[str, Any]) -> dict[str, Any]:
        # Writes are flat all/any + output; reads conditions + execution
        # (OAS CreateView vs ViewObject).
        output = sent.get("output") or {}
        sort_by = output.get("sort_by")
        return {
            "id": view_id,
            "title": sent["title"],
            "active": sent.get("active", True),
            "conditions": {"all": sent.get("all") or [], "any": sent.get("any") or []},
            "execution": {
                "columns": [
                    {"id": c, "title": str(c)} for c in output.get("columns") or []
                ],
                "sort": {
                    "id": int(sort_by) if str(sort_by).isdigit() else sort_by,
                    "order": output.get("sort_order", "asc"),
                }
                if sort_by
                else None,
            },
        }

    def _ListViews(self, params: Any, query: Any, request: Any) -> Any:
        items = list(self.views.values())
        return self._page("views", items, urlsplit(request.url).path, query)  # type: ignore[attr-defined]

    def _CreateView(self, params: Any, query: Any, request: Any) -> Any:
        view_id = next(self._admin_ids)
        self.views[view_id] = self._view_read(view_id, self._sent(request, "view"))
        return {"view": self.views[view_id]}

    def _UpdateView(self, params: Any, query: Any, request: Any) -> Any:
        view_id = int(params["view_id"])
        sent = self._sent(request, "view")
        have = self.views[view_id]
        # All properties optional: what is not sent stays.
        merged = {
            "title": have["title"],
            "all": have["conditions"]["all"],
            "any": have["conditions"]["any"],
            **sent,
        }
        if "output" not in sent:
            sort = have["execution"].get("sort") or {}
            merged["output"] = {
                "columns": [c["id"] for c in have["execution"]["columns"]],
                **({"sort_by": str(sort["id"])} if sort else {}),
            }
        self.views[view_id] = self._view_read(view_id, merged)
        return {"view": self.views[view_id]}

    # --- macros -----------------------------------------------------------------------

    def _ListMacros(self, params: Any, query: Any, request: Any) -> Any:
        items = list(self.macros.values())
        return self._page("macros", items, urlsplit(request.url).path, query)  # type: ignore[attr-defined]

    def _CreateMacro(self, params: Any, query: Any, request: Any) -> Any:
        macro_id = next(self._admin_ids)
        sent = self._sent(request, "macro")
        self.macros[macro_id] = {"id": macro_id, "active": True, **sent}
        return {"macro": self.macros[macro_id]}

    def _UpdateMacro(self, params: Any, query: Any, request: Any) -> Any:
        macro_id = int(params["macro_id"])
        self.macros[macro_id] = {
            **self.macros[macro_id],
            **self._sent(request, "macro"),
        }
        return {"macro": self.macros[macro_id]}
