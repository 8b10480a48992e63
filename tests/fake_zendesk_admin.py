"""The admin part of FakeZendesk: fields, webhooks, triggers and views, for `sidecar zendesk setup`.

Kept apart from the ticket parts of the fake. Each rule names its source:
the OpenAPI document (OAS schema or operation name) or, where the OAS has no
such paths (webhooks), the client libraries the project's fact sheet cites.
Handlers run under the fake's lock and return ``(Reply, None)``.
"""

from __future__ import annotations

import copy
import itertools
import re
import secrets
from typing import Any

ID = r"([0-9A-Za-z]+)"

ADMIN_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (
        "POST",
        re.compile(r"^/api/v2/ticket_fields(?:\.json)?$"),
        "_admin_create_ticket_field",
    ),
    (
        "PUT",
        re.compile(r"^/api/v2/ticket_fields/(\d+)(?:\.json)?$"),
        "_admin_put_ticket_field",
    ),
    (
        "GET",
        re.compile(r"^/api/v2/ticket_forms(?:\.json)?$"),
        "_admin_list_ticket_forms",
    ),
    (
        "PUT",
        re.compile(r"^/api/v2/ticket_forms/(\d+)(?:\.json)?$"),
        "_admin_put_ticket_form",
    ),
    (
        "POST",
        re.compile(r"^/api/v2/organization_fields(?:\.json)?$"),
        "_admin_create_org_field",
    ),
    ("GET", re.compile(r"^/api/v2/webhooks(?:\.json)?$"), "_admin_list_webhooks"),
    ("POST", re.compile(r"^/api/v2/webhooks(?:\.json)?$"), "_admin_create_webhook"),
    (
        "GET",
        re.compile(rf"^/api/v2/webhooks/{ID}/signing_secret(?:\.json)?$"),
        "_admin_signing_secret",
    ),
    ("GET", re.compile(rf"^/api/v2/webhooks/{ID}(?:\.json)?$"), "_admin_get_webhook"),
    ("PUT", re.compile(rf"^/api/v2/webhooks/{ID}(?:\.json)?$"), "_admin_put_webhook"),
    (
        "DELETE",
        re.compile(rf"^/api/v2/webhooks/{ID}(?:\.json)?$"),
        "_admin_delete_webhook",
    ),
    (
        "GET",
        re.compile(r"^/api/v2/trigger_categories(?:\.json)?$"),
        "_admin_list_categories",
    ),
    (
        "POST",
        re.compile(r"^/api/v2/trigger_categories(?:\.json)?$"),
        "_admin_create_category",
    ),
    (
        "GET",
        re.compile(r"^/api/v2/triggers/definitions(?:\.json)?$"),
        "_admin_definitions",
    ),
    ("GET", re.compile(r"^/api/v2/triggers(?:\.json)?$"), "_admin_list_triggers"),
    ("POST", re.compile(r"^/api/v2/triggers(?:\.json)?$"), "_admin_create_trigger"),
    ("PUT", re.compile(r"^/api/v2/triggers/(\d+)(?:\.json)?$"), "_admin_put_trigger"),
    ("GET", re.compile(r"^/api/v2/views(?:\.json)?$"), "_admin_list_views"),
    ("POST", re.compile(r"^/api/v2/views(?:\.json)?$"), "_admin_create_view"),
    ("PUT", re.compile(r"^/api/v2/views/(\d+)(?:\.json)?$"), "_admin_put_view"),
    ("GET", re.compile(r"^/api/v2/macros(?:\.json)?$"), "_admin_list_macros"),
    ("POST", re.compile(r"^/api/v2/macros(?:\.json)?$"), "_admin_create_macro"),
    ("PUT", re.compile(r"^/api/v2/macros/(\d+)(?:\.json)?$"), "_admin_put_macro"),
]

