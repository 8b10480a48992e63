"""Zendesk's published request contract, as schema fragments for the contract tests.

Each operation below is copied by hand from Zendesk's Support API OpenAPI
document ("OAS": operationId, path item, request and response schema names are
given in ``source``) or, where that document lacks a real endpoint or key, from
the developer.zendesk.com page that documents it (``oas_gap`` says what was
missing and where the rule came from instead). The project keeps its own copy:
nothing here is read from outside the repository.

Request bodies are closed (``additionalProperties: false`` at every level we
write), so a property Zendesk does not document for that endpoint fails the
test, e.g. ``additional_tags`` on a single-ticket update, which Zendesk ignores
there ("Adding tags to tickets without overwriting existing tags": those two
properties only work on ``PUT /api/v2/tickets/update_many``).

Query strings are checked as objects of strings (the wire form) against the
parameters the OAS path item documents, plus the generic parameters documented
once for many endpoints (pagination, side-loading), each cited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

# --- wire-level pieces ------------------------------------------------------

# Path and query values arrive as strings; an OAS `integer` id is a positive
# decimal number on the wire.
ID_STRING: Schema = {"type": "string", "pattern": "^[1-9][0-9]*$"}
TEXT: Schema = {"type": "string", "minLength": 1}

# OAS `updated_stamp` is `format: date-time`; jsonschema does not check formats
# without extra packages, so the ISO 8601 shape Zendesk sends (`updated_at`) is
# spelled out. The product sends back `updated_at` verbatim.
DATE_TIME: Schema = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$",
}

# "Pagination" (developer.zendesk.com/api-reference/introduction/pagination/):
# cursor pagination starts with `page[size]` (at most 100 on most endpoints),
# goes on with `page[after]` / `page[before]`; offset pagination uses `page` and
# `per_page` (at most 100). The OAS leaves these out of most path items.
CURSOR_PAGINATION: dict[str, Schema] = {
    "page[size]": {"type": "string", "pattern": "^(100|[1-9][0-9]?)$"},
    "page[after]": TEXT,
    "page[before]": TEXT,
}
OFFSET_PAGINATION: dict[str, Schema] = {
    "page": ID_STRING,
    "per_page": {"type": "string", "pattern": "^(100|[1-9][0-9]?)$"},
}
PAGINATION: dict[str, Schema] = {**CURSOR_PAGINATION, **OFFSET_PAGINATION}

# "Side-Loading" (developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/):
# `include=a,b` on the endpoints that list it. Ticket sideloads per its
# "Supported endpoints" table; unknown values are ignored by Zendesk, but the
# product should not rely on that, so only documented names pass.
TICKET_SIDELOADS = (
    "users|groups|organizations|last_audits|metric_sets|dates|sharing_agreements"
    "|comment_count|incident_counts|ticket_forms|metric_events|slas|custom_statuses"
)
TICKET_INCLUDE: Schema = {
    "type": "string",
    "pattern": f"^({TICKET_SIDELOADS})(,({TICKET_SIDELOADS}))*$",
}


# Tickets page, List Tickets (which documents /api/v2/tickets and
# /api/v2/organizations/{organization_id}/tickets alike): cursor sort
# `sort=[-]updated_at|id|status`, offset sort `sort_by` + `sort_order`,
# ticket sideloads, both pagination styles.
TICKET_LIST_PARAMS: dict[str, Schema] = {
    "include": TICKET_INCLUDE,
    "sort": {"type": "string", "pattern": "^-?(updated_at|id|status)$"},
    "sort_by": {
        "enum": [
            "assignee",
            "assignee.name",
            "created_at",
            "group",
            "id",
            "requester",
            "requester.name",
            "status",
            "subject",
            "updated_at",
        ]
    },
    "sort_order": {"enum": ["asc", "desc"]},
    **PAGINATION,
}


def query(params: Mapping[str, Schema], *, required: tuple[str, ...] = ()) -> Schema:
    """A closed query-string schema: only these parameters, each once."""
    return {
        "type": "object",
        "properties": dict(params),
        "required": list(required),
        "additionalProperties": False,
    }


NO_QUERY = query({})


# --- response fragments (only the keys the client reads) -----------------
# Responses stay open (Zendesk adds keys freely); these check that the answers
# the contract tests feed the client are shaped as Zendesk documents them.

# OAS `TicketObject`: `id`, `created_at`, `updated_at` read-only, always present;
# `custom_fields` items `{id, value}`; `tags` strings. `status` gains "deleted"
# only in the incremental export (Incremental Exports page: deleted tickets are
# included by default; ZendeskApiClient PR #135 adds the "deleted" value).
TICKET: Schema = {
    "type": "object",
    "required": ["id", "status", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "status": {
            "enum": ["new", "open", "pending", "hold", "solved", "closed", "deleted"]
        },
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "organization_id": {"type": ["integer", "null"]},
        "requester_id": {"type": ["integer", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "custom_fields": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer"}},
            },
        },
        "follower_ids": {"type": "array", "items": {"type": "integer"}},
    },
}
# OAS `OrganizationObject` (`name` required; `external_id` a nullable string,
# case-insensitive; `organization_fields` keyed by field key).
ORGANIZATION: Schema = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "external_id": {"type": ["string", "null"]},
        "organization_fields": {"type": ["object", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
# Cursor pagination response ("Pagination" page): `meta.has_more`,
# `meta.after_cursor`, `meta.before_cursor`, `links.next`, `links.prev`.
# OAS gap: `TicketsResponse`, `OrganizationsResponse` have no `meta`/`links`.
CURSOR_PAGE: dict[str, Schema] = {
    "meta": {
        "type": "object",
        "required": ["has_more"],
        "properties": {
            "has_more": {"type": "boolean"},
            "after_cursor": {"type": ["string", "null"]},
            "before_cursor": {"type": ["string", "null"]},
        },
    },
    "links": {
        "type": "object",
        "properties": {
            "next": {"type": ["string", "null"]},
            "prev": {"type": ["string", "null"]},
        },
    },
}
# Offset pagination response keys (OAS `OrganizationsResponse`, `SearchResponse`...).
OFFSET_PAGE: dict[str, Schema] = {
    "next_page": {"type": ["string", "null"]},
    "previous_page": {"type": ["string", "null"]},
    "count": {"type": "integer"},
}


def listing(key: str, item: Schema, *, cursor: bool = True) -> Schema:
    """A list response: ``key`` holds the items, plus the pagination keys."""
    return {
        "type": "object",
        "required": [key],
        "properties": {
            key: {"type": "array", "items": item},
            **OFFSET_PAGE,
            **(CURSOR_PAGE if cursor else {}),
        },
    }


# --- request bodies -----------------------------------------------------------

# OAS `FollowerObject` (`followers` items) and `EmailCCObject` (allOf
# FollowerObject + `user_name`). The OAS types `user_id` as a string; user ids
# are integers everywhere else in the OAS (`UserObject.id`, `TicketObject.
# follower_ids`) and in the "Setting followers" examples, so both spellings of a
# positive id pass.
USER_ID: Schema = {
    "oneOf": [
        {"type": "integer", "minimum": 1},
        {"type": "string", "pattern": "^[1-9][0-9]*$"},
    ]
}
FOLLOWER: Schema = {
    "type": "object",
    "properties": {
        "action": {"enum": ["put", "delete"]},
        "user_email": {"type": "string"},
        "user_id": USER_ID,
    },
    "anyOf": [{"required": ["user_id"]}, {"required": ["user_email"]}],
    "additionalProperties": False,
}
EMAIL_CC: Schema = {
    **FOLLOWER,
    "properties": {**FOLLOWER["properties"], "user_name": {"type": "string"}},
}

# OAS `TicketCommentObject`, writable properties only (the rest are readOnly:
# id, type, audit_id, created_at, plain_body, metadata, via, attachments).
COMMENT: Schema = {
    "type": "object",
    "properties": {
        "author_id": {"type": "integer", "minimum": 1},
        "body": {"type": "string", "minLength": 1},
        "html_body": {"type": "string", "minLength": 1},
        "public": {"type": "boolean"},
        "uploads": {"type": "array", "items": {"type": "string"}},
    },
    "anyOf": [{"required": ["body"]}, {"required": ["html_body"]}],
    "additionalProperties": False,
}

# A custom field VALUE as written on a ticket. The OAS gets this one wrong:
# `TicketUpdateInput.custom_fields.items` points at `CustomFieldObject`, the
# field DEFINITION (required key/type/title). The value shape is OAS
# `TicketObject.custom_fields.items` ({id, value}) and the "Setting custom field
# values" section of "Creating and updating tickets"; value types per field type
# (OAS `CreateTicketField`): text/date/tagger a string, multiselect an array of
# option tags, checkbox a boolean, integer/decimal a number; null clears a field.
CUSTOM_FIELD_VALUE: Schema = {
    "type": "object",
    "required": ["id", "value"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "value": {
            "type": ["string", "number", "boolean", "array", "null"],
            "items": {"type": "string"},
        },
    },
    "additionalProperties": False,
}

# OAS `TicketUpdateRequest` = {"ticket": TicketUpdateInput}. Every property of
# `TicketUpdateInput` (OAS 3.0.3 copy, 24 properties) and nothing else: there is
# no `additional_tags`, `remove_tags`, `id`, `url` or `updated_at` here.
TICKET_UPDATE_INPUT: Schema = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "additional_collaborators": {
            "type": "array",
            # "Setting Collaborators": numeric ids, emails, or {name, email}.
            "items": {
                "oneOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string"},
                    {
                        "type": "object",
                        "properties": {
                            "email": {"type": "string"},
                            "name": {"type": "string"},
                        },
                        "additionalProperties": False,
                    },
                ]
            },
        },
        "assignee_email": {"type": "string"},
        "assignee_id": {"type": "integer"},
        "attribute_value_ids": {"type": "array", "items": {"type": "integer"}},
        "collaborator_ids": {"type": "array", "items": {"type": "integer"}},
        "comment": COMMENT,
        "custom_fields": {"type": "array", "items": CUSTOM_FIELD_VALUE},
        "custom_status_id": {"type": "integer"},
        "due_at": {"oneOf": [DATE_TIME, {"type": "null"}]},
        "email_ccs": {"type": "array", "items": EMAIL_CC},
        "external_id": {"type": "string"},
        "followers": {"type": "array", "items": FOLLOWER},
        "group_id": {"type": "integer"},
        "organization_id": {"type": "integer"},
        "priority": {"enum": ["urgent", "high", "normal", "low"]},
        "problem_id": {"type": "integer"},
        "requester_id": {"type": "integer"},
        "safe_update": {"type": "boolean"},
        "sharing_agreement_ids": {"type": "array", "items": {"type": "integer"}},
        "status": {"enum": ["new", "open", "pending", "hold", "solved", "closed"]},
        "subject": {"type": "string"},
        # "The array of tags applied to this ticket": a single-ticket update
        # REPLACES the ticket's tags with this list.
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "type": {"enum": ["problem", "incident", "question", "task"]},
        "updated_stamp": DATE_TIME,
    },
    # OAS `safe_update`: "Prevents updates with outdated ticket data
    # (`updated_stamp` property required when true)".
    "if": {"required": ["safe_update"], "properties": {"safe_update": {"const": True}}},
    "then": {"required": ["updated_stamp"]},
    "additionalProperties": False,
}
TICKET_UPDATE_REQUEST: Schema = {
    "type": "object",
    "required": ["ticket"],
    "properties": {"ticket": TICKET_UPDATE_INPUT},
    "additionalProperties": False,
}

# OAS `TicketCreateRequest` = {"ticket": TicketCreateInput}: the update
# properties plus the create-only ones (`via` is readOnly there and left out),
# `comment` required. OAS gap: `requester` (a new or existing requester by
# email) is documented on the Tickets page ("Creating a ticket with a new
# requester": name, email, locale_id; an existing user with that email is used
# and not updated) but missing from TicketCreateInput.
TICKET_CREATE_INPUT: Schema = {
    **{k: v for k, v in TICKET_UPDATE_INPUT.items() if k != "minProperties"},
    "required": ["comment"],
    "properties": {
        **TICKET_UPDATE_INPUT["properties"],
        "brand_id": {"type": "integer"},
        "collaborators": TICKET_UPDATE_INPUT["properties"]["additional_collaborators"],
        "email_cc_ids": {"type": "array", "items": {"type": "integer"}},
        "follower_ids": {"type": "array", "items": {"type": "integer"}},
        "macro_ids": {"type": "array", "items": {"type": "integer"}},
        "raw_subject": {"type": "string"},
        "recipient": {"type": "string"},
        "submitter_id": {"type": "integer"},
        "ticket_form_id": {"type": "integer"},
        "via_followup_source_id": {"type": "integer"},
        "requester": {
            "type": "object",
            "required": ["email"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                "locale_id": {"type": "integer"},
            },
            "additionalProperties": False,
        },
    },
}
TICKET_CREATE_REQUEST: Schema = {
    "type": "object",
    "required": ["ticket"],
    "properties": {"ticket": TICKET_CREATE_INPUT},
    "additionalProperties": False,
}

# Organization field keys: OAS `CustomFieldObject.key` "must consist of only
# letters, numbers, and underscores. It can't be only numbers".
FIELD_KEY: Schema = {"type": "string", "pattern": "^(?![0-9]+$)[A-Za-z0-9_]+$"}

# UpdateOrganization has no requestBody in the OAS; the Organizations page's
# example is {"organization": {"notes": ...}}, and the writable properties are
# those of OAS `OrganizationObject` that are not readOnly (`name` is required
# on create only). `organization_fields` values: the OAS allows string or
# number; a checkbox field (a type the Organization Fields page lists) holds a
# boolean, and null clears a field (the OAS's own list example shows
# `organization_fields: null`), so both are accepted too.
ORGANIZATION_UPDATE_REQUEST: Schema = {
    "type": "object",
    "required": ["organization"],
    "properties": {
        "organization": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "details": {"type": ["string", "null"]},
                "domain_names": {"type": "array", "items": {"type": "string"}},
                "external_id": {"type": ["string", "null"]},
                "group_id": {"type": ["integer", "null"]},
                "name": {"type": "string", "minLength": 1},
                "notes": {"type": ["string", "null"]},
                "organization_fields": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": FIELD_KEY,
                    "additionalProperties": {
                        "type": ["string", "number", "boolean", "null"]
                    },
                },
                "shared_comments": {"type": "boolean"},
                "shared_tickets": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}


# --- operations ---------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One documented method + path, with what a request to it may carry."""

    name: str  # the OAS operationId, or ours for an endpoint the OAS lacks
    method: str
    path: str  # the OAS path template (without the optional `.json` suffix)
    source: str
    path_params: Mapping[str, Schema] = field(default_factory=dict)
    query: Schema = field(default_factory=lambda: NO_QUERY)
    body: Schema | None = None  # None: the request must not have a body
    response: Schema | None = None  # what a success carries (the keys we read)
    status: int = 200  # the documented success status
    oas_gap: str = ""  # what the OAS lacks, and where the fragment came from
    # A multipart/form-data body with these fields instead of JSON (an upload).
    form: tuple[str, ...] = ()


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "ShowCurrentUser",
        "GET",
        "/api/v2/users/me",
        source="OAS ShowCurrentUser; response CurrentUserResponse",
        response={
            "type": "object",
            "required": ["user"],
            "properties": {"user": {"type": "object"}},
        },
    ),
    Operation(
        "ShowTicket",
        "GET",
        "/api/v2/tickets/{ticket_id}",
        source="OAS ShowTicket (parameter TicketId); response TicketResponse",
        path_params={"ticket_id": ID_STRING},
        query=query({"include": TICKET_INCLUDE}),
        response={
            "type": "object",
            "required": ["ticket"],
            "properties": {"ticket": TICKET},
        },
        oas_gap="`include` is not in the OAS path item: Side-Loading page "
        "(`tickets/1.json?include=users,groups`)",
    ),
    Operation(
        "UpdateTicket",
        "PUT",
        "/api/v2/tickets/{ticket_id}",
        source="OAS UpdateTicket; body TicketUpdateRequest/TicketUpdateInput; "
        "response TicketUpdateResponse",
        path_params={"ticket_id": ID_STRING},
        body=TICKET_UPDATE_REQUEST,
        response={
            "type": "object",
            "required": ["ticket"],
            "properties": {"ticket": TICKET, "audit": {"type": "object"}},
        },
        oas_gap="custom_fields items: OAS points at CustomFieldObject (a field "
        "definition); the value shape {id, value} is TicketObject.custom_fields and "
        "'Setting custom field values'",
    ),
    Operation(
        "CreateTicket",
        "POST",
        "/api/v2/tickets",
        source="OAS CreateTicket (201 + Location); body TicketCreateRequest/"
        "TicketCreateInput; response TicketResponse",
        body=TICKET_CREATE_REQUEST,
        status=201,
        response={
            "type": "object",
            "required": ["ticket"],
            "properties": {"ticket": TICKET},
        },
        oas_gap="`requester` {name, email, locale_id}: Tickets page, 'Creating a "
        "ticket with a new requester'",
    ),
    Operation(
        "SearchUsers",
        "GET",
        "/api/v2/users/search",
        source="OAS SearchUsers (query, external_id); response UsersResponse",
        query={**query({"query": TEXT, "external_id": TEXT}), "minProperties": 1},
        response={
            "type": "object",
            "required": ["users"],
            "properties": {
                "users": {
                    "type": "array",
                    "items": {"type": "object", "required": ["id"]},
                }
            },
        },
    ),
    Operation(
        "ListTicketComments",
        "GET",
        "/api/v2/tickets/{ticket_id}/comments",
        source="OAS ListTicketComments (include: 'Accepts \"users\"', "
        'include_inline_images; "Sorting": cursor `sort` created_at or '
        "-created_at, offset `sort_order` asc or desc); response TicketCommentsResponse",
        path_params={"ticket_id": ID_STRING},
        query=query(
            {
                "include": {"const": "users"},
                "include_inline_images": {"enum": ["true", "false"]},
                "sort": {"enum": ["created_at", "-created_at"]},
                "sort_order": {"enum": ["asc", "desc"]},
                **PAGINATION,
            }
        ),
        response=listing(
            "comments",
            {
                "type": "object",
                "required": ["id", "author_id", "created_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "author_id": {"type": "integer"},
                    "public": {"type": "boolean"},
                    "created_at": DATE_TIME,
                },
            },
        ),
        oas_gap="pagination parameters and `meta`/`links`: Pagination page",
    ),
    Operation(
        "ListAuditsForTicket",
        "GET",
        "/api/v2/tickets/{ticket_id}/audits",
        source="OAS ListAuditsForTicket (agents; cursor or offset pagination, at "
        "most 100 a page); response TicketAuditsResponseNoneCursor, items "
        "TicketAuditObject (author_id, created_at, events, id, ticket_id)",
        path_params={"ticket_id": ID_STRING},
        query=query(dict(PAGINATION)),
        response=listing(
            "audits",
            {
                "type": "object",
                "required": ["id", "created_at", "events"],
                "properties": {
                    "id": {"type": "integer"},
                    "ticket_id": {"type": "integer"},
                    "author_id": {"type": "integer"},
                    "created_at": DATE_TIME,
                    "events": {"type": "array", "items": {"type": "object"}},
                },
            },
        ),
    ),
    Operation(
        "ShowOrganization",
        "GET",
        "/api/v2/organizations/{organization_id}",
        source="OAS ShowOrganization (parameter OrganizationId); response "
        "OrganizationResponse",
        path_params={"organization_id": ID_STRING},
        response={
            "type": "object",
            "required": ["organization"],
            "properties": {"organization": ORGANIZATION},
        },
    ),
    Operation(
        "UpdateOrganization",
        "PUT",
        "/api/v2/organizations/{organization_id}",
        source="OAS UpdateOrganization (no requestBody in the OAS: body from the "
        "Organizations page example + OrganizationObject writable properties); "
        "response OrganizationResponse",
        path_params={"organization_id": ID_STRING},
        body=ORGANIZATION_UPDATE_REQUEST,
        response={
            "type": "object",
            "required": ["organization"],
            "properties": {"organization": ORGANIZATION},
        },
        oas_gap="no requestBody schema; organization_fields values widened to "
        "boolean (checkbox fields) and null (clear)",
    ),
    Operation(
        "ListOrganizations",
        "GET",
        "/api/v2/organizations",
        source="OAS ListOrganizations; response OrganizationsResponse",
        query=query(PAGINATION),
        response=listing("organizations", ORGANIZATION),
        oas_gap="pagination parameters and `meta`/`links`: Pagination page",
    ),
    Operation(
        "SearchOrganizations",
        "GET",
        "/api/v2/organizations/search",
        source="OAS SearchOrganizations (parameters OrganizationExternalId, "
        "OrganizationName); response OrganizationsResponse",
        # The OAS types OrganizationExternalId as integer, yet
        # OrganizationObject.external_id is a (case-insensitive) string: any
        # non-empty string passes. One criterion per search (the page: "by an
        # organization's external_id or name").
        query={
            **query({"external_id": TEXT, "name": TEXT}),
            "minProperties": 1,
            "maxProperties": 1,
        },
        response=listing("organizations", ORGANIZATION, cursor=False),
    ),
    Operation(
        "ListOrganizationFields",
        "GET",
        "/api/v2/organization_fields",
        source="OAS ListOrganizationFields; response OrganizationFieldsResponse",
        query=query(PAGINATION),
        response=listing("organization_fields", {"type": "object"}),
        oas_gap="pagination parameters: Pagination page",
    ),
    Operation(
        "ListTicketFields",
        "GET",
        "/api/v2/ticket_fields",
        source="OAS ListTicketFields (locale, creator); response TicketFieldsResponse",
        query=query(
            {"locale": TEXT, "creator": {"enum": ["true", "false"]}, **PAGINATION}
        ),
        response=listing("ticket_fields", {"type": "object"}),
        oas_gap="pagination parameters: Pagination page",
    ),
    Operation(
        "ListTickets",
        "GET",
        "/api/v2/tickets",
        source="OAS ListTickets (external_id); response TicketsResponse",
        query=query({"external_id": TEXT, **TICKET_LIST_PARAMS}),
        response=listing("tickets", TICKET),
        oas_gap="pagination, sort and include parameters, `meta`/`links` in the "
        "response: Tickets page (List Tickets) and Pagination page",
    ),
    Operation(
        "ListOrganizationTickets",
        "GET",
        "/api/v2/organizations/{organization_id}/tickets",
        source="developer.zendesk.com Tickets page, List Tickets: "
        "GET /api/v2/organizations/{organization_id}/tickets (cursor pagination, "
        "at most 100 per page, archived tickets not listed)",
        path_params={"organization_id": ID_STRING},
        query=query(TICKET_LIST_PARAMS),
        response=listing("tickets", TICKET),
        oas_gap="the whole endpoint: the OAS has only /api/v2/tickets (ListTickets)",
    ),
    Operation(
        "ListSearchResults",
        "GET",
        "/api/v2/search",
        source="OAS ListSearchResults (query required, sort_by, sort_order); "
        "response SearchResponse",
        query=query(
            {
                "query": TEXT,
                "sort_by": {
                    "enum": [
                        "updated_at",
                        "created_at",
                        "priority",
                        "status",
                        "ticket_type",
                    ]
                },
                "sort_order": {"enum": ["asc", "desc"]},
                "include": TEXT,
                # Search page: offset pagination only, at most 100 per page and
                # 1,000 results per query (page 11 at 100 per page is a 422).
                "page": {"pattern": "^([1-9]|10)$"},
                "per_page": OFFSET_PAGINATION["per_page"],
            },
            required=("query",),
        ),
        response=listing(
            "results", {"type": "object", "required": ["id"]}, cursor=False
        ),
    ),
    Operation(
        "CountSearchResults",
        "GET",
        "/api/v2/search/count",
        source="OAS CountSearchResults (query required); response SearchCountResponse",
        query=query({"query": TEXT}, required=("query",)),
        response={
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer", "minimum": 0}},
        },
    ),
    Operation(
        "IncrementalTicketExportCursor",
        "GET",
        "/api/v2/incremental/tickets/cursor",
        source="OAS IncrementalTicketExportCursor (IncrementalUnixTime, "
        "IncrementalCursor); response CursorBasedExportIncrementalTicketsResponse",
        # The OAS marks start_time required, but the Incremental Exports page
        # says later pages and polls send only `cursor` ("start_time only
        # once"): exactly one of the two. per_page <= 1000, include (ticket
        # sideloads except last_audits), exclude_deleted, support_type_scope.
        query={
            **query(
                {
                    "start_time": {"type": "string", "pattern": "^[0-9]+$"},
                    "cursor": TEXT,
                    "per_page": {
                        "type": "string",
                        "pattern": "^(1000|[1-9][0-9]{0,2})$",
                    },
                    "include": TICKET_INCLUDE,
                    "exclude_deleted": {"enum": ["true", "false"]},
                    "support_type_scope": {"enum": ["all", "agent", "ai_agent"]},
                }
            ),
            "oneOf": [{"required": ["start_time"]}, {"required": ["cursor"]}],
        },
        response={
            "type": "object",
            "required": ["tickets", "end_of_stream"],
            "properties": {
                "tickets": {"type": "array", "items": TICKET},
                "after_cursor": {"type": ["string", "null"]},
                "after_url": {"type": ["string", "null"]},
                "before_cursor": {"type": ["string", "null"]},
                "before_url": {"type": ["string", "null"]},
                "end_of_stream": {"type": "boolean"},
            },
        },
        oas_gap="cursor-only follow-up calls, per_page, exclude_deleted, "
        "support_type_scope: Incremental Exports page",
    ),
)
