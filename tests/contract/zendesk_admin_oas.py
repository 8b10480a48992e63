"""Zendesk's published contract for the admin requests of `sidecar zendesk setup`.

The same conventions as ``zendesk_oas`` (whose building blocks this module
uses): each operation names its source; request bodies are closed
(``additionalProperties: false`` at every level), so a property the contract
does not document for that endpoint fails. Sources:

* the Support API OpenAPI document ("OAS"): CreateTicketField /
  TicketFieldObject / CustomFieldOptionObject, CreateOrganizationField /
  CustomFieldObject, ListTriggers / CreateTrigger / UpdateTrigger
  (TriggerWithCategoryRequest, TriggerObject, TriggerConditionsObject,
  TriggerConditionObject, TriggerActionObject), ListTriggerCategories /
  CreateTriggerCategory (TriggerCategoryRequest), ListTriggerActionCondition
  Definitions (TriggerDefinitionResponse), ListViews / CreateView / UpdateView
  (their JSON Format tables; ViewObject);
* the Conditions reference (developer.zendesk.com, "Conditions reference"):
  trigger POST/PUT bodies may carry bare ``all``/``any`` arrays instead of a
  ``conditions`` object, so both forms pass (but not both at once);
* webhooks are NOT in the OAS: the Webhooks API page
  (developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/, "JSON
  format": mandatory endpoint, http_method, name, request_format, status,
  subscriptions; optional authentication, custom_headers, description,
  external_source; read-only id, created_at, created_by; "To subscribe the
  webhook to Zendesk events, this must be 'POST'" / "'json'"), "Creating and
  monitoring webhooks" (the two connection methods exclude each other), and
  for what that page leaves open (the signing-secret path and body, 204 on PUT,
  the authentication object, cursor pagination of List Webhooks) the client
  libraries go-zendesk (zendesk/webhook.go, webhook_test.go) and zenpy
  (specification/zendesk/webhook_secret.json), as the project's fact sheet
  records them.
"""

from __future__ import annotations

from tests.contract.zendesk_oas import (
    CURSOR_PAGINATION,
    FIELD_KEY,
    ID_STRING,
    PAGINATION,
    TEXT,
    Operation,
    Schema,
    listing,
    query,
)

# --- custom fields (ticket and organization) -------------------------------------

# OAS CustomFieldOptionObject: `name` (the option's title) and `value` (its tag)
# required; `position` writable; id, raw_name, url readOnly.
FIELD_OPTION: Schema = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {
        "name": TEXT,
        "value": TEXT,
        "position": {"type": "integer"},
    },
    "additionalProperties": False,
}