ADMIN_WRITES = ("POST", "PUT", "DELETE", "PATCH")
# OAS TicketFieldObject: the Help Center properties. Their defaults are not
# documented; the Ticket Fields API page says "To make a ticket field visible
# to end users, make it both visible and editable in Help Center", so a field
# nobody set up is hidden and not editable there, and has no portal title
# (the harsher reading: setup must send what it wants).
PORTAL_DEFAULTS: dict[str, Any] = {
    "visible_in_portal": False,
    "editable_in_portal": False,
    "required_in_portal": False,
    "title_in_portal": None,
}
PORTAL_PROPERTIES = tuple(PORTAL_DEFAULTS)
_ULID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _invalid(description: str, **details: Any) -> tuple[Any, None]:
    from tests.fake_zendesk import Reply

    body = {"error": "RecordInvalid", "description": description}
    if details:
        body["details"] = details
    return Reply(422, body, {}), None


def _reply(status: int, body: Any) -> tuple[Any, None]:
    from tests.fake_zendesk import Reply

    return Reply(status, body, {}), None


class AdminMixin:
    """Admin objects of the fake account (mixed into FakeZendesk)."""

    # Provided by FakeZendesk.
    _ids: itertools.count[int]
    _org_fields: list[dict[str, Any]]
    _ticket_fields: list[dict[str, Any]]
    api_user_id: int

    def _admin_init(self) -> None:
        self._webhooks: dict[str, dict[str, Any]] = {}
        self._webhook_secrets: dict[str, str] = {}
        self._triggers: dict[int, dict[str, Any]] = {}
        self._trigger_categories: list[dict[str, Any]] = []
        self._views: dict[int, dict[str, Any]] = {}
        self._ticket_forms: dict[int, dict[str, Any]] = {}
        self._macros: dict[int, dict[str, Any]] = {}
        # Values the "Current user" condition (subject "role") lists; the JSON of
        # "Current user is <a user>" is UNCONFIRMED, so tests choose what it offers.
        self.current_user_values: list[dict[str, Any]] = [
            {"value": "end_user", "title": "(end-user)", "enabled": True},
            {"value": "agent", "title": "(agent)", "enabled": True},
        ]

    # --- test helpers --------------------------------------------------------

    def empty_account(self) -> None:
        """Remove the organization fields FakeZendesk starts with: nobody set it up."""
        self._org_fields.clear()

    def webhook_list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._webhooks.values()))

    def trigger_list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._triggers.values()))

    def view_list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._views.values()))

    def macro_list(self) -> list[dict[str, Any]]:
        return [self._macro_read(m, macro) for m, macro in self._macros.items()]

    def edit_macro(self, macro_id: int, **changes: Any) -> None:
        """Change a macro as an admin would in Admin Center."""
        self._macros[macro_id].update(copy.deepcopy(changes))

    def edit_trigger(self, trigger_id: int, **changes: Any) -> None:
        """Change a trigger as an admin would in Admin Center."""
        self._triggers[trigger_id].update(copy.deepcopy(changes))

    def webhook_secret(self, webhook_id: str) -> str:
        return self._webhook_secrets[webhook_id]

    def add_ticket_form(
        self, name: str, field_ids: list[int], *, active: bool = True
    ) -> int:
        """Add a ticket form as an admin would (OAS TicketFormObject)."""
        form_id = next(self._ids)
        self._ticket_forms[form_id] = {
            "id": form_id,
            "name": name,
            "raw_name": name,
            "display_name": name,
            "active": active,
            "end_user_visible": True,
            "default": not self._ticket_forms,
            "position": len(self._ticket_forms),
            "ticket_field_ids": list(field_ids),
            "agent_conditions": [],
            "end_user_conditions": [],
        }
        return form_id

    def ticket_form(self, form_id: int) -> dict[str, Any]:
        return copy.deepcopy(self._ticket_forms[form_id])

    def ticket_field(self, field_id: int) -> dict[str, Any]:
        return copy.deepcopy(
            next(f for f in self._ticket_fields if f["id"] == field_id)
        )

    def edit_ticket_field(self, field_id: int, **changes: Any) -> None:
        """Change a ticket field as an admin would in Admin Center."""
        next(f for f in self._ticket_fields if f["id"] == field_id).update(changes)

    def edit_webhook(self, webhook_id: str, **changes: Any) -> None:
        """Change a webhook as an admin would (``status="inactive"``, ``endpoint=...``)."""
        self._webhooks[webhook_id].update(copy.deepcopy(changes))

    # --- fields ----------------------------------------------------------------

    def _admin_create_ticket_field(self, _: Any, query: Any, payload: Any) -> Any:
        # OAS CreateTicketField: `type` and `title` required; custom_field_options
        # required for tagger/multiselect, each with `name` and `value`; 201.
        field = payload.get("ticket_field") if isinstance(payload, dict) else None
        if (
            not isinstance(field, dict)
            or not field.get("type")
            or not field.get("title")
        ):
            return _invalid("type and title are required")
        created: dict[str, Any] = {
            "id": next(self._ids),
            "type": field["type"],
            "title": field["title"],
            "active": field.get("active", True),
            "description": field.get("description", ""),
            "removable": True,
            **{key: field.get(key, PORTAL_DEFAULTS[key]) for key in PORTAL_PROPERTIES},
        }
        if field["type"] in ("tagger", "multiselect"):
            options = field.get("custom_field_options")
            if not options or not all(
                isinstance(o, dict) and o.get("name") and o.get("value")
                for o in options
            ):
                return _invalid("custom_field_options need a name and a value each")
            created["custom_field_options"] = [
                {"id": next(self._ids), "name": o["name"], "value": o["value"]}
                for o in options
            ]
        self._ticket_fields.append(created)
        return _reply(201, {"ticket_field": copy.deepcopy(created)})

    def _admin_put_ticket_field(self, fid: int, query: Any, payload: Any) -> Any:
        # OAS UpdateTicketField (200, TicketFieldResponse): what is sent
        # changes; `type` only on creation (TicketFieldObject.type); sent
        # custom_field_options replace the options ("Omitting an option
        # removes it from the drop-down field").
        found = next((f for f in self._ticket_fields if f["id"] == fid), None)
        if found is None:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        field = payload.get("ticket_field") if isinstance(payload, dict) else None
        if not isinstance(field, dict) or not field:
            return _invalid("ticket_field object required")
        if "type" in field and field["type"] != found["type"]:
            return _invalid("type can only be set on creation")
        changed = {k: v for k, v in field.items() if k not in ("id", "type")}
        if "custom_field_options" in changed:
            changed["custom_field_options"] = [
                {"id": next(self._ids), "name": o["name"], "value": o["value"]}
                for o in changed["custom_field_options"]
            ]
        found.update(copy.deepcopy(changed))
        return _reply(200, {"ticket_field": copy.deepcopy(found)})

    # --- ticket forms -------------------------------------------------------------

    def _admin_list_ticket_forms(self, _: Any, query: Any, payload: Any) -> Any:
        # OAS ListTicketForms: TicketFormsResponse {ticket_forms}; `active`
        # filters, absent returns both.
        forms = list(self._ticket_forms.values())
        if "active" in query:
            wanted = query["active"] == "true"
            forms = [f for f in forms if f["active"] == wanted]
        return _reply(200, {"ticket_forms": copy.deepcopy(forms)})

    def _admin_put_ticket_form(self, form_id: int, query: Any, payload: Any) -> Any:
        # OAS UpdateTicketForm (200, TicketFormResponse). `ticket_field_ids`:
        # "ids of all ticket fields which are in this ticket form. The products
        # use the order of the ids": a sent list replaces the form's, in its
        # order. An id that names no ticket field is refused (the harsher
        # reading; Zendesk's answer to it is UNCONFIRMED).
        form = self._ticket_forms.get(form_id)
        if form is None:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        sent = payload.get("ticket_form") if isinstance(payload, dict) else None
        if not isinstance(sent, dict) or not sent:
            return _invalid("ticket_form object required")
        if "ticket_field_ids" in sent:
            known = {f["id"] for f in self._ticket_fields}
            unknown = [i for i in sent["ticket_field_ids"] if i not in known]
            if unknown:
                return _invalid(f"ticket_field_ids name no ticket field: {unknown}")
        form.update(copy.deepcopy({k: v for k, v in sent.items() if k != "id"}))
        return _reply(200, {"ticket_form": copy.deepcopy(form)})

    def _admin_create_org_field(self, _: Any, query: Any, payload: Any) -> Any:
        # OAS CreateOrganizationField: `key`, `type`, `title` required; the key is
        # letters, digits and underscores, not only digits, and unique; dropdown
        # (not "tagger") takes custom_field_options; 201.
        field = payload.get("organization_field") if isinstance(payload, dict) else None
        if not isinstance(field, dict) or not all(
            field.get(k) for k in ("key", "type", "title")
        ):
            return _invalid("key, type and title are required")
        key = str(field["key"])
        if not re.fullmatch(r"[A-Za-z0-9_]+", key) or key.isdigit():
            return _invalid("key is invalid", key=[{"error": "InvalidValue"}])
        if any(f["key"] == key for f in self._org_fields):
            return _invalid("key is already taken", key=[{"error": "DuplicateValue"}])
        created: dict[str, Any] = {
            "id": next(self._ids),
            "key": key,
            "type": field["type"],
            "title": field["title"],
            "active": True,
        }
        if field["type"] == "dropdown":
            options = field.get("custom_field_options") or []
            created["custom_field_options"] = [
                {"id": next(self._ids), "name": o["name"], "value": o["value"]}
                for o in options
            ]
        self._org_fields.append(created)
        return _reply(201, {"organization_field": copy.deepcopy(created)})

    # --- webhooks ----------------------------------------------------------------

    def _new_ulid(self) -> str:
        # Webhook ids are string ULIDs (go-zendesk fixtures): 26 characters.
        while True:
            value = "01" + "".join(secrets.choice(_ULID_CHARS) for _ in range(24))
            if not value.isdigit() and value not in self._webhooks:
                return value

    @staticmethod
    def _webhook_problem(hook: Any) -> str | None:
        if not isinstance(hook, dict):
            return "webhook object required"
        for key in ("name", "endpoint", "http_method", "request_format", "status"):
            if not hook.get(key):
                return f"{key} is required"
        if not hook.get("subscriptions"):
            return "subscriptions are required"
        return None

    def _admin_list_webhooks(self, _: Any, query: Any, payload: Any) -> Any:
        # go-zendesk ListWebhooks: {"webhooks": [...], "meta", "links"}; reads never
        # echo credentials.
        hooks = [self._public_webhook(h) for h in self._webhooks.values()]
        return _reply(
            200,
            {"webhooks": hooks, "meta": {"has_more": False}, "links": {"next": None}},
        )

    @staticmethod
    def _public_webhook(hook: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(hook)
        auth = shown.get("authentication")
        if isinstance(auth, dict):
            auth.pop("data", None)
        return shown

    def _admin_create_webhook(self, _: Any, query: Any, payload: Any) -> Any:
        hook = payload.get("webhook") if isinstance(payload, dict) else None
        problem = self._webhook_problem(hook)
        if problem:
            return _invalid(problem)
        assert isinstance(hook, dict)
        created = {
            **copy.deepcopy(hook),
            "id": self._new_ulid(),
            "created_by": str(self.api_user_id),
        }
        self._webhooks[created["id"]] = created
        self._webhook_secrets[created["id"]] = secrets.token_urlsafe(32)
        # Status code of create is UNCONFIRMED (zendesk-more §7); 201 as for other creates.
        return _reply(201, {"webhook": self._public_webhook(created)})

    def _admin_get_webhook(self, wid: Any, query: Any, payload: Any) -> Any:
        hook = self._webhooks.get(str(wid))
        if hook is None:
            return _reply(404, {"errors": [{"code": "WebhookNotFound"}]})
        return _reply(200, {"webhook": self._public_webhook(hook)})

    def _admin_put_webhook(self, wid: Any, query: Any, payload: Any) -> Any:
        # PUT replaces the webhook and answers 204 No Content (go-zendesk tests).
        if str(wid) not in self._webhooks:
            return _reply(404, {"errors": [{"code": "WebhookNotFound"}]})
        hook = payload.get("webhook") if isinstance(payload, dict) else None
        problem = self._webhook_problem(hook)
        if problem:
            return _invalid(problem)
        assert isinstance(hook, dict)
        kept = {k: self._webhooks[str(wid)][k] for k in ("id", "created_by")}
        self._webhooks[str(wid)] = {**copy.deepcopy(hook), **kept}
        return _reply(204, b"")

    def _admin_delete_webhook(self, wid: Any, query: Any, payload: Any) -> Any:
        if self._webhooks.pop(str(wid), None) is None:
            return _reply(404, {"errors": [{"code": "WebhookNotFound"}]})
        return _reply(204, b"")

    def _admin_signing_secret(self, wid: Any, query: Any, payload: Any) -> Any:
        # {"signing_secret": {"algorithm": "SHA256", "secret": ...}} (zenpy spec,
        # go-zendesk WebhookSigningSecret).
        secret = self._webhook_secrets.get(str(wid))
        if secret is None:
            return _reply(404, {"errors": [{"code": "WebhookNotFound"}]})
        return _reply(
            200, {"signing_secret": {"algorithm": "SHA256", "secret": secret}}
        )

    # --- triggers -----------------------------------------------------------------

    def _admin_list_categories(self, _: Any, query: Any, payload: Any) -> Any:
        # Trigger category ids are strings (OAS TriggerCategory).
        return _reply(
            200,
            {
                "trigger_categories": copy.deepcopy(self._trigger_categories),
                "meta": {"has_more": False},
                "links": {"next": None},
            },
        )

    def _admin_create_category(self, _: Any, query: Any, payload: Any) -> Any:
        category = (
            payload.get("trigger_category") if isinstance(payload, dict) else None
        )
        if not isinstance(category, dict) or not category.get("name"):
            return _invalid("name is required")
        created = {
            "id": str(next(self._ids)),
            "name": category["name"],
            "position": len(self._trigger_categories),
        }
        self._trigger_categories.append(created)
        return _reply(200, {"trigger_category": copy.deepcopy(created)})

    def _admin_definitions(self, _: Any, query: Any, payload: Any) -> Any:
        # OAS TriggerDefinitionResponse: {"definitions": {"actions", "conditions_all",
        # "conditions_any"}}, each condition with subject, title, operators, values.
        operators = [
            {"value": "is", "title": "Is", "terminal": False},
            {"value": "is_not", "title": "Is not", "terminal": False},
        ]
        role = {
            "subject": "role",
            "title": "Current user",
            "group": "other",
            "type": "list",
            "nullable": False,
            "operators": operators,
            "values": copy.deepcopy(self.current_user_values),
        }
        update_type = {
            "subject": "update_type",
            "title": "Ticket",
            "group": "ticket",
            "type": "list",
            "nullable": False,
            "operators": operators,
            "values": [
                {"value": "Create", "title": "Created", "enabled": True},
                {"value": "Change", "title": "Updated", "enabled": True},
            ],
        }
        return _reply(
            200,
            {
                "definitions": {
                    "actions": [
                        {
                            "subject": "notification_webhook",
                            "title": "Notify active webhook",
                        }
                    ],
                    "conditions_all": [role, update_type],
                    "conditions_any": [role, update_type],
                }
            },
        )

    @staticmethod
    def _trigger_body(trigger: dict[str, Any]) -> dict[str, Any]:
        # The conditions reference takes bare all/any; the OAS example and real
        # clients send conditions: {all, any}: accept both (zendesk-more §6).
        conditions = trigger.get("conditions")
        if not isinstance(conditions, dict):
            conditions = {
                "all": trigger.get("all") or [],
                "any": trigger.get("any") or [],
            }
        return {
            "title": trigger.get("title"),
            "active": trigger.get("active", True),
            "conditions": {
                "all": list(conditions.get("all") or []),
                "any": list(conditions.get("any") or []),
            },
            "actions": list(trigger.get("actions") or []),
            "category_id": trigger.get("category_id"),
            "description": trigger.get("description"),
        }

    def _trigger_problem(self, body: dict[str, Any]) -> str | None:
        if not body["title"] or not body["actions"]:
            return "title and actions are required"
        if not (body["conditions"]["all"] or body["conditions"]["any"]):
            return "conditions are required"
        # OAS TriggerWithCategoryRequest: category_id is a string (always send one).
        if not any(c["id"] == body["category_id"] for c in self._trigger_categories):
            return "category_id must name a trigger category"
        for action in body["actions"]:
            if action.get("field") == "notification_webhook":
                value = action.get("value")
                if not (isinstance(value, list) and len(value) == 2):
                    return "notification_webhook takes [webhook_id, body]"
                if value[0] not in self._webhooks:
                    return "notification_webhook names no webhook"
        return None

    def _admin_list_triggers(self, _: Any, query: Any, payload: Any) -> Any:
        return _reply(
            200,
            {
                "triggers": copy.deepcopy(list(self._triggers.values())),
                "next_page": None,
                "count": len(self._triggers),
            },
        )

    def _admin_create_trigger(self, _: Any, query: Any, payload: Any) -> Any:
        trigger = payload.get("trigger") if isinstance(payload, dict) else None
        if not isinstance(trigger, dict):
            return _invalid("trigger object required")
        body = self._trigger_body(trigger)
        problem = self._trigger_problem(body)
        if problem:
            return _invalid(problem)
        created = {**body, "id": next(self._ids), "position": len(self._triggers) + 1}
        self._triggers[created["id"]] = created
        return _reply(201, {"trigger": copy.deepcopy(created)})

    def _admin_put_trigger(self, tid: int, query: Any, payload: Any) -> Any:
        if tid not in self._triggers:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        trigger = payload.get("trigger") if isinstance(payload, dict) else None
        if not isinstance(trigger, dict):
            return _invalid("trigger object required")
        body = {**self._triggers[tid], **self._trigger_body(trigger)}
        problem = self._trigger_problem(body)
        if problem:
            return _invalid(problem)
        self._triggers[tid] = body
        return _reply(200, {"trigger": copy.deepcopy(body)})

    # --- views -----------------------------------------------------------------

    def _view_read_format(self, vid: int, view: dict[str, Any]) -> dict[str, Any]:
        # Write format (flat all/any + output) differs from the read format
        # (conditions + execution with columns/sort as objects): OAS CreateView,
        # ViewObject.
        output = view.get("output") or {}
        sort_by = output.get("sort_by")
        return {
            "id": vid,
            "title": view["title"],
            "active": view.get("active", True),
            "conditions": {"all": view.get("all") or [], "any": view.get("any") or []},
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

    def _view_problem(self, view: Any) -> str | None:
        if not isinstance(view, dict) or not view.get("title"):
            return "title is required"
        # "all must contain at least one of status, type, group_id, assignee_id,
        # requester_id" (OAS CreateView).
        required = {"status", "type", "group_id", "assignee_id", "requester_id"}
        if not any(c.get("field") in required for c in view.get("all") or []):
            return "all needs a status, type, group, assignee or requester condition"
        if len((view.get("output") or {}).get("columns") or []) > 10:
            return "at most 10 columns"
        return None

    def _admin_list_views(self, _: Any, query: Any, payload: Any) -> Any:
        views = [self._view_read_format(v, view) for v, view in self._views.items()]
        return _reply(200, {"views": views, "next_page": None, "count": len(views)})

    def _admin_create_view(self, _: Any, query: Any, payload: Any) -> Any:
        view = payload.get("view") if isinstance(payload, dict) else None
        problem = self._view_problem(view)
        if problem:
            return _invalid(problem)
        assert isinstance(view, dict)
        vid = next(self._ids)
        self._views[vid] = copy.deepcopy(view)
        # OAS lists 200 (not 201) for Create View.
        return _reply(200, {"view": self._view_read_format(vid, view)})

    def _admin_put_view(self, vid: int, query: Any, payload: Any) -> Any:
        if vid not in self._views:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        view = payload.get("view") if isinstance(payload, dict) else None
        problem = self._view_problem(view)
        if problem:
            return _invalid(problem)
        assert isinstance(view, dict)
        self._views[vid] = copy.deepcopy(view)
        return _reply(200, {"view": self._view_read_format(vid, view)})

    # --- macros: OAS ListMacros / CreateMacro / UpdateMacro ---------------------

    def _macro_read(self, mid: int, macro: dict[str, Any]) -> dict[str, Any]:
        # OAS MacroObject (MacroCommonObject + usage counters); "active" is
        # "Useful for determining if the macro should be displayed" (default on);
        # restriction null "allows unrestricted access for all users".
        return {
            "id": mid,
            "url": f"{getattr(self, 'url', '')}/api/v2/macros/{mid}.json",
            "title": macro["title"],
            "actions": copy.deepcopy(macro["actions"]),
            "active": macro.get("active", True),
            "description": macro.get("description"),
            "restriction": macro.get("restriction"),
            "default": False,
            "position": macro.get("position", 9999),
        }

    @staticmethod
    def _macro_problem(macro: Any) -> str | None:
        # OAS MacroInput: "required: title, actions"; ActionObject {field, value}.
        if not isinstance(macro, dict):
            return "macro must be an object"
        if not macro.get("title") or "actions" not in macro:
            return "title and actions are required"
        actions = macro.get("actions", [])
        if not isinstance(actions, list) or not all(
            isinstance(a, dict) and isinstance(a.get("field"), str) and "value" in a
            for a in actions
        ):
            return "actions must be a list of {field, value}"
        if "actions" in macro and not actions:
            return "a macro needs at least one action"
        return None

    def _admin_list_macros(self, _: Any, query: Any, payload: Any) -> Any:
        # OAS MacrosResponse: macros + offset pagination (next_page, count).
        macros = self.macro_list()
        return _reply(200, {"macros": macros, "next_page": None, "count": len(macros)})

    def _admin_create_macro(self, _: Any, query: Any, payload: Any) -> Any:
        macro = payload.get("macro") if isinstance(payload, dict) else None
        problem = self._macro_problem(macro)
        if problem:
            return _invalid(problem)
        assert isinstance(macro, dict)
        mid = next(self._ids)
        self._macros[mid] = copy.deepcopy(macro)
        # OAS CreateMacro answers 200 with {"macro": MacroObject}.
        return _reply(200, {"macro": self._macro_read(mid, self._macros[mid])})

    def _admin_put_macro(self, mid: int, query: Any, payload: Any) -> Any:
        if mid not in self._macros:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        macro = payload.get("macro") if isinstance(payload, dict) else None
        # OAS UpdateMacro takes MacroInput (title and actions required).
        problem = self._macro_problem(macro)
        if problem:
            return _invalid(problem)
        assert isinstance(macro, dict)
        self._macros[mid].update(copy.deepcopy(macro))
        return _reply(200, {"macro": self._macro_read(mid, self._macros[mid])})
