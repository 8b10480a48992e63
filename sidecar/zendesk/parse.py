"""Validate Zendesk's JSON into the sidecar's models; anything else is BadResponse.

Every field the sidecar reads from a ticket, a comment or an organization is
checked against the type the Zendesk API documents (OpenAPI ``TicketObject``,
``TicketCommentObject``, ``OrganizationObject``): ids are positive integers (not
booleans, not floats, not strings), booleans are booleans (``"public": "false"``
is not a public comment), timestamps are ISO 8601 text within a sane range. A
value of another type raises :class:`~sidecar.errors.BadResponse`, which names
the object and the field (never the value: it may be customer data) and is
dead-lettered at once: the same read would return the same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from sidecar.domain.models import Comment, CommentText, Organization, Ticket
from sidecar.errors import BadResponse
from sidecar.sla import StatusChange

SERVICE = "zendesk"
MAX_ID = 2**63 - 1  # Zendesk ids are 64-bit integers
# Zendesk started in 2007; a date outside these bounds is corrupt data, and one
# near year 9999 would overflow the SLA arithmetic (due = created + target).
EARLIEST_YEAR = 1970
LATEST_YEAR = 2200
# OAS TicketObject.status (the status category when custom statuses are on).
TICKET_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
USER_ROLES = frozenset({"end-user", "agent", "admin"})
# Zendesk's system user: "An actor_id of "-1" is a Zendesk system user, such as
# an automations action" (OAS TicketActivityObject); comments of messaging and
# chat transcripts carry author_id -1 too ("When the author ID on a comment is
# -1, it represents Zendesk, not an actual user", lukeburden/django-zengo#7).
SYSTEM_USER_ID = -1


def _bad(where: str, problem: str) -> NoReturn:
    raise BadResponse(f"zendesk {where}: {problem}", service=SERVICE)


def _kind(value: object) -> str:
    """The JSON kind of ``value`` for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _bad(where, f"expected an object, got {_kind(value)}")
    return value


def _required(data: Mapping[str, Any], key: str, where: str) -> object:
    if key not in data:
        _bad(where, f"{key} is missing")
    return data[key]


def identifier(value: object, where: str, key: str) -> int:
    """A Zendesk id: an integer in 1 .. 2**63-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        _bad(where, f"{key} must be an integer id, got {_kind(value)}")
    if not 0 < value <= MAX_ID:
        _bad(where, f"{key} is out of range for an id")
    return value


def optional_identifier(value: object, where: str, key: str) -> int | None:
    """An id or null."""
    return None if value is None else identifier(value, where, key)


def author(value: object, where: str, key: str = "author_id") -> int | None:
    """A comment author's id, or None for no person (the system user, null, absent)."""
    if value is None or (
        not isinstance(value, bool)
        and isinstance(value, int)
        and value == SYSTEM_USER_ID
    ):
        return None
    return identifier(value, where, key)


def text(value: object, where: str, key: str, *, nullable: bool = True) -> str | None:
    """A string (or null when ``nullable``)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        _bad(where, f"{key} must be a string, got {_kind(value)}")
    return value


def boolean(value: object, where: str, key: str) -> bool:
    """A JSON boolean; the string "false" is not one."""
    if not isinstance(value, bool):
        _bad(where, f"{key} must be a boolean, got {_kind(value)}")
    return value


def timestamp(value: object, where: str = "timestamp", key: str = "value") -> datetime:
    """An ISO 8601 timestamp ('2026-11-27T15:00:00Z') as an aware UTC datetime."""
    if not isinstance(value, str):
        _bad(where, f"{key} must be an ISO 8601 string, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        _bad(where, f"{key} is not an ISO 8601 timestamp")
    if not EARLIEST_YEAR <= parsed.year < LATEST_YEAR:
        _bad(where, f"{key} is outside {EARLIEST_YEAR}..{LATEST_YEAR - 1}")
    return parsed


def _tags(value: object, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        _bad(where, f"tags must be an array, got {_kind(value)}")
    for tag in value:
        if not isinstance(tag, str):
            _bad(where, f"tags must hold strings, got {_kind(tag)}")
    return frozenset(value)


def _scalar_value(value: object, where: str, key: str) -> object:
    """A field value: null, string, boolean, finite number, or an array of strings."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _bad(where, f"{key} is not a finite number")
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)  # multiselect: option tags
    _bad(where, f"{key} has an unsupported value ({_kind(value)})")