# OAS CreateTicketField: the types it creates (its table); `type` "Editable for
# custom field types and only on creation" (TicketFieldObject.type).
TICKET_FIELD_TYPES = (
    "text",
    "textarea",
    "checkbox",
    "date",
    "integer",
    "decimal",
    "regexp",
    "partialcreditcard",
    "multiselect",
    "tagger",
    "lookup",
)
# OAS TicketFieldObject, writable properties only (created_at, custom_statuses,
# id, removable, system_field_options, updated_at, url are readOnly;
# creator_app_name / creator_user_id describe who created it and are left out:
# the harsher reading). `type` and `title` required; custom_field_options
# "Required and presented for a custom ticket field of type multiselect or
# tagger".
TICKET_FIELD_WRITE: Schema = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "active": {"type": "boolean"},
        "agent_description": {"type": "string"},
        "collapsed_for_agents": {"type": "boolean"},
        "custom_field_options": {
            "type": "array",
            "minItems": 1,
            "items": FIELD_OPTION,
        },
        "description": {"type": "string"},
        "editable_in_portal": {"type": "boolean"},
        "position": {"type": "integer"},
        "raw_description": {"type": "string"},
        "raw_title": {"type": "string"},
        "raw_title_in_portal": {"type": "string"},
        "regexp_for_validation": {"type": ["string", "null"]},
        "relationship_filter": {"type": "object"},
        "relationship_target_type": {"type": "string"},
        "required": {"type": "boolean"},
        "required_in_portal": {"type": "boolean"},
        "sub_type_id": {"type": "integer"},
        "tag": {"type": ["string", "null"]},
        "title": TEXT,
        "title_in_portal": {"type": "string"},
        "type": {"enum": list(TICKET_FIELD_TYPES)},
        "visible_in_portal": {"type": "boolean"},
    },
    "if": {
        "required": ["type"],
        "properties": {"type": {"enum": ["tagger", "multiselect"]}},
    },
    "then": {"required": ["custom_field_options"]},
    "additionalProperties": False,
}
# OAS UpdateTicketField: no requestBody schema; its description sends a bare
# {"ticket_field": {...}} with only what changes (the options example), so any
# writable property, none required, `type` never (only on creation).
UPDATE_TICKET_FIELD_REQUEST: Schema = {
    "type": "object",
    "required": ["ticket_field"],
    "properties": {
        "ticket_field": {
            **{k: v for k, v in TICKET_FIELD_WRITE.items() if k not in ("if", "then")},
            "required": [],
            "minProperties": 1,
            "not": {"required": ["type"]},
        }
    },
    "additionalProperties": False,
}
CREATE_TICKET_FIELD_REQUEST: Schema = {
    "type": "object",
    "required": ["ticket_field"],
    "properties": {"ticket_field": TICKET_FIELD_WRITE},
    "additionalProperties": False,
}

# OAS CreateOrganizationField: the types it creates (its list; "dropdown", not
# the ticket fields' "tagger").
ORGANIZATION_FIELD_TYPES = (
    "text",
    "textarea",
    "checkbox",
    "date",
    "integer",
    "decimal",
    "regexp",
    "dropdown",
    "lookup",
)
# OAS OrganizationFieldObject = CustomFieldObject, writable properties only
# (created_at, id, system, updated_at, url readOnly). `key`, `type`, `title`
# required; the key "must consist of only letters, numbers, and underscores.
# It can't be only numbers"; custom_field_options "Required and presented for
# a custom field of type dropdown"; `tag` only for checkboxes.
ORGANIZATION_FIELD_WRITE: Schema = {
    "type": "object",
    "required": ["key", "type", "title"],
    "properties": {
        "active": {"type": "boolean"},
        "custom_field_options": {
            "type": "array",
            "minItems": 1,
            "items": FIELD_OPTION,
        },
        "description": {"type": "string"},
        "key": FIELD_KEY,
        "position": {"type": "integer"},
        "raw_description": {"type": "string"},
        "raw_title": {"type": "string"},
        "regexp_for_validation": {"type": ["string", "null"]},
        "relationship_filter": {"type": "object"},
        "relationship_target_type": {"type": "string"},
        "tag": {"type": "string"},
        "title": TEXT,
        "type": {"enum": list(ORGANIZATION_FIELD_TYPES)},
    },
    "allOf": [
        {
            "if": {"required": ["type"], "properties": {"type": {"const": "dropdown"}}},
            "then": {"required": ["custom_field_options"]},
        },
        {
            "if": {"required": ["tag"]},
            "then": {"properties": {"type": {"const": "checkbox"}}},
        },
    ],
    "additionalProperties": False,
}
CREATE_ORGANIZATION_FIELD_REQUEST: Schema = {
    "type": "object",
    "required": ["organization_field"],
    "properties": {"organization_field": ORGANIZATION_FIELD_WRITE},
    "additionalProperties": False,
}

# --- ticket forms -----------------------------------------------------------------

