"""Which Slack thread follows which ticket, and what was already said there.

The ticket's ``external_id`` (``slack-<channel>-<ts>``) is the record of where
it came from; these flags in the queue's shared store are the fast way back
and forth (every process sees them: web replicas and workers), and the
"said once" marks that keep each announcement single. Each expires 180 days
after it was last written (sidecar.queue.store.flag_ttl): a thread may be
answered weeks later, and ten thousand threads keep about 6 MB
(docs/benchmarks.md, Redis memory).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sidecar.errors import Transient
from sidecar.slack.blocks import MessageRef

log = logging.getLogger("sidecar.slack")

EXTERNAL_PREFIX = "slack-"
# A post in flight holds this claim; a second worker retries instead of posting twice.
POSTING_SECONDS = 120.0
# A comment from Slack being written holds back the ticket's sync this long at
# most (a worker killed mid-write must not hold it forever).
COMMENTING_SECONDS = 60.0


class Store(Protocol):
    """The parts of the job queue used here (sidecar.tasks.queue.JobQueue)."""

    def set_flag(self, name: str, value: str | None) -> None: ...
    def get_flag(self, name: str) -> str | None: ...
    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...
    def release(self, key: str) -> None: ...


def external_id(ref: MessageRef) -> str:
    """The ticket's external id for a Slack message: one ticket per message."""
    return f"{EXTERNAL_PREFIX}{ref.channel}-{ref.ts}"


class Links:
    """Ticket ↔ thread links and once-only announcements, for one Zendesk account."""

    def __init__(self, store: Store, *, account: str) -> None:
        self.store = store
        self.account = account

    def _ticket_key(self, ticket_id: int) -> str:
        return f"slack_ticket:{self.account}:{int(ticket_id)}"

    def _thread_key(self, channel: str, thread_ts: str) -> str:
        return f"slack_thread:{self.account}:{channel}:{thread_ts}"

    def remember(self, ticket_id: int, ref: MessageRef) -> None:
        """Record that ``ticket_id`` follows the thread of ``ref`` (idempotent)."""
        self.store.set_flag(self._ticket_key(ticket_id), ref.to_json())
        self.store.set_flag(
            self._thread_key(ref.channel, ref.thread_ts), str(ticket_id)
        )

    def thread_of(self, ticket_id: int) -> MessageRef | None:
        """The thread a ticket follows, or None when it did not come from Slack."""
        raw = self.store.get_flag(self._ticket_key(ticket_id))
        return MessageRef.from_json(raw) if raw else None

    def ticket_of(self, channel: str, thread_ts: str) -> int | None:
        """The ticket a thread follows, or None."""
        raw = self.store.get_flag(self._thread_key(channel, thread_ts))
        return int(raw) if raw and raw.isdigit() else None

    # --- said once --------------------------------------------------------------

    def said(self, ticket_id: int, what: str) -> bool:
        """True when ``what`` was already announced for the ticket."""
        return self.store.get_flag(self._said_key(ticket_id, what)) is not None

    def say_once(self, ticket_id: int, what: str, post: Callable[[], object]) -> bool:
        """Run ``post`` unless ``what`` was said for the ticket; True when it ran now.

        A claim keeps two workers from posting at the same time (the second
        raises Transient and retries, by when the mark is set); the mark is set
        only after the post succeeded, so a failed post is tried again.
        """
        done = self._said_key(ticket_id, what)
        if self.store.get_flag(done) is not None:
            return False
        busy = f"slack_posting:{self.account}:{int(ticket_id)}:{what}"
        if not self.store.claim(busy, ttl_seconds=POSTING_SECONDS):
            raise Transient(
                f"slack: {what} for ticket {ticket_id} is being posted", service="slack"
            )
        try:
            if self.store.get_flag(done) is not None:
                return False
            post()
            self.store.set_flag(done, datetime.now(UTC).isoformat(timespec="seconds"))
            return True
        finally:
            self.store.release(busy)

    def _said_key(self, ticket_id: int, what: str) -> str:
        return f"slack_said:{self.account}:{int(ticket_id)}:{what}"

    # --- our own comments -----------------------------------------------------------

    def begin_comment(self, ticket_id: int) -> None:
        """A comment from a Slack message is about to be written to the ticket.

        Until :meth:`end_comment`, the ticket has a comment of ours that may not
        be recorded as ours yet (its id is known only once Zendesk answers, and
        the trigger's webhook can bring a sync before that): the sync waits.
        """
        self.store.set_flag(
            self._commenting_key(ticket_id), datetime.now(UTC).isoformat()
        )

    def end_comment(self, ticket_id: int) -> None:
        """The comment is written and recorded (or failed): syncs may go on."""
        self.store.set_flag(self._commenting_key(ticket_id), None)

    def commenting(self, ticket_id: int) -> bool:
        """True while a comment from Slack is being written (for COMMENTING_SECONDS at most)."""
        raw = self.store.get_flag(self._commenting_key(ticket_id))
        if not raw:
            return False
        try:
            started = datetime.fromisoformat(raw)
        except ValueError:
            return False
        age = (datetime.now(UTC) - started).total_seconds()
        return age < COMMENTING_SECONDS

    def _commenting_key(self, ticket_id: int) -> str:
        return f"slack_commenting:{self.account}:{int(ticket_id)}"

    def own_comment(self, comment_id: int) -> None:
        """Remember a Zendesk comment we made from a Slack message (never echoed back)."""
        self.store.set_flag(f"slack_comment:{self.account}:{int(comment_id)}", "1")

    def is_own_comment(self, comment_id: int) -> bool:
        """True for a comment we made from a Slack message."""
        key = f"slack_comment:{self.account}:{int(comment_id)}"
        return self.store.get_flag(key) is not None
