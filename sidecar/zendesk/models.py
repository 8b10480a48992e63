"""Plain values read from and written to Zendesk; the rest of the sidecar sees only these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Ticket:
    """A ticket as read now; ``updated_stamp`` is ``updated_at`` verbatim, for safe_update."""

    id: int
    subject: str
    status: str  # lowercase, as the REST API sends it: new, open, pending, hold, solved, closed
    created_at: datetime  # aware, UTC
    updated_stamp: str
    organization_id: int | None
    requester_id: int | None
    tags: frozenset[str]
    custom_fields: Mapping[int, object]  # field id -> raw value (None when unset)
    follower_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Comment:
    """One ticket comment; ``author_role`` is "end-user", "agent", "admin" or "" if unknown."""

    id: int
    author_id: int
    public: bool
    created_at: datetime  # aware, UTC
    author_role: str


@dataclass(frozen=True)
class Organization:
    """An organization with its custom fields by field key."""

    id: int
    name: str
    external_id: str | None
    fields: Mapping[str, object]
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TicketUpdate:
    """The difference to write to one ticket, sent as one safe PUT.

    Empty collections mean "leave alone". ``custom_fields`` values are already
    formatted strings (never datetimes: zenpy truncates those to dates) or None
    to clear the field. ``private_note`` adds one internal comment.
    """

    ticket_id: int
    updated_stamp: str
    custom_fields: Mapping[int, str | None] = field(default_factory=dict)
    additional_tags: frozenset[str] = frozenset()
    remove_tags: frozenset[str] = frozenset()
    add_follower_ids: frozenset[int] = frozenset()
    private_note: str | None = None

    def is_empty(self) -> bool:
        """True when there is nothing to write."""
        return not (
            self.custom_fields
            or self.additional_tags
            or self.remove_tags
            or self.add_follower_ids
            or self.private_note
        )


@dataclass(frozen=True)
class ExportPage:
    """One page of the incremental ticket export: the tickets changed, and where to go on."""

    tickets: tuple[Ticket, ...]
    after_cursor: str | None
    end_of_stream: bool