# OAS TicketFormObject, writable properties only (created_at, id,
# restricted_brand_ids, updated_at, url readOnly). UpdateTicketForm has no
# requestBody schema; TicketFormObject's `required: [name]` is taken to bind a
# create, not an update: sending the rendered `name` back would overwrite a
# dynamic-content name (`raw_name`), so an update may carry only what changes.
# `ticket_field_ids`: "ids of all ticket fields which are in this ticket form.
# The products use the order of the ids".
TICKET_FORM_UPDATE: Schema = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "active": {"type": "boolean"},
        "agent_conditions": {"type": "array", "items": {"type": "object"}},
        "default": {"type": "boolean"},
        "display_name": {"type": "string"},
        "end_user_conditions": {"type": "array", "items": {"type": "object"}},
        "end_user_visible": {"type": "boolean"},
        "in_all_brands": {"type": "boolean"},
        "name": TEXT,
        "position": {"type": "integer"},
        "raw_display_name": {"type": "string"},
        "raw_name": {"type": "string"},
        "ticket_field_ids": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 1},
        },
    },
    "additionalProperties": False,
}
TICKET_FORM_READ: Schema = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "active": {"type": "boolean"},
        "ticket_field_ids": {"type": "array", "items": {"type": "integer"}},
    },
}

# --- webhooks (not in the OAS) ------------------------------------------------------

WEBHOOK_ID: Schema = {"type": "string", "pattern": "^[0-9A-Za-z]{1,64}$"}
# Webhooks API page, "JSON format" (writable properties; id, created_at,
# created_by read-only) and the rules it states per property.
WEBHOOK_WRITE: Schema = {
    "type": "object",
    "required": [
        "endpoint",
        "http_method",
        "name",
        "request_format",
        "status",
        "subscriptions",
    ],
    "properties": {
        # go-zendesk WebhookAuthentication{Type, Data, AddPosition}; the three
        # types of "Webhook security and authentication".
        "authentication": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["basic_auth", "bearer_token", "api_key"]},
                "data": {"type": "object"},
                "add_position": {"const": "header"},
            },
            "additionalProperties": False,
        },
        "custom_headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
        },
        "description": {"type": "string"},
        "endpoint": {"type": "string", "pattern": "^https?://[^\\s]+$"},
        "external_source": {"type": "object"},
        "http_method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "name": TEXT,
        "request_format": {"enum": ["json", "xml", "form_encoded"]},
        "status": {"enum": ["active", "inactive"]},
        # Event types (`zen:event-type:...`), or `conditional_ticket_events`
        # for a webhook connected to a trigger or automation.
        "subscriptions": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {
                "type": "string",
                "pattern": "^(conditional_ticket_events|zen:event-type:[a-z_]+\\.[a-z_.]+)$",
            },
        },
    },
    "allOf": [
        # "To subscribe the webhook to Zendesk events, this must be 'POST'" /
        # "this must be 'json'" (http_method, request_format).
        {
            "if": {
                "required": ["subscriptions"],
                "properties": {
                    "subscriptions": {
                        "contains": {"pattern": "^zen:event-type:"},
                    }
                },
            },
            "then": {
                "properties": {
                    "http_method": {"const": "POST"},
                    "request_format": {"const": "json"},
                }
            },
        },
        # "Creating and monitoring webhooks": a webhook subscribed to Zendesk
        # events can't connect to a trigger or automation, and the reverse.
        {
            "if": {
                "required": ["subscriptions"],
                "properties": {
                    "subscriptions": {
                        "contains": {"const": "conditional_ticket_events"}
                    }
                },
            },
            "then": {"properties": {"subscriptions": {"maxItems": 1}}},
        },
    ],
    "additionalProperties": False,
}
WEBHOOK_REQUEST: Schema = {
    "type": "object",
    "required": ["webhook"],
    "properties": {"webhook": WEBHOOK_WRITE},
    "additionalProperties": False,
}
WEBHOOK_READ: Schema = {
    "type": "object",
    "required": ["id", "name", "endpoint", "subscriptions"],
    "properties": {
        "id": WEBHOOK_ID,
        "name": {"type": "string"},
        "endpoint": {"type": "string"},
        "created_by": {"type": "string"},
        "subscriptions": {"type": "array", "items": {"type": "string"}},
        # Reads never echo credentials (go-zendesk fixtures): no `data`.
        "authentication": {"type": "object", "not": {"required": ["data"]}},
    },
}

# --- triggers -------------------------------------------------------------------------

