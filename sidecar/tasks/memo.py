"""What the sidecar already knows about a ticket, so that it does not pay Zendesk to learn it again.

Per ticket, in the queue store (every process sees it): the version
(``updated_at``) of the last state a reconcile fully knew, the comment count and
the first response found at that state, whether that version is the one our own
write produced, our recent writes (Zendesk allows 30 per user per ticket per 10
minutes), and whether the ticket was urgent (SEV 1/2 of an entitled
organization). Each rule that saves a call from it is safe by construction
(docs/decisions.md, "API budget"): where in doubt, the reconciler reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger("sidecar.memo")

MEMO_TTL_SECONDS = 7 * 24 * 3600.0
PER_TICKET_WRITES = 30  # Tickets page, Update Ticket "Limits": per user per ticket
PER_TICKET_WINDOW_SECONDS = 600.0
# How long the receiver trusts "this organization is (not) entitled" for its lane
# choice: a stale answer only puts one read in the other lane.
ORG_ENTITLEMENT_TTL_SECONDS = 600.0
# A trigger sent but not yet recorded on its ticket (the marker waits for the
# budget or for Zendesk): long enough for any retry, short enough to be harmless.
PAGE_SENT_TTL_SECONDS = 24 * 3600.0
# After the record: covers reconciles that read the ticket just before it.
PAGE_RECORDED_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class Hint:
    """What a webhook said about the change it announces (never trusted for state).

    ``actor_id``: who made the change (event-subscription ``detail.actor_id``);
    ``version``: the ticket's ``updated_at`` as the webhook rendered it (second
    precision in event payloads, minute precision from the trigger placeholder
    ``{{ticket.updated_at_with_timestamp}}``).
    """

    actor_id: int | None = None
    version: str | None = None
    # What the signed trigger body named: the Issue Severity (1..5) and the
    # organization. On the urgent lane they let a page go out while Zendesk
    # cannot be read (docs/decisions.md, "Pages before writes").
    severity: int | None = None
    organization_id: int | None = None

    def as_kwargs(self) -> dict[str, object]:
        """The hint as plain job arguments."""
        # Field by field, not dataclasses.asdict (its deep copy was a
        # measurable part of an accepted webhook's cost).
        found = {
            "actor_id": self.actor_id,
            "version": self.version,
            "severity": self.severity,
            "organization_id": self.organization_id,
        }
        return {k: v for k, v in found.items() if v is not None}

    @property
    def may_skip(self) -> bool:
        """True when this hint alone could let a reconcile skip its read."""
        return self.actor_id is not None or self.version is not None


@dataclass(frozen=True)
class Seen:
    """The last state of one ticket the sidecar fully knew."""

    version: str
    comment_count: int | None = None
    first_response_at: str | None = None
    own: bool = False  # ``version`` is what our own write produced
    urgent: bool = False
    writes: tuple[float, ...] = field(default=())  # epoch seconds of our writes
    # Issue 21, only for tickets measured beyond the first response: the status
    # at ``version``, the status history [(status, from)] and the comments as
    # the engine sees them [(at, author, public)], so a reconcile reads the
    # audits only when the status changed and the comments only when their
    # count did. None: not known (then the reconcile reads).
    status: str | None = None
    statuses: tuple[tuple[str, str], ...] | None = None
    replies: tuple[tuple[str, str, bool], ...] | None = None
    requester: int | None = None  # whom ``replies`` counted as the customer

    def first_response(self) -> datetime | None:
        """The remembered first response, as an aware datetime."""
        if self.first_response_at is None:
            return None
        return datetime.fromisoformat(self.first_response_at)


class MemoStore(Protocol):
    """The queue store's small key-value part (sidecar.tasks.queue.JobQueue)."""

    def get_memo(self, key: str) -> str | None: ...
    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None: ...


def parse_version(text: str) -> tuple[datetime, timedelta] | None:
    """A rendered ``updated_at`` and its precision: minute for ``...T05:35Z``, else second."""
    raw = text.strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # "2013-12-12T05:35Z": the placeholder has no seconds ("Placeholders reference").
    time_part = raw.split("T", 1)[1] if "T" in raw else ""
    minute_only = time_part.count(":") == 1
    return moment, timedelta(minutes=1) if minute_only else timedelta(seconds=1)


def already_seen(hint_version: str | None, seen: Seen | None) -> bool:
    """True when the change a webhook announces is provably inside a state we already know.

    A change stamped ``v`` at precision ``p`` happened before ``v + p``; a state
    whose ``updated_at`` is ``s`` includes every change made before ``s``. So
    ``v + p <= s`` proves the change is known. Equal stamps prove nothing: the
    trigger's placeholder is minute-precise, and even second-precise stamps can
    be shared by two changes in one second.
    """
    if hint_version is None or seen is None:
        return False
    hinted, known = parse_version(hint_version), parse_version(seen.version)
    if hinted is None or known is None:
        return False
    (moment, precision), (seen_at, _) = hinted, known
    return moment + precision <= seen_at


