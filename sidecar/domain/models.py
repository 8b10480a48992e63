"""Plain values read from and written to Zendesk; the rest of the sidecar sees only these."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    # From Show Ticket's sideloads (``include=comment_count,organizations``):
    # how many comments it has (None: not asked or not answered) and its
    # organization as read in the same call (None: not sideloaded).
    comment_count: int | None = None
    organization: Organization | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Comment:
    """One ticket comment; ``author_role`` is "end-user", "agent", "admin" or "" if unknown.

    ``author_id`` is None when no person wrote it: Zendesk's system user (id -1,
    e.g. messaging and chat transcripts, automations) or no author at all. Such a
    comment has no role and is never anyone's reply.
    """

    id: int
    author_id: int | None
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

    ``tags`` is the ticket's COMPLETE tag list after the write, or None to leave
    the tags alone: a single-ticket update replaces the tag set (the add/remove
    tag properties work only on a bulk update_many), and ``safe_update`` with the
    ``updated_stamp`` we read makes a concurrent agent edit a 409, never a loss.
    ``previous_tags`` are the tags as read (not sent; for logs). Empty
    collections mean "leave alone". ``custom_fields`` values are already
    formatted strings (never datetimes) or None
    to clear the field. ``private_note`` adds one internal comment.
    """

    ticket_id: int
    updated_stamp: str
    custom_fields: Mapping[int, str | None] = field(default_factory=dict)
    tags: frozenset[str] | None = None
    previous_tags: frozenset[str] = frozenset()
    add_follower_ids: frozenset[int] = frozenset()
    private_note: str | None = None

    @classmethod
    def retag(
        cls,
        ticket: Ticket,
        *,
        add: Set[str] = frozenset(),
        remove: Set[str] = frozenset(),
        **changes: Any,
    ) -> TicketUpdate:
        """Build an update of ``ticket`` that adds and removes some tags, keeping the rest."""
        wanted = (ticket.tags - remove) | add
        return cls(
            ticket_id=ticket.id,
            updated_stamp=ticket.updated_stamp,
            tags=frozenset(wanted) if wanted != ticket.tags else None,
            previous_tags=ticket.tags,
            **changes,
        )

    @property
    def tags_added(self) -> frozenset[str]:
        """Tags this update adds."""
        return frozenset() if self.tags is None else self.tags - self.previous_tags

    @property
    def tags_removed(self) -> frozenset[str]:
        """Tags this update removes."""
        return frozenset() if self.tags is None else self.previous_tags - self.tags

    def is_empty(self) -> bool:
        """True when there is nothing to write."""
        return not (
            self.custom_fields
            or self.tags is not None
            or self.add_follower_ids
            or self.private_note
        )


@dataclass(frozen=True)
class ExportPage:
    """One page of the incremental ticket export: the tickets changed, and where to go on."""

    tickets: tuple[Ticket, ...]
    after_cursor: str | None
    end_of_stream: bool


@dataclass(frozen=True)
class TicketPage:
    """One page of List Tickets (cursor pagination) and the cursor of the next one."""

    tickets: tuple[Ticket, ...]
    after_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class TicketMetricSet:
    """The parts of a ticket's metric set (Ticket Metrics object) the attainment report reads.

    ``reply_minutes_calendar`` is Zendesk's first reply time in calendar minutes,
    None when the metric set has no value (no reply yet, or not computed).
    """

    ticket_id: int
    replies: int | None
    reply_minutes_calendar: int | None
    solved_at: datetime | None


@dataclass(frozen=True)
class MetricsExportPage:
    """One page of the incremental ticket export read with ``include=metric_sets``.

    ``metric_sets`` maps ticket id to its metric set, wherever Zendesk put it.
    """

    tickets: tuple[Ticket, ...]
    metric_sets: Mapping[int, TicketMetricSet]
    after_cursor: str | None
    end_of_stream: bool


@dataclass(frozen=True)
class CommentText:
    """A comment with its text and author, for the Slack thread that follows a ticket.

    ``author_id`` is None for Zendesk's system user or no author (see Comment).
    """

    id: int
    author_id: int | None
    author_role: str  # "end-user", "agent", "admin" or "" if unknown
    author_name: str
    public: bool
    created_at: datetime  # aware, UTC
    body: str


@dataclass(frozen=True)
class ApiUser:
    """The Zendesk user the sidecar acts as (Show Self)."""

    id: int
    role: str  # "admin", "agent" or "end-user"
    name: str
    email: str