# OAS TriggerConditionObject {field, operator, value}; `operator` is optional
# (the Conditions reference omits it for update_type and comment_is_public).
# A condition without a field means nothing: required (the harsher reading).
RULE_VALUE: Schema = {
    "oneOf": [
        {"type": "string"},
        {"type": "integer"},
        {"type": "array", "items": {"type": ["string", "integer"]}},
    ]
}
CONDITION: Schema = {
    "type": "object",
    "required": ["field"],
    "properties": {"field": TEXT, "operator": TEXT, "value": RULE_VALUE},
    "additionalProperties": False,
}
CONDITIONS: Schema = {"type": ["array", "null"], "items": CONDITION}
# OAS TriggerActionObject {field, value}; notification_webhook's value is
# [webhook id, body as a JSON string] (zendesk.md §1.2: GitHub-issue-sync and
# other trigger-creation scripts; Prismatic createWebhookTrigger.json).
ACTION: Schema = {
    "type": "object",
    "required": ["field", "value"],
    "properties": {"field": TEXT, "value": RULE_VALUE},
    "if": {"properties": {"field": {"const": "notification_webhook"}}},
    "then": {
        "properties": {
            "value": {
                "type": "array",
                "prefixItems": [WEBHOOK_ID, {"type": "string"}],
                "minItems": 2,
                "maxItems": 2,
            }
        }
    },
    "additionalProperties": False,
}
# OAS TriggerWithCategoryRequest: {"trigger": allOf TriggerObject (writable:
# actions, active, category_id (a string), conditions, description, position,
# raw_title, title; required conditions, actions, title), anyOf TriggerCategory
# (a new `category`: name, position) | TriggerCategoryId}. The Conditions
# reference's bare `all`/`any` stand for `conditions` (one form or the other).
# Whether a trigger without a category is refused is UNCONFIRMED (Pipedream
# #17497), so one of `category_id` / `category` is required.
TRIGGER_WRITE: Schema = {
    "type": "object",
    "required": ["title", "actions"],
    "properties": {
        "actions": {"type": "array", "minItems": 1, "items": ACTION},
        "active": {"type": "boolean"},
        "category_id": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "category": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": TEXT, "position": {"type": "integer"}},
            "additionalProperties": False,
        },
        "conditions": {
            "type": "object",
            "properties": {"all": CONDITIONS, "any": CONDITIONS},
            "additionalProperties": False,
        },
        "all": CONDITIONS,
        "any": CONDITIONS,
        "description": {"type": "string"},
        "position": {"type": "integer"},
        "raw_title": {"type": "string"},
        "title": TEXT,
    },
    "allOf": [
        {
            "anyOf": [
                {"required": ["conditions"]},
                {"required": ["all"]},
                {"required": ["any"]},
            ]
        },
        {
            "not": {
                "anyOf": [
                    {"required": ["conditions", "all"]},
                    {"required": ["conditions", "any"]},
                ]
            }
        },
        {"oneOf": [{"required": ["category_id"]}, {"required": ["category"]}]},
    ],
    "additionalProperties": False,
}
TRIGGER_REQUEST: Schema = {
    "type": "object",
    "required": ["trigger"],
    "properties": {"trigger": TRIGGER_WRITE},
    "additionalProperties": False,
}
TRIGGER_READ: Schema = {
    "type": "object",
    "required": ["id", "title", "conditions", "actions"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "active": {"type": "boolean"},
        "category_id": {"type": ["string", "null"]},
        "conditions": {"type": "object"},
        "actions": {"type": "array"},
    },
}
# OAS CreateTriggerCategory: {"trigger_category": TriggerCategoryRequest
# (name, position) + TriggerCategoryRequestRequired (name)}.
TRIGGER_CATEGORY_REQUEST: Schema = {
    "type": "object",
    "required": ["trigger_category"],
    "properties": {
        "trigger_category": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": TEXT, "position": {"type": "integer"}},
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}
# OAS TriggerCategory: ids are strings.
TRIGGER_CATEGORY_READ: Schema = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
# OAS TriggerDefinitionResponse / TriggerDefinitionObject.
DEFINITION: Schema = {
    "type": "object",
    "required": ["subject"],
    "properties": {
        "subject": {"type": "string"},
        "title": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "object"}},
        "values": {"type": "array", "items": {"type": "object"}},
    },
}

