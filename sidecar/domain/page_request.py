"""An agent's request to page on-call from a ticket (the "Page on-call" macro); pure.

The macro `sidecar zendesk setup` creates adds :data:`PAGE_REQUEST_TAG` and
opens a private comment that starts with :data:`REASON_PREFIX`; the agent
writes the reason after it and submits. Tag and comment arrive in one ticket
update, by that agent: the reconcile reads the comments once (with their
authors' names) and takes who asked and why from the latest private comment
of an agent (docs/decisions.md, "Agents page from the ticket").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sidecar.domain.models import CommentText

PAGE_REQUEST_TAG = "sidecar_page_oncall"
REASON_PREFIX = "Reason for paging:"
NO_REASON = "(no reason given)"
# PagerDuty's custom_details are shown whole; a reason is a sentence or two.
MAX_REASON = 500
_AGENT_ROLES = frozenset({"agent", "admin"})


@dataclass(frozen=True)
class PageRequest:
    """Who asked for a page and why, as shown in the incident and the ticket note."""

    requested_by: str
    reason: str


def page_request_from(comments: Sequence[CommentText]) -> PageRequest:
    """Find who asked for the page and why in the ticket's comments.

    The latest private agent comment that carries the macro's prefix wins;
    without one, the latest private agent comment (an agent who wrote the
    reason in their own words); without any, the request has no known author.
    """
    private = sorted(
        (
            c
            for c in comments
            if not c.public
            and c.author_id is not None
            and c.author_role in _AGENT_ROLES
        ),
        key=lambda c: (c.created_at, c.id),
    )
    if not private:
        return PageRequest(requested_by="an agent (not named)", reason=NO_REASON)
    marked = [c for c in private if REASON_PREFIX.casefold() in c.body.casefold()]
    chosen = (marked or private)[-1]
    return PageRequest(
        requested_by=_name(chosen),
        reason=reason_in(chosen.body),
    )


def reason_in(body: str) -> str:
    """The reason written after the macro's prefix (or the whole comment), on one line."""
    at = body.casefold().find(REASON_PREFIX.casefold())
    text = body[at + len(REASON_PREFIX) :] if at >= 0 else body
    text = " ".join(text.split())
    if not text:
        return NO_REASON
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _name(comment: CommentText) -> str:
    name = " ".join(comment.author_name.split())
    return name or f"agent {comment.author_id}"