class TicketMemory:
    """Recall and remember :class:`Seen` per ticket in the shared store."""

    def __init__(self, store: MemoStore, *, account: str) -> None:
        self._store = store
        self._account = account

    def _key(self, ticket_id: int) -> str:
        return f"seen:{self._account}:{int(ticket_id)}"

    def recall(self, ticket_id: int) -> Seen | None:
        """What we last knew about the ticket, or None (never an error: then we read)."""
        try:
            raw = self._store.get_memo(self._key(ticket_id))
            if raw is None:
                return None
            data = json.loads(raw)
            data["writes"] = tuple(data.get("writes") or ())
            for key in ("statuses", "replies"):
                if data.get(key) is not None:
                    data[key] = tuple(tuple(item) for item in data[key])
            return Seen(**data)
        except Exception as exc:  # a bad or unreadable record only costs a read
            log.warning("ticket memo unreadable (%s): reading", type(exc).__name__)
            return None

    def remember(self, ticket_id: int, seen: Seen) -> None:
        """Store what we know now (best effort: losing it only costs reads)."""
        try:
            data = asdict(seen)
            for key in ("status", "statuses", "replies", "requester"):
                if data[key] is None:
                    del data[key]  # a first-response-only ticket's record as before
            self._store.set_memo(
                self._key(ticket_id),
                json.dumps(data),
                ttl_seconds=MEMO_TTL_SECONDS,
            )
        except Exception as exc:
            log.warning("could not store ticket memo (%s)", type(exc).__name__)

    def remember_org(
        self, org_id: int, *, entitled: bool, route: str | None = None
    ) -> None:
        """Note whether an organization holds Enterprise Support (best effort).

        ``route``: the fingerprint of the routing key its pages go to (never
        the key), for a page on a webhook's hint while Zendesk cannot be read.
        """
        value = ("1" if entitled else "0") + (f":{route}" if entitled and route else "")
        with contextlib.suppress(Exception):
            self._store.set_memo(
                f"org_entitled:{self._account}:{int(org_id)}",
                value,
                ttl_seconds=ORG_ENTITLEMENT_TTL_SECONDS,
            )

    def _org_memo(self, org_id: int) -> str | None:
        try:
            return self._store.get_memo(f"org_entitled:{self._account}:{int(org_id)}")
        except Exception:
            return None

    def org_entitled(self, org_id: int) -> bool | None:
        """Whether a reconcile lately found the organization entitled; None: not known."""
        raw = self._org_memo(org_id)
        return None if raw is None else raw.split(":", 1)[0] == "1"

    def org_route(self, org_id: int) -> str | None:
        """The routing key fingerprint an entitled organization's pages lately went to."""
        raw = self._org_memo(org_id)
        if raw is None or not raw.startswith("1:"):
            return None
        return raw.split(":", 1)[1] or None

    def _page_key(self, ticket_id: int) -> str:
        return f"page_sent:{self._account}:{int(ticket_id)}"

    def remember_page(self, ticket_id: int, *, route: str) -> None:
        """Note that a trigger went out for the ticket, not yet recorded on it."""
        with contextlib.suppress(Exception):
            self._store.set_memo(
                self._page_key(ticket_id), route, ttl_seconds=PAGE_SENT_TTL_SECONDS
            )

    def page_sent(self, ticket_id: int) -> str | None:
        """The routing key fingerprint of a trigger not yet recorded on the ticket, else None."""
        try:
            return self._store.get_memo(self._page_key(ticket_id)) or None
        except Exception:
            return None

    def recorded_page(self, ticket_id: int, *, route: str) -> None:
        """The trigger is recorded on the ticket: keep it known a little longer.

        A reconcile that read the ticket just before the record would
        otherwise trigger again (PagerDuty would fold it into the same
        incident, but it is one more event for the responders' tools).
        """
        with contextlib.suppress(Exception):
            self._store.set_memo(
                self._page_key(ticket_id), route, ttl_seconds=PAGE_RECORDED_TTL_SECONDS
            )

    def forget_page(self, ticket_id: int) -> None:
        """The page was resolved: forget it."""
        with contextlib.suppress(Exception):
            self._store.set_memo(self._page_key(ticket_id), "", ttl_seconds=1.0)

    def own_user_id(self) -> int | None:
        """Our API user's id (``users/me``) as some process already learned it."""
        try:
            raw = self._store.get_memo(f"api_user:{self._account}")
            return int(raw) if raw else None
        except Exception:
            return None

    def set_own_user_id(self, user_id: int) -> None:
        """Share our API user's id with every process (it never changes for a token)."""
        with contextlib.suppress(Exception):
            self._store.set_memo(
                f"api_user:{self._account}", str(int(user_id)), ttl_seconds=86400.0
            )

    @staticmethod
    def with_write(seen: Seen | None, *, now: float) -> tuple[float, ...]:
        """Our writes in the per-ticket window, this one included."""
        recent = tuple(
            t
            for t in (seen.writes if seen else ())
            if t > now - PER_TICKET_WINDOW_SECONDS
        )
        return (*recent, now)[-PER_TICKET_WRITES:]

    @staticmethod
    def write_wait(seen: Seen | None, *, now: float) -> float:
        """Seconds until one more write fits Zendesk's per-ticket limit (0: now)."""
        if seen is None:
            return 0.0
        recent = sorted(t for t in seen.writes if t > now - PER_TICKET_WINDOW_SECONDS)
        if len(recent) < PER_TICKET_WRITES:
            return 0.0
        return recent[-PER_TICKET_WRITES] + PER_TICKET_WINDOW_SECONDS - now


__all__ = [
    "Hint",
    "MemoStore",
    "Seen",
    "TicketMemory",
    "already_seen",
    "parse_version",
]