# --- views ------------------------------------------------------------------------------

# OAS CreateView / UpdateView, "View columns": "You can specify a total of 10
# columns"; for custom fields "specify the id of the custom field".
VIEW_OUTPUT: Schema = {
    "type": "object",
    "properties": {
        "columns": {
            "type": "array",
            "maxItems": 10,
            "items": {"oneOf": [TEXT, {"type": "integer", "minimum": 1}]},
        },
        "group_by": TEXT,
        "group_order": {"enum": ["asc", "desc"]},
        "sort_by": TEXT,
        "sort_order": {"enum": ["asc", "desc"]},
    },
    "additionalProperties": False,
}
# CreateView/UpdateView `restriction`: type Group|User, id, ids.
VIEW_RESTRICTION: Schema = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["Group", "User"]},
        "id": {"type": ["integer", "string"]},
        "ids": {"type": "array", "items": {"type": "integer"}},
    },
    "additionalProperties": False,
}
# CreateView: "The request must include at least one condition in the `all`
# array that checks one of the following fields: status, type, group_id,
# assignee_id, or requester_id".
VIEW_ANCHOR: Schema = {
    "contains": {
        "type": "object",
        "required": ["field"],
        "properties": {
            "field": {
                "enum": ["status", "type", "group_id", "assignee_id", "requester_id"]
            }
        },
    }
}
# The JSON Format tables (title, all, any, description, active, output,
# restriction) plus raw_title and position from the example body. Writes are
# flat all/any + output; reads are conditions + execution (ViewObject).
VIEW_PROPERTIES: dict[str, Schema] = {
    "title": TEXT,
    "raw_title": {"type": "string"},
    "description": {"type": "string"},
    "active": {"type": "boolean"},
    "position": {"type": "integer"},
    "restriction": VIEW_RESTRICTION,
    "all": {"type": "array", "minItems": 1, "items": CONDITION, **VIEW_ANCHOR},
    "any": {"type": "array", "items": CONDITION},
    "output": VIEW_OUTPUT,
}
CREATE_VIEW_REQUEST: Schema = {
    "type": "object",
    "required": ["view"],
    "properties": {
        "view": {
            "type": "object",
            "required": ["title", "all"],
            "properties": VIEW_PROPERTIES,
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}
# UpdateView: "All properties are optional"; `any`: "At least one `all`
# condition must be defined with the `any` conditions".
UPDATE_VIEW_REQUEST: Schema = {
    "type": "object",
    "required": ["view"],
    "properties": {
        "view": {
            "type": "object",
            "minProperties": 1,
            "properties": VIEW_PROPERTIES,
            "dependentRequired": {"any": ["all"]},
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}
VIEW_READ: Schema = {
    "type": "object",
    "required": ["id", "title"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "conditions": {"type": "object"},
        "execution": {"type": "object"},
    },
    # Reads are never the write format (ViewObject has no all/output).
    "not": {"anyOf": [{"required": ["all"]}, {"required": ["output"]}]},
}


# --- macros ---------------------------------------------------------------------------

# OAS MacroInput (CreateMacro, UpdateMacro): required title and actions; each
# action an ActionObject {field, value} ("See Actions reference"); active,
# description (nullable), restriction {type Group|User, id, ids}.
MACRO_ACTION: Schema = {
    "type": "object",
    "required": ["field", "value"],
    "properties": {"field": TEXT, "value": {}},
    "additionalProperties": False,
}
MACRO_INPUT: Schema = {
    "type": "object",
    "required": ["title", "actions"],
    "properties": {
        "title": TEXT,
        "actions": {"type": "array", "minItems": 1, "items": MACRO_ACTION},
        "active": {"type": "boolean"},
        "description": {"type": ["string", "null"]},
        "restriction": VIEW_RESTRICTION,
    },
    "additionalProperties": False,
}
MACRO_REQUEST: Schema = {
    "type": "object",
    "required": ["macro"],
    "properties": {"macro": MACRO_INPUT},
    "additionalProperties": False,
}
# OAS MacroObject (MacroCommonObject: required actions, title).
MACRO_READ: Schema = {
    "type": "object",
    "required": ["id", "title", "actions"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "actions": {"type": "array", "items": {"type": "object"}},
        "active": {"type": "boolean"},
    },
}


def _one(key: str, item: Schema) -> Schema:
    return {"type": "object", "required": [key], "properties": {key: item}}


ADMIN_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "ListMacros",
        "GET",
        "/api/v2/macros",
        source="OAS ListMacros (include, access, active, category, group_id, "
        "only_viewable, sort_by, sort_order; cursor or offset pagination); "
        "response MacrosResponse",
        query=query(
            {
                "include": TEXT,
                "access": {"enum": ["personal", "agents", "shared", "account"]},
                "active": {"enum": ["true", "false"]},
                "category": ID_STRING,
                "group_id": ID_STRING,
                "only_viewable": {"enum": ["true", "false"]},
                "sort_by": {
                    "enum": [
                        "alphabetical",
                        "created_at",
                        "updated_at",
                        "usage_1h",
                        "usage_24h",
                        "usage_7d",
                        "usage_30d",
                    ]
                },
                "sort_order": {"enum": ["asc", "desc"]},
                **PAGINATION,
            }
        ),
        response=listing("macros", MACRO_READ),
    ),
    Operation(
        "CreateMacro",
        "POST",
        "/api/v2/macros",
        source="OAS CreateMacro (MacroInput: title and actions required; 200); "
        "response {macro: MacroObject}",
        body=MACRO_REQUEST,
        response=_one("macro", MACRO_READ),
    ),
    Operation(
        "UpdateMacro",
        "PUT",
        "/api/v2/macros/{macro_id}",
        source="OAS UpdateMacro (MacroInput: title and actions required); "
        "response {macro: MacroObject}",
        path_params={"macro_id": ID_STRING},
        body=MACRO_REQUEST,
        response=_one("macro", MACRO_READ),
    ),
    Operation(
        "CreateTicketField",
        "POST",
        "/api/v2/ticket_fields",
        source="OAS CreateTicketField (201, no requestBody schema: the body is "
        "TicketFieldObject's writable properties, custom_field_options "
        "CustomFieldOptionObject); response TicketFieldResponse",
        body=CREATE_TICKET_FIELD_REQUEST,
        status=201,
        response=_one("ticket_field", {"type": "object", "required": ["id", "type"]}),
        oas_gap="no requestBody schema: TicketFieldObject minus readOnly properties",
    ),
    Operation(
        "UpdateTicketField",
        "PUT",
        "/api/v2/ticket_fields/{ticket_field_id}",
        source="OAS UpdateTicketField (200; 'Unless you want to remove some "
        "options, you must specify all existing options': so setup never sends "
        "them); response TicketFieldResponse",
        path_params={"ticket_field_id": ID_STRING},
        body=UPDATE_TICKET_FIELD_REQUEST,
        response=_one("ticket_field", {"type": "object", "required": ["id", "type"]}),
        oas_gap="no requestBody schema: TicketFieldObject's writable properties",
    ),
    Operation(
        "ListTicketForms",
        "GET",
        "/api/v2/ticket_forms",
        source="OAS ListTicketForms (active, end_user_visible, fallback_to_default, "
        "associated_to_brand; no pagination); response TicketFormsResponse",
        query=query(
            {
                key: {"enum": ["true", "false"]}
                for key in (
                    "active",
                    "end_user_visible",
                    "fallback_to_default",
                    "associated_to_brand",
                )
            }
        ),
        response=_one("ticket_forms", {"type": "array", "items": TICKET_FORM_READ}),
    ),
    Operation(
        "UpdateTicketForm",
        "PUT",
        "/api/v2/ticket_forms/{ticket_form_id}",
        source="OAS UpdateTicketForm (200, no requestBody schema: TicketFormObject's "
        "writable properties); response TicketFormResponse",
        path_params={"ticket_form_id": ID_STRING},
        body={
            "type": "object",
            "required": ["ticket_form"],
            "properties": {"ticket_form": TICKET_FORM_UPDATE},
            "additionalProperties": False,
        },
        response=_one("ticket_form", TICKET_FORM_READ),
        oas_gap="no requestBody schema; whether `name` is required on update",
    ),
    Operation(
        "CreateOrganizationField",
        "POST",
        "/api/v2/organization_fields",
        source="OAS CreateOrganizationField (201, no requestBody schema: the body "
        "is CustomFieldObject's writable properties); response "
        "OrganizationFieldResponse",
        body=CREATE_ORGANIZATION_FIELD_REQUEST,
        status=201,
        response=_one(
            "organization_field", {"type": "object", "required": ["id", "key"]}
        ),
        oas_gap="no requestBody schema: CustomFieldObject minus readOnly properties",
    ),
    Operation(
        "ListWebhooks",
        "GET",
        "/api/v2/webhooks",
        source="Webhooks API page, List Webhooks (not in the OAS); cursor "
        "pagination as go-zendesk ListWebhooks reads it (meta, links)",
        query=query(CURSOR_PAGINATION),
        response=listing("webhooks", WEBHOOK_READ),
        oas_gap="the whole endpoint; filter/sort parameters are not sent and "
        "not listed here",
    ),
    Operation(
        "CreateWebhook",
        "POST",
        "/api/v2/webhooks",
        source="Webhooks API page, Create or Clone Webhook and 'JSON format' "
        "(not in the OAS); 201 as go-zendesk's tests (UNCONFIRMED, zendesk-more §7)",
        body=WEBHOOK_REQUEST,
        status=201,
        response=_one("webhook", WEBHOOK_READ),
        oas_gap="the whole endpoint",
    ),
    Operation(
        "UpdateWebhook",
        "PUT",
        "/api/v2/webhooks/{webhook_id}",
        source="Webhooks API page, Update Webhook (not in the OAS): the same "
        "mandatory properties; 204 No Content (go-zendesk webhook_test.go)",
        path_params={"webhook_id": WEBHOOK_ID},
        body=WEBHOOK_REQUEST,
        status=204,
        oas_gap="the whole endpoint",
    ),
    Operation(
        "ShowWebhookSigningSecret",
        "GET",
        "/api/v2/webhooks/{webhook_id}/signing_secret",
        source="Webhooks API page, Show Webhook Signing Secret (not in the OAS); "
        "body {signing_secret: {algorithm, secret}} (zenpy webhook_secret.json, "
        "go-zendesk WebhookSigningSecret)",
        path_params={"webhook_id": WEBHOOK_ID},
        response=_one(
            "signing_secret",
            {
                "type": "object",
                "required": ["secret"],
                "properties": {
                    "algorithm": {"type": "string"},
                    "secret": TEXT,
                },
            },
        ),
        oas_gap="the whole endpoint",
    ),
    Operation(
        "ListTriggerCategories",
        "GET",
        "/api/v2/trigger_categories",
        source="OAS ListTriggerCategories (page[after|before|size], sort, "
        "include=rule_counts); response TriggerCategoriesResponse + Pagination",
        query=query(
            {
                **CURSOR_PAGINATION,
                "sort": {
                    "enum": [
                        f"{sign}{key}"
                        for key in ("position", "name", "created_at", "updated_at")
                        for sign in ("", "-")
                    ]
                },
                "include": {"const": "rule_counts"},
            }
        ),
        response=listing("trigger_categories", TRIGGER_CATEGORY_READ),
    ),
    Operation(
        "CreateTriggerCategory",
        "POST",
        "/api/v2/trigger_categories",
        source="OAS CreateTriggerCategory (TriggerCategoryRequest + "
        "TriggerCategoryRequestRequired; 200); response TriggerCategoryResponse",
        body=TRIGGER_CATEGORY_REQUEST,
        response=_one("trigger_category", TRIGGER_CATEGORY_READ),
    ),
    Operation(
        "ListTriggerActionConditionDefinitions",
        "GET",
        "/api/v2/triggers/definitions",
        source="OAS ListTriggerActionConditionDefinitions; response "
        "TriggerDefinitionResponse",
        response=_one(
            "definitions",
            {
                "type": "object",
                "properties": {
                    "actions": {"type": "array", "items": {"type": "object"}},
                    "conditions_all": {"type": "array", "items": DEFINITION},
                    "conditions_any": {"type": "array", "items": DEFINITION},
                },
            },
        ),
    ),
    Operation(
        "ListTriggers",
        "GET",
        "/api/v2/triggers",
        source="OAS ListTriggers (TriggerActive, TriggerSort, TriggerSortBy, "
        "TriggerSortOrder, TriggerCategoryId; cursor or offset pagination, "
        "sideloads); response TriggersResponse",
        query=query(
            {
                "active": {"enum": ["true", "false"]},
                "sort": {
                    "enum": ["alphabetical", "created_at", "updated_at", "position"]
                },
                "sort_by": {
                    "enum": [
                        "alphabetical",
                        "created_at",
                        "updated_at",
                        "usage_1h",
                        "usage_24h",
                        "usage_7d",
                        "position",
                    ]
                },
                "sort_order": {"enum": ["asc", "desc"]},
                "category_id": ID_STRING,
                "include": TEXT,
                **PAGINATION,
            }
        ),
        response=listing("triggers", TRIGGER_READ),
        oas_gap="pagination parameters: Pagination page (named in the description)",
    ),
    Operation(
        "CreateTrigger",
        "POST",
        "/api/v2/triggers",
        source="OAS CreateTrigger (TriggerWithCategoryRequest: TriggerObject + "
        "category; 201); Conditions reference (bare all/any); response "
        "TriggerResponse",
        body=TRIGGER_REQUEST,
        status=201,
        response=_one("trigger", TRIGGER_READ),
    ),
    Operation(
        "UpdateTrigger",
        "PUT",
        "/api/v2/triggers/{trigger_id}",
        source="OAS UpdateTrigger (TriggerWithCategoryRequest; 'Include all your "
        "conditions and actions when updating any condition or action'); "
        "response TriggerResponse",
        path_params={"trigger_id": ID_STRING},
        body=TRIGGER_REQUEST,
        response=_one("trigger", TRIGGER_READ),
    ),
    Operation(
        "ListViews",
        "GET",
        "/api/v2/views",
        source="OAS ListViews (access, active, group_id, sort_by, sort_order; "
        "cursor or offset pagination, sideloads); response ViewsResponse",
        query=query(
            {
                "access": {"enum": ["personal", "shared", "account"]},
                "active": {"enum": ["true", "false"]},
                "group_id": ID_STRING,
                "sort_by": {"enum": ["alphabetical", "created_at", "updated_at"]},
                "sort_order": {"enum": ["asc", "desc"]},
                "include": TEXT,
                **PAGINATION,
            }
        ),
        response=listing("views", VIEW_READ),
        oas_gap="pagination parameters: Pagination page (named in the description)",
    ),
    Operation(
        "CreateView",
        "POST",
        "/api/v2/views",
        source="OAS CreateView (its JSON Format table and example; 200); "
        "response ViewResponse",
        body=CREATE_VIEW_REQUEST,
        response=_one("view", VIEW_READ),
    ),
    Operation(
        "UpdateView",
        "PUT",
        "/api/v2/views/{view_id}",
        source="OAS UpdateView (its JSON Format table; all properties optional); "
        "response ViewResponse",
        path_params={"view_id": ID_STRING},
        body=UPDATE_VIEW_REQUEST,
        response=_one("view", VIEW_READ),
    ),
)
