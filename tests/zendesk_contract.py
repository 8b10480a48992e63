"""Zendesk's published contract, as the fake Zendesk enforces it.

Each constant and rule names where it comes from: an OpenAPI schema name from
Zendesk's Support API OpenAPI document ("OAS ..."), or the title of a
developer.zendesk.com / support.zendesk.com page. docs/decisions.md ("Strict
test doubles") lists the same rules with their sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# OAS `TicketUpdateInput`: every property a single-ticket `PUT /api/v2/tickets/{id}`
# accepts. Anything else is ignored there (and the fake records it).
TICKET_UPDATE_PROPERTIES = frozenset(
    {
        "additional_collaborators",
        "assignee_email",
        "assignee_id",
        "attribute_value_ids",
        "collaborator_ids",
        "comment",
        "custom_fields",
        "custom_status_id",
        "due_at",
        "email_ccs",
        "external_id",
        "followers",
        "group_id",
        "organization_id",
        "priority",
        "problem_id",
        "requester_id",
        "safe_update",
        "sharing_agreement_ids",
        "status",
        "subject",
        "tags",
        "type",
        "updated_stamp",
    }
)
# Tickets page ("Update Ticket", audit `metadata.custom`): written with the update,
# shown in its audit. Not in the OAS schema but documented.
TICKET_UPDATE_DOCUMENTED_EXTRAS = frozenset({"metadata"})

# "Adding tags to tickets without overwriting existing tags": these two "only work
# with bulk updates, where the tickets are specified in the ids parameter", i.e.
# `PUT /api/v2/tickets/update_many.json?ids=`. On a single ticket they do nothing.
BULK_ONLY_TAG_PROPERTIES = frozenset({"additional_tags", "remove_tags"})

# The 422 Zendesk answers for any update of a closed ticket. Body as served by the
# real API in several independent client fixtures (ZendeskApi_v2 #59 and others);
# support.zendesk.com "About native system ticket rules": closed tickets "can't be
# updated in most cases".
CLOSED_TICKET_BODY: dict[str, Any] = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}

# Search page, "Results limit": up to 1,000 results per query, 100 per page; a page
# past the limit answers 422. Body as Zendesk serves it (community post
# 4409222763930, zenpy #371).
SEARCH_RESULT_LIMIT = 1000
SEARCH_PAGE_LIMIT = 100
SEARCH_LIMIT_BODY: dict[str, Any] = {
    "error": "invalid",
    "description": "Invalid search: Requested response size was greater than "
    "Search Response Limits",
}

# Incremental Exports page / "Using the incremental export API": start_time must be
# at least one minute in the past and the last minute is never returned
# (announcement 8143500919322, 2024-10-28). Zendesk answers a too-recent start_time
# with 422 InvalidValue "Too recent start_time..." (seen by embulk-input-zendesk,
# zendesk-ticket-exporters; the wording dates from the older five-minute floor).
EXPORT_MIN_START_AGE_SECONDS = 60
EXPORT_PAGE_LIMIT = 1000  # `per_page` "Defaults to 1000", maximum 1000
TOO_RECENT_START_TIME_BODY: dict[str, Any] = {
    "error": "InvalidValue",
    "description": "Too recent start_time. Use a start_time older than 1 minute",
}

# "Pagination": cursor mode starts with page[size], at most 100 on most endpoints
# (Tickets page: "Returns a maximum of 100 records per page"); without it, offset
# pagination. "New limits for offset-based pagination" (support 5591904358938):
# offset requests past the first 10,000 records answer 400 Bad Request.
LIST_PAGE_LIMIT = 100
OFFSET_RECORD_LIMIT = 10_000
OFFSET_LIMIT_BODY: dict[str, Any] = {
    "error": "InvalidPaginationParameter",
    "description": "Offset pagination is limited to the first 10000 records. "
    "Use cursor pagination.",
}

# "Rate limits" (API reference introduction): 429 Too Many Requests with a
# Retry-After header. The body is not documented; its status and header are.
RATE_LIMITED_BODY: dict[str, Any] = {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed API requests per minute exceeded",
}
TICKET_UPDATE_RATE_LIMITED_BODY: dict[str, Any] = {
    "error": "APIRateLimitExceeded",
    "description": "Rate limit for ticket updates exceeded, please wait before "
    "updating this ticket again",
}

# "Rate limits": plan limits per minute (Enterprise 700); Tickets page, "Update
# Ticket" limits table: 30 per (user + ticket) per 10 minutes and 100 per account
# per minute (Default column); Incremental Exports: 10 requests per minute.
ACCOUNT_REQUESTS_PER_MINUTE = 700
TICKET_UPDATES_PER_ACCOUNT_PER_MINUTE = 100
TICKET_UPDATES_PER_USER_TICKET = 30
TICKET_UPDATES_PER_USER_TICKET_WINDOW = 600.0
EXPORT_REQUESTS_PER_MINUTE = 10

# Ticket statuses the Search/List endpoints treat as unsolved (OAS `TicketObject.status`).
UNSOLVED_STATUSES = frozenset({"new", "open", "pending", "hold"})


def couple_tagger_fields(
    taggers: Mapping[int, tuple[str, ...]],
    *,
    tags: set[str],
    values: Mapping[int, Any],
    sent_tags: set[str] | None,
    sent_values: Mapping[int, Any],
) -> tuple[set[str], dict[int, Any]]:
    """The ticket's tags and field values after an update, dropdowns coupled to tags.

    "Understanding custom ticket fields, tags, and business rules" (support
    4408881943194): "Selecting a field option automatically adds the associated tag
    to the ticket. Adding the tag selects the associated field option"; a tag
    belongs to one option, so adding another option's tag swaps the selection.
    Zendesk's tag property: a sent ``tags`` list replaces the ticket's tags, so a
    list without the selected option's tag clears the dropdown. ``taggers`` maps a
    dropdown field id to its option tags; other fields are not coupled. Field
    values sent in the same update are applied after the tag list.
    """
    new_tags = set(tags)
    new_values = dict(values)
    if sent_tags is not None:
        new_tags = set(sent_tags)
        for field_id, options in taggers.items():
            present = [tag for tag in options if tag in new_tags]
            current = new_values.get(field_id)
            if not present:
                new_values[field_id] = None
                continue
            added = [tag for tag in present if tag not in tags]
            if added:
                chosen = added[-1]
            elif current in present:
                chosen = current
            else:
                chosen = present[0]
            new_values[field_id] = chosen
            new_tags -= set(options) - {chosen}
    for field_id, value in sent_values.items():
        new_values[field_id] = value
        if field_id in taggers:
            new_tags -= set(taggers[field_id])
            if value not in (None, ""):
                new_tags.add(str(value))
    return new_tags, new_values