def _custom_fields(value: object, where: str) -> dict[int, object]:
    if value is None:
        return {}
    if not isinstance(value, list):
        _bad(where, f"custom_fields must be an array, got {_kind(value)}")
    fields: dict[int, object] = {}
    for item in value:
        entry = _object(item, f"{where} custom_fields entry")
        field_id = identifier(_required(entry, "id", where), where, "custom field id")
        fields[field_id] = _scalar_value(
            entry.get("value"), where, f"custom field {field_id}"
        )
    return fields


def _ids(value: object, where: str, key: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        _bad(where, f"{key} must be an array, got {_kind(value)}")
    return tuple(identifier(item, where, key) for item in value)


def ticket(data: object) -> Ticket:
    """A ``TicketObject`` as a Ticket, or BadResponse naming the field."""
    raw = _object(data, "ticket")
    ticket_id = identifier(_required(raw, "id", "ticket"), "ticket", "id")
    where = f"ticket {ticket_id}"
    status = text(raw.get("status"), where, "status", nullable=False)
    assert status is not None
    if status.lower() not in TICKET_STATUSES:
        _bad(where, "status is not one of " + ", ".join(sorted(TICKET_STATUSES)))
    updated = _required(raw, "updated_at", where)
    timestamp(updated, where, "updated_at")  # validated; kept verbatim below
    assert isinstance(updated, str)
    return Ticket(
        id=ticket_id,
        subject=text(raw.get("subject"), where, "subject") or "",
        status=status.lower(),
        created_at=timestamp(_required(raw, "created_at", where), where, "created_at"),
        updated_stamp=updated,
        organization_id=optional_identifier(
            raw.get("organization_id"), where, "organization_id"
        ),
        requester_id=optional_identifier(
            raw.get("requester_id"), where, "requester_id"
        ),
        tags=_tags(raw.get("tags"), where),
        custom_fields=_custom_fields(raw.get("custom_fields"), where),
        follower_ids=_ids(raw.get("follower_ids"), where, "follower_ids"),
    )


def _users(pages: Sequence[object]) -> dict[int, Mapping[str, Any]]:
    """The sideloaded users (``include=users``) by id; the system user is left out."""
    users: dict[int, Mapping[str, Any]] = {}
    for page in pages:
        found = _object(page, "comments page").get("users")
        if found is None:
            continue
        if not isinstance(found, list):
            _bad("comments page", f"users must be an array, got {_kind(found)}")
        for item in found:
            user = _object(item, "comment author")
            user_id = author(_required(user, "id", "user"), "user", "id")
            if user_id is None:
                continue  # the system user is no person, whatever role it shows
            role = text(user.get("role"), f"user {user_id}", "role") or ""
            if role and role not in USER_ROLES:
                _bad(f"user {user_id}", "role is not end-user, agent or admin")
            text(user.get("name"), f"user {user_id}", "name")
            users[user_id] = user
    return users


def _comment_items(pages: Sequence[object]) -> list[Mapping[str, Any]]:
    items: list[Mapping[str, Any]] = []
    for page in pages:
        found = _object(page, "comments page").get("comments")
        if found is None:
            continue
        if not isinstance(found, list):
            _bad("comments page", f"comments must be an array, got {_kind(found)}")
        items.extend(_object(item, "comment") for item in found)
    return items


def _comment(raw: Mapping[str, Any], users: Mapping[int, Mapping[str, Any]]) -> Comment:
    comment_id = identifier(_required(raw, "id", "comment"), "comment", "id")
    where = f"comment {comment_id}"
    by = author(raw.get("author_id"), where)
    user = users.get(by) if by is not None else None
    return Comment(
        id=comment_id,
        author_id=by,
        public=boolean(_required(raw, "public", where), where, "public"),
        created_at=timestamp(_required(raw, "created_at", where), where, "created_at"),
        author_role=str((user or {}).get("role") or ""),
    )


def comments(pages: Sequence[object]) -> list[Comment]:
    """The comments of List Comments pages (``include=users``), oldest first."""
    users = _users(pages)
    return [_comment(raw, users) for raw in _comment_items(pages)]


def comment_texts(pages: Sequence[object]) -> list[CommentText]:
    """As :func:`comments`, with each comment's text and its author's name."""
    users = _users(pages)
    found: list[CommentText] = []
    for raw in _comment_items(pages):
        comment = _comment(raw, users)
        where = f"comment {comment.id}"
        body = text(raw.get("plain_body"), where, "plain_body") or text(
            raw.get("body"), where, "body"
        )
        user = users.get(comment.author_id) if comment.author_id is not None else None
        found.append(
            CommentText(
                id=comment.id,
                author_id=comment.author_id,
                author_role=comment.author_role,
                author_name=str((user or {}).get("name") or ""),
                public=comment.public,
                created_at=comment.created_at,
                body=body or "",
            )
        )
    return found


def organization(data: object) -> Organization:
    """An ``OrganizationObject`` as an Organization, or BadResponse naming the field."""
    raw = _object(data, "organization")
    org_id = identifier(_required(raw, "id", "organization"), "organization", "id")
    where = f"organization {org_id}"
    fields = raw.get("organization_fields")
    if fields is None:
        fields = {}
    if not isinstance(fields, Mapping):
        _bad(where, f"organization_fields must be an object, got {_kind(fields)}")
    checked: dict[str, object] = {}
    for key, value in fields.items():
        checked[str(key)] = _scalar_value(value, where, f"organization field {key!r}")
    return Organization(
        id=org_id,
        name=text(raw.get("name"), where, "name") or "",
        external_id=text(raw.get("external_id"), where, "external_id"),
        fields=checked,
        tags=_tags(raw.get("tags"), where),
    )


def status_changes(pages: Sequence[object]) -> list[StatusChange]:
    """The status history of List Audits for a Ticket pages, oldest first.

    Each audit (OAS ``TicketAuditObject``: ``created_at``, ``events``) may hold
    a ``Create`` or ``Change`` event with ``field_name`` "status" and the new
    ``value`` (OAS ``TicketAuditsForTicketResponseExample``; Zendesk's "Ticket
    audit events reference": Create "The ticket was created", Change "A field
    value was changed"). The status holds from the audit's ``created_at``.
    Other events are not read.
    """
    found: list[StatusChange] = []
    for page in pages:
        audits = _object(page, "audits page").get("audits")
        if audits is None:
            continue
        if not isinstance(audits, list):
            _bad("audits page", f"audits must be an array, got {_kind(audits)}")
        for item in audits:
            audit = _object(item, "audit")
            where = "audit"
            at = timestamp(_required(audit, "created_at", where), where, "created_at")
            events = audit.get("events") or []
            if not isinstance(events, list):
                _bad(where, f"events must be an array, got {_kind(events)}")
            for raw in events:
                event = _object(raw, "audit event")
                if event.get("field_name") != "status" or event.get("type") not in {
                    "Create",
                    "Change",
                }:
                    continue
                value = event.get("value")
                if value not in TICKET_STATUSES:
                    _bad("audit event", "status value is not a ticket status")
                found.append(StatusChange(str(value), at))
    return sorted(found, key=lambda c: c.at)
