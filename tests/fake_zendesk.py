"""A fake Zendesk that speaks HTTP on 127.0.0.1, for adapter and end-to-end tests.

It keeps tickets, comments, users and organizations in memory and follows
Zendesk's PUBLISHED contract, not what the sidecar happens to send (the rules
and their sources are in tests/zendesk_contract.py and docs/decisions.md,
"Strict test doubles"): ``safe_update`` (409 on a stale ``updated_stamp``); on a
single-ticket PUT ``tags`` replaces the tag set and any property outside OAS
`TicketUpdateInput` (``additional_tags``/``remove_tags`` included) is ignored
and recorded in ``ignored_properties``; dropdown fields coupled to their option
tags; 422 for a closed ticket; 404 for a deleted one; search capped at 1,000
results; list endpoints that leave archived tickets out; an incremental export
that refuses a too-recent ``start_time`` and returns deleted tickets; and the
account, ticket-update and export rate limits with their headers (limits and
windows are constructor parameters, so a test can use a two-second window).
``updated_at`` moves by at least one second on every write that changes a
ticket (Zendesk stamps have second precision and only move when an update
produces an event). Faults (429 with Retry-After, 5xx, slow answers) can be
injected, and every request is logged.

    with FakeZendesk() as zd:
        zd.add_org(7, fields={"enterprise_support": True, "support_plan": "ultra"})
        tid = zd.add_ticket(organization_id=7)
        client = ZendeskClient.from_config(zd.config())   # or zd.env() for a subprocess
"""

from __future__ import annotations

import base64
import copy
import email.utils
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

from sidecar.config import Config, Secret
from tests import zendesk_contract as contract
from tests.fake_zendesk_admin import ADMIN_ROUTES, PORTAL_DEFAULTS, AdminMixin
from tests.fake_zendesk_apps import APPS_ROUTES, AppsMixin, parse_multipart
from tests.fake_zendesk_schedules import SCHEDULE_ROUTES, BusinessHoursMixin
from tests.rate_window import SlidingWindow

SUBDOMAIN = "acme"
API_EMAIL = "sidecar@acme.test"
API_TOKEN = "fake-api-token"  # a test credential, not a secret
UPDATE_LIMIT_HEADER = "Zendesk-RateLimit-tickets-update"
CONFLICT_BODY = {
    "error": "UpdateConflict",
    "description": "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again.",
}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_stamp(value: datetime | str | None, now: datetime) -> str:
    if value is None:
        return _stamp(now)
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return _stamp(value)


class Call(NamedTuple):
    """One request the fake received (faulted and rejected ones included)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    # When it arrived (time.monotonic(), this process): orders calls and counts
    # them per sliding window (the API budget tests).
    at: float = 0.0


@dataclass
class FakeTicket:
    """A ticket's state; ``custom_fields`` maps field id to value."""

    id: int
    subject: str
    status: str
    created_at: str
    updated_at: str
    organization_id: int | None
    requester_id: int
    tags: set[str] = field(default_factory=set)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    follower_ids: list[int] = field(default_factory=list)
    # Archived tickets stay readable but leave the list endpoints (not shown in JSON).
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ticket as the REST API shows it."""
        return {
            "id": self.id,
            "url": f"/api/v2/tickets/{self.id}.json",
            "subject": self.subject,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "organization_id": self.organization_id,
            "requester_id": self.requester_id,
            "tags": sorted(self.tags),
            "custom_fields": [
                {"id": fid, "value": value}
                for fid, value in sorted(self.custom_fields.items())
            ],
            "follower_ids": list(self.follower_ids),
        }


@dataclass
class FakeComment:
    """One ticket comment."""

    id: int
    # -1 is Zendesk's system user (messaging and chat transcripts, automations);
    # None an author Zendesk does not show.
    author_id: int | None
    public: bool
    body: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The comment as the REST API shows it."""
        return {
            "id": self.id,
            "type": "Comment",
            "author_id": self.author_id,
            "public": self.public,
            "body": self.body,
            # OAS TicketCommentObject: "plain_body: The comment as plain text";
            # every recorded answer carries it (tests/samples/zendesk/recorded).
            "plain_body": self.body,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class WriteEvent:
    """A successful API write; ``changed`` is False when it produced no event.

    ``user_id`` is who made it: the authenticated API user, who is the updater
    (and a trigger's "current user") whatever ``comment.author_id`` says
    ("Ticket Comments" page, "Author id").
    """

    resource: str  # "ticket" or "organization"
    id: int
    body: Mapping[str, Any]
    changed: bool
    user_id: int | None = None


@dataclass
class _Fault:
    remaining: int | None  # None: until cleared
    status: int | None = None
    retry_after: float | str | None = None
    body: Any = None
    delay: float = 0.0
    path_contains: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.path_contains is None or self.path_contains in path) and (
            self.method is None or self.method == method
        )


@dataclass
class _Chaos:
    """Random faults on a share of requests (fault suite: a hostile upstream)."""

    throttled: float  # share answered 429 with Retry-After
    unavailable: float  # share answered 503
    hang: float  # share held ``hang_seconds`` (past the client's timeout)
    retry_after: float
    hang_seconds: float
    rng: random.Random
    counts: dict[str, int] = field(default_factory=dict)

    def roll(self) -> tuple[float, _Fault | None]:
        draw = self.rng.random()
        for name, share in (("429", self.throttled), ("503", self.unavailable)):
            if draw < share:
                self.counts[name] = self.counts.get(name, 0) + 1
                retry = f"{self.retry_after:g}" if name == "429" else None
                return 0.0, _Fault(1, int(name), retry, None)
            draw -= share
        if draw < self.hang:
            self.counts["hang"] = self.counts.get("hang", 0) + 1
            return self.hang_seconds, None
        return 0.0, None


class Reply(NamedTuple):
    status: int
    body: Any
    headers: dict[str, str]


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/api/v2/tickets(?:\.json)?$"), "_list_tickets"),
    ("GET", re.compile(r"^/api/v2/tickets/(\d+)\.json$"), "_get_ticket"),
    ("PUT", re.compile(r"^/api/v2/tickets/(\d+)\.json$"), "_put_ticket"),
    ("GET", re.compile(r"^/api/v2/tickets/(\d+)/comments\.json$"), "_get_comments"),
    ("GET", re.compile(r"^/api/v2/tickets/(\d+)/audits\.json$"), "_get_audits"),
    ("GET", re.compile(r"^/api/v2/users/me\.json$"), "_get_me"),
    ("GET", re.compile(r"^/api/v2/users/(\d+)\.json$"), "_get_user"),
    ("GET", re.compile(r"^/api/v2/organizations\.json$"), "_list_orgs"),
    ("GET", re.compile(r"^/api/v2/organizations/search\.json$"), "_search_orgs"),
    ("GET", re.compile(r"^/api/v2/organizations/(\d+)\.json$"), "_get_org"),
    (
        "GET",
        re.compile(r"^/api/v2/organizations/(\d+)/tickets(?:\.json)?$"),
        "_list_org_tickets",
    ),
    ("PUT", re.compile(r"^/api/v2/organizations/(\d+)\.json$"), "_put_org"),
    ("GET", re.compile(r"^/api/v2/organization_fields\.json$"), "_get_org_fields"),
    ("GET", re.compile(r"^/api/v2/ticket_fields\.json$"), "_get_ticket_fields"),
    (
        "GET",
        re.compile(r"^/api/v2/incremental/tickets/cursor\.json$"),
        "_export_with_sideloads",  # _export, plus include=metric_sets (issue 13)
    ),
    ("GET", re.compile(r"^/api/v2/search\.json$"), "_search"),
]


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops SYNs under bursts and costs a 1 s retransmit.
    request_queue_size = 128
    daemon_threads = True


class FakeZendesk(AdminMixin, AppsMixin, BusinessHoursMixin):
    """An in-memory Zendesk account served over HTTP on 127.0.0.1 (threaded).

    Accepts ``Basic email/token:api_token`` or, when ``oauth_token`` is given,
    ``Bearer oauth_token``; anything else gets 401. The API user is an admin
    (``api_user_id``). Organization fields ``enterprise_support`` (checkbox) and
    ``support_plan`` (dropdown) exist from the start, as the sidecar expects.
    """

    def __init__(
        self,
        *,
        email: str = API_EMAIL,
        api_token: str = API_TOKEN,
        oauth_token: str | None = None,
        clock: Callable[[], datetime] | None = None,
        comments_page_size: int = 100,
        audits_page_size: int = 100,
        orgs_page_size: int = 100,
        export_lag_seconds: int = 60,
        export_page_size: int = contract.EXPORT_PAGE_LIMIT,
        export_min_start_age_seconds: int = contract.EXPORT_MIN_START_AGE_SECONDS,
        export_requests_per_window: int = contract.EXPORT_REQUESTS_PER_MINUTE,
        account_requests_per_window: int = contract.ACCOUNT_REQUESTS_PER_MINUTE,
        ticket_updates_per_window: int = contract.TICKET_UPDATES_PER_ACCOUNT_PER_MINUTE,
        ticket_updates_per_user_ticket: int = contract.TICKET_UPDATES_PER_USER_TICKET,
        rate_window_seconds: float = 60.0,
        user_ticket_window_seconds: float = (
            contract.TICKET_UPDATES_PER_USER_TICKET_WINDOW
        ),
        count_agent_updates: bool = True,
        search_index_lag_seconds: float = 0.0,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.comments_page_size = comments_page_size
        # List Audits for a Ticket "Returns a maximum of 100 records per page" (OAS).
        self.audits_page_size = audits_page_size
        # The most organizations one page holds, whatever page[size] asks for.
        self.orgs_page_size = orgs_page_size
        # Zendesk leaves out of an incremental export what changed in the last minute.
        self.export_lag_seconds = export_lag_seconds
        self.export_page_size = export_page_size
        self.export_min_start_age_seconds = export_min_start_age_seconds
        # Agents' UI updates count toward the account's ticket-update limit
        # (support.zendesk.com 8638126078234), but not toward the request limit.
        self.count_agent_updates = count_agent_updates
        # Search page: new tickets "can take up to a few minutes" to be indexed.
        self.search_index_lag_seconds = search_index_lag_seconds
        self._rate_clock = rate_clock
        self._user_ticket_limit = ticket_updates_per_user_ticket
        self._user_ticket_window = user_ticket_window_seconds
        self._account_requests = SlidingWindow(
            account_requests_per_window, rate_window_seconds, rate_clock
        )
        self._ticket_updates = SlidingWindow(
            ticket_updates_per_window, rate_window_seconds, rate_clock
        )
        self._export_requests = SlidingWindow(
            export_requests_per_window, rate_window_seconds, rate_clock
        )
        self._user_ticket_updates: dict[tuple[int, int], SlidingWindow] = {}
        # (path, property) of every request property the real endpoint ignores.
        self.ignored_properties: list[tuple[str, str]] = []
        self._clock = clock or (lambda: datetime.now(UTC))
        # How far the account's clock is from ours, in the Date header of every
        # answer (RFC 9110 §6.6.1: an origin server with a clock MUST send Date,
        # in IMF-fixdate); `sidecar doctor` measures clock skew with it.
        self.date_offset_seconds = 0.0
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._ticket_ids = itertools.count(1)
        self._tickets: dict[int, FakeTicket] = {}
        self._comments: dict[int, list[FakeComment]] = {}
        # Per ticket, its audits oldest first (OAS TicketAuditObject): one per
        # creation, comment, agent update and API update, as Zendesk records them.
        self._audits: dict[int, list[dict[str, Any]]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._orgs: dict[int, dict[str, Any]] = {}
        self._org_fields: list[dict[str, Any]] = []
        self._ticket_fields: list[dict[str, Any]] = []
        # Dropdown values Zendesk dropped without an error (_drop_unknown_options).
        self.dropped_values: list[tuple[str, int, Any]] = []
        self._faults: list[_Fault] = []
        self._chaos: _Chaos | None = None
        self._calls: list[Call] = []
        self._write_hooks: list[Callable[[WriteEvent], None]] = []
        self._stopping = threading.Event()
        # Exceptions raised inside the fake or its write hooks; tests may assert empty.
        self.errors: list[BaseException] = []
        self.api_user_id = self.add_user(role="admin", name="Sidecar", email=email)
        self._admin_init()  # fields, webhooks, triggers, views: tests/fake_zendesk_admin.py
        self._apps_init()  # private apps: tests/fake_zendesk_apps.py
        self._bh_init()  # schedules: tests/fake_zendesk_schedules.py
        self.add_org_field("enterprise_support", type="checkbox")
        self.add_org_field("support_plan", type="dropdown")
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeZendesk:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-zendesk-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; sleeping (delayed) handlers wake up."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeZendesk:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def config(self, **overrides: Any) -> Config:
        """A sidecar Config pointing at this fake with valid credentials."""
        values: dict[str, Any] = {
            "zendesk_subdomain": SUBDOMAIN,
            "zendesk_email": self.email,
            "zendesk_api_token": Secret(self.api_token),
            "zendesk_url": self.url,
        }
        values.update(overrides)
        return Config(**values)

    def env(self) -> dict[str, str]:
        """The SIDECAR_ZENDESK_* variables for a subprocess pointing at this fake."""
        return {
            "SIDECAR_ZENDESK_SUBDOMAIN": SUBDOMAIN,
            "SIDECAR_ZENDESK_EMAIL": self.email,
            "SIDECAR_ZENDESK_API_TOKEN": self.api_token,
            "SIDECAR_ZENDESK_URL": self.url,
        }

    # --- state helpers --------------------------------------------------------

    def add_user(
        self,
        user_id: int | None = None,
        *,
        role: str = "end-user",
        name: str | None = None,
        email: str | None = None,
    ) -> int:
        """Add a user ("end-user", "agent" or "admin") and return its id."""
        with self._lock:
            uid = user_id if user_id is not None else self._new_id(self._users)
            self._users[uid] = {
                "id": uid,
                "role": role,
                "name": name or f"User {uid}",
                "email": email or f"user{uid}@example.test",
            }
            return uid

    def add_org(
        self,
        org_id: int | None = None,
        *,
        name: str | None = None,
        external_id: str | None = None,
        fields: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
    ) -> int:
        """Add an organization and return its id."""
        with self._lock:
            oid = org_id if org_id is not None else self._new_id(self._orgs)
            self._orgs[oid] = {
                "id": oid,
                "name": name or f"Org {oid}",
                "external_id": external_id,
                "organization_fields": dict(fields or {}),
                "tags": sorted(tags),
                "updated_at": _stamp(self._clock()),
            }
            return oid

    def set_org_fields(self, org_id: int, fields: Mapping[str, Any]) -> None:
        """Merge organization field values by key, as an admin edit would."""
        with self._lock:
            self._orgs[org_id]["organization_fields"].update(fields)

    def organization(self, org_id: int) -> dict[str, Any]:
        """The organization's current state (a copy)."""
        with self._lock:
            return copy.deepcopy(self._orgs[org_id])

    def add_org_field(
        self, key: str, *, type: str = "text", title: str | None = None
    ) -> int:
        """Define an organization field and return its id."""
        with self._lock:
            fid = next(self._ids)
            self._org_fields.append(
                {
                    "id": fid,
                    "key": key,
                    "type": type,
                    "title": title or key,
                    "active": True,
                }
            )
            return fid

    def add_ticket_field(
        self,
        field_id: int | None = None,
        *,
        title: str,
        type: str = "text",
        options: Iterable[tuple[str, str]] = (),
        **properties: Any,
    ) -> int:
        """Define a ticket field and return its id.

        A ``type="tagger"`` (dropdown) field takes ``options`` as (name, tag)
        pairs and is coupled to those tags on every ticket; other types are not.
        ``properties`` are other TicketFieldObject properties (the Help Center
        ones: visible_in_portal...), as an admin set them.
        """
        with self._lock:
            fid = field_id if field_id is not None else next(self._ids)
            definition: dict[str, Any] = {
                **PORTAL_DEFAULTS,
                **properties,
                "id": fid,
                "title": title,
                "type": type,
                "active": True,
            }
            choices = list(options)
            if type == "tagger":
                # OAS `CustomFieldOptionObject`: name = title, value = tag.
                definition["custom_field_options"] = [
                    {"id": next(self._ids), "name": name, "value": tag}
                    for name, tag in choices
                ]
            elif choices:
                raise ValueError("options are for type='tagger' fields only")
            self._ticket_fields.append(definition)
            return fid

    def add_ticket(
        self,
        ticket_id: int | None = None,
        *,
        subject: str = "Something is broken",
        status: str = "new",
        created_at: datetime | str | None = None,
        organization_id: int | None = None,
        requester_id: int | None = None,
        tags: Iterable[str] = (),
        custom_fields: Mapping[int, Any] | None = None,
        follower_ids: Iterable[int] = (),
        description: str = "Please help.",
    ) -> int:
        """Add a ticket with its description (a public comment by the requester).

        Dropdown fields and their option tags are coupled as on a real account:
        a tagger value adds its tag, an option tag selects its option.
        """
        with self._lock:
            now = self._clock()
            tid = ticket_id if ticket_id is not None else self._new_ticket_id()
            requester = requester_id if requester_id is not None else self.add_user()
            created = _as_stamp(created_at, now)
            coupled_tags, coupled_fields = contract.couple_tagger_fields(
                self._taggers(),
                tags=set(),
                values={},
                sent_tags=set(tags),
                sent_values=dict(custom_fields or {}),
            )
            self._tickets[tid] = FakeTicket(
                id=tid,
                subject=subject,
                status=status,
                created_at=created,
                updated_at=created,
                organization_id=organization_id,
                requester_id=requester,
                tags=coupled_tags,
                custom_fields=coupled_fields,
                follower_ids=list(follower_ids),
            )
            description_comment = FakeComment(
                next(self._ids), requester, True, description, created
            )
            self._comments[tid] = [description_comment]
            # The creation's audit: a Create event per set field, status included
            # (Zendesk "Ticket audit events reference": Create), and the description.
            self._audits[tid] = []
            self._audit(
                tid,
                created,
                requester,
                [
                    {"type": "Create", "field_name": "status", "value": status},
                    {
                        "type": "Comment",
                        "id": description_comment.id,
                        "public": True,
                        "body": description,
                    },
                ],
            )
            return tid

    def add_comment(
        self,
        ticket_id: int,
        author_id: int | None,
        *,
        public: bool = True,
        at: datetime | str | None = None,
        body: str = "Reply.",
    ) -> int:
        """Append a comment as if made in the agent UI; bumps ``updated_at``.

        Counts toward the account's ticket-update limit (``count_agent_updates``).
        """
        with self._lock:
            ticket = self._tickets[ticket_id]
            comment = FakeComment(
                next(self._ids), author_id, public, body, _as_stamp(at, self._clock())
            )
            self._comments[ticket_id].append(comment)
            self._bump(ticket)
            self._audit(
                ticket_id,
                comment.created_at,
                author_id,
                [{"type": "Comment", "id": comment.id, "public": public, "body": body}],
            )
            self._count_agent_update()
            return comment.id

    def set_status(
        self,
        ticket_id: int,
        status: str,
        *,
        at: datetime | str | None = None,
        author_id: int | None = None,
    ) -> None:
        """Change the status as an agent would, recorded in an audit made ``at`` (default now)."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            stamp = _as_stamp(at, self._clock())
            previous, ticket.status = ticket.status, status
            self._bump(ticket)
            self._audit(
                ticket_id,
                stamp,
                author_id,
                [
                    {
                        "type": "Change",
                        "field_name": "status",
                        "value": status,
                        "previous_value": previous,
                    }
                ],
            )
            self._count_agent_update()

    def audits(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's audits, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._audits.get(ticket_id, []))

    def _audit(
        self,
        ticket_id: int,
        created_at: str,
        author_id: int | None,
        events: list[dict[str, Any]],
    ) -> None:
        """Record one audit (OAS TicketAuditObject) with its events."""
        for event in events:
            event.setdefault("id", next(self._ids))
        self._audits.setdefault(ticket_id, []).append(
            {
                "id": next(self._ids),
                "ticket_id": ticket_id,
                "created_at": created_at,
                "author_id": author_id if author_id is not None else -1,
                "via": {"channel": "web", "source": {"rel": None}},
                "metadata": {"custom": {}, "system": {}},
                "events": events,
            }
        )

    def update_ticket(self, ticket_id: int, **changes: Any) -> None:
        """Change ticket attributes as an agent would (tags, custom_fields merge).

        Dropdowns stay coupled to their tags; counts toward the account's
        ticket-update limit (``count_agent_updates``), like a UI update.
        """
        with self._lock:
            ticket = self._tickets[ticket_id]
            ticket.tags, ticket.custom_fields = contract.couple_tagger_fields(
                self._taggers(),
                tags=ticket.tags,
                values=ticket.custom_fields,
                sent_tags=set(changes["tags"]) if "tags" in changes else None,
                sent_values=dict(changes.get("custom_fields") or {}),
            )
            previous_status = ticket.status
            for name, value in changes.items():
                if name not in {"custom_fields", "tags"}:
                    setattr(ticket, name, value)
            self._bump(ticket)
            if ticket.status != previous_status:
                self._audit(
                    ticket_id,
                    ticket.updated_at,
                    None,
                    [
                        {
                            "type": "Change",
                            "field_name": "status",
                            "value": ticket.status,
                            "previous_value": previous_status,
                        }
                    ],
                )
            self._count_agent_update()

    def apply_macro(
        self,
        ticket_id: int,
        agent_id: int,
        actions: Sequence[Mapping[str, Any]],
        *,
        typed: str = "",
    ) -> None:
        """Apply a macro in the agent UI, type ``typed`` after its comment, submit.

        One submit is one ticket update by the agent: the tags and the comment
        land together (one ``updated_at``). The actions are those of the
        Actions reference (developer.zendesk.com, "Actions reference", macros):
        ``current_tags`` adds space-separated tags, ``remove_tags`` removes
        them, ``comment_value`` fills the comment box, ``comment_mode_is_public``
        ("true"/"false") makes it a public reply or an internal note; anything
        else is not modelled here and fails loudly.
        """
        with self._lock:
            ticket = self._tickets[ticket_id]
            tags = set(ticket.tags)
            body, public = "", True  # the agent UI opens on a public reply
            for action in actions:
                field, value = action["field"], str(action["value"])
                if field == "current_tags":
                    tags |= set(value.split())
                elif field == "remove_tags":
                    tags -= set(value.split())
                elif field == "comment_value":
                    body = value
                elif field == "comment_mode_is_public":
                    public = value == "true"
                else:
                    raise ValueError(f"macro action {field!r} is not modelled")
            ticket.tags, ticket.custom_fields = contract.couple_tagger_fields(
                self._taggers(),
                tags=ticket.tags,
                values=ticket.custom_fields,
                sent_tags=tags,
                sent_values={},
            )
            text = body + typed
            if text.strip():
                self._comments[ticket_id].append(
                    FakeComment(
                        next(self._ids), agent_id, public, text, _stamp(self._clock())
                    )
                )
            self._bump(ticket)
            self._count_agent_update()

    def delete_ticket(self, ticket_id: int) -> None:
        """Soft-delete a ticket as an agent would.

        Show/Update answer 404 from now on; the incremental export returns it with
        status "deleted" (Incremental Exports, "Excluding deleted tickets").
        """
        with self._lock:
            ticket = self._tickets[ticket_id]
            ticket.status = "deleted"
            self._bump(ticket)

    def archive_ticket(self, ticket_id: int) -> None:
        """Archive a closed ticket: it leaves List Tickets but stays readable.

        support.zendesk.com 4408887617050: closed tickets are archived (usually
        after 120 days) and are then not returned by the ticket list endpoints,
        while Show Ticket, Search and the exports still find them.
        """
        with self._lock:
            ticket = self._tickets[ticket_id]
            if ticket.status != "closed":
                raise ValueError(f"ticket {ticket_id} is {ticket.status}, not closed")
            ticket.archived = True

    def render_trigger_body(self, template: str, ticket_id: int) -> str:
        """``template`` as a trigger's webhook action sends it for the ticket now.

        Placeholders as the Zendesk Support placeholders reference documents
        them (support.zendesk.com/hc/en-us/articles/4408886858138): sent to a
        webhook they render as unformatted text, unescaped; one whose field has
        no value renders blank ("Using placeholders", article 4408887218330);
        ``{{ticket.updated_at_with_timestamp}}`` is ISO 8601 to the minute
        ("2013-12-12T05:35Z"); ``{{ticket.ticket_field_<id>}}`` is the field's
        value, a dropdown's option tag (SECONDARY: placeholder lists in public
        code; the value-vs-title wording is unconfirmed). Others stay as written.
        """
        ticket = self.ticket(ticket_id)
        minute = datetime.fromisoformat(ticket.updated_at).strftime("%Y-%m-%dT%H:%MZ")
        values = {
            "ticket.id": str(ticket.id),
            "ticket.organization.id": str(ticket.organization_id or ""),
            "ticket.updated_at_with_timestamp": minute,
            **{
                f"ticket.ticket_field_{fid}": "" if value is None else str(value)
                for fid, value in ticket.custom_fields.items()
            },
        }
        return re.sub(
            r"\{\{\s*([a-z_.0-9]+)\s*\}\}",
            lambda m: values.get(
                m.group(1),
                "" if m.group(1).startswith("ticket.ticket_field_") else m.group(0),
            ),
            template,
        )

    def ticket(self, ticket_id: int) -> FakeTicket:
        """The ticket's current state (a copy)."""
        with self._lock:
            return copy.deepcopy(self._tickets[ticket_id])

    def comments(self, ticket_id: int) -> list[FakeComment]:
        """The ticket's comments, oldest first (copies)."""
        with self._lock:
            return copy.deepcopy(self._comments[ticket_id])

    # --- faults, log, hooks -----------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        retry_after: float | str | None = None,
        body: Any = None,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (and Retry-After)."""
        with self._lock:
            self._faults.append(
                _Fault(n, status, retry_after, body, 0.0, path_contains, method)
            )

    def delay(
        self,
        seconds: float,
        *,
        path_contains: str | None = None,
        count: int | None = None,
        method: str | None = None,
    ) -> None:
        """Hold matching requests ``seconds`` (``count`` times, or until cleared)."""
        with self._lock:
            self._faults.append(
                _Fault(count, delay=seconds, path_contains=path_contains, method=method)
            )

    def chaos(
        self,
        *,
        throttled: float = 0.0,
        unavailable: float = 0.0,
        hang: float = 0.0,
        retry_after: float = 1.0,
        hang_seconds: float = 30.0,
        seed: int | None = None,
    ) -> None:
        """From now on fail random shares of requests (until ``clear_faults``).

        ``throttled``: 429 with ``Retry-After`` ("Rate limits": Zendesk sends
        it with every 429); ``unavailable``: 503; ``hang``: the answer is held
        ``hang_seconds`` before the request is handled (longer than the
        client's read timeout: it gives up). Counted faults (``fail_next``,
        ``delay``) go first; ``chaos_counts()`` says how many of each were dealt.
        """
        with self._lock:
            self._chaos = _Chaos(
                throttled, unavailable, hang, retry_after, hang_seconds,
                random.Random(seed),
            )  # fmt: skip

    def chaos_counts(self) -> dict[str, int]:
        """How many 429s, 503s and hangs the chaos mode has dealt so far."""
        with self._lock:
            return dict(self._chaos.counts) if self._chaos is not None else {}

    def clear_faults(self) -> None:
        """Drop every pending fault and delay, and stop the chaos mode."""
        with self._lock:
            self._faults.clear()
            self._chaos = None

    def calls(
        self, method: str | None = None, path_contains: str | None = None
    ) -> list[Call]:
        """Logged requests, optionally filtered by method and path substring."""
        with self._lock:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method)
                and (path_contains is None or path_contains in c.path)
            ]

    def reset_calls(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._calls.clear()

    def on_write(self, callback: Callable[[WriteEvent], None]) -> None:
        """Call ``callback`` after each successful API write, once its answer is sent.

        It runs in the server's request thread, like Zendesk firing a webhook
        after it committed an update.
        """
        with self._lock:
            self._write_hooks.append(callback)

    # --- internals ------------------------------------------------------------

    def _new_id(self, taken: Mapping[int, Any]) -> int:
        while True:
            candidate = next(self._ids)
            if candidate not in taken:
                return candidate

    def _new_ticket_id(self) -> int:
        while True:
            candidate = next(self._ticket_ids)
            if candidate not in self._tickets:
                return candidate

    def _drop_unknown_options(
        self,
        path: str,
        taggers: Mapping[int, tuple[str, ...]],
        values: Mapping[int, Any],
    ) -> dict[int, Any]:
        """The sent field values without dropdown values that are not an option tag.

        Zendesk answers 2xx and drops them, no error: zenpy #332 (create with an
        option's title: "the ticket gets created but the value isn't filled";
        the maintainer reproduced it with curl), zenpy #420 (update with a value
        that is not an option "silently fails"), node-zendesk #132 (a dropdown
        value must "match exactly the tag of predefined value otherwise zendesk
        api will just drop you changes of custom value without any errors").
        The 422 with ``details.base`` (zenpy #425) is a date field's. Each drop
        is recorded in ``dropped_values`` (path, field id, value).
        """
        kept: dict[int, Any] = {}
        for fid, value in values.items():
            if fid in taggers and value not in (None, "") and value not in taggers[fid]:
                self.dropped_values.append((path, fid, value))
                continue
            kept[fid] = value
        return kept

    def _taggers(self) -> dict[int, tuple[str, ...]]:
        """Dropdown field id -> its option tags, for the tag coupling."""
        return {
            int(f["id"]): tuple(o["value"] for o in f.get("custom_field_options", ()))
            for f in self._ticket_fields
            if f["type"] == "tagger"
        }

    def _count_agent_update(self) -> None:
        if self.count_agent_updates:
            self._ticket_updates.record()

    def _rate_headers(self) -> dict[str, str]:
        """The account-wide limit headers Zendesk puts on every answer ("Rate limits")."""
        window = self._account_requests
        limit, remaining = str(window.limit), str(window.remaining())
        return {
            "X-Rate-Limit": limit,
            "X-Rate-Limit-Remaining": remaining,
            "ratelimit-limit": limit,
            "ratelimit-remaining": remaining,
            "ratelimit-reset": str(window.resets()),
        }

    def _bump(self, ticket: FakeTicket) -> None:
        """Move ``updated_at`` forward by at least one second (second precision)."""
        previous = datetime.fromisoformat(ticket.updated_at)
        now = self._clock().replace(microsecond=0)
        ticket.updated_at = _stamp(max(now, previous + timedelta(seconds=1)))

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return self.oauth_token is not None and value == self.oauth_token
        if scheme == "Basic":
            try:
                decoded = base64.b64decode(value).decode()
            except ValueError:
                return False
            return decoded == f"{self.email}/token:{self.api_token}"
        return False

    def _take_fault(self, method: str, path: str) -> tuple[float, _Fault | None]:
        """The delay to apply and the failure to answer with, consuming counts."""
        delay, failure = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.status is None:
                    if delay:
                        continue
                    delay = fault.delay
                elif failure is None:
                    failure = fault
                else:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        return delay, failure

    def _handle(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[Reply, WriteEvent | None]:
        parts = urlsplit(target)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        payload: Any = None
        bad_json = False
        ctype = str(headers.get("Content-Type") or "")
        if raw and ctype.startswith("multipart/form-data"):
            payload = parse_multipart(raw, ctype)  # the Apps API's package upload
        elif raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                bad_json = True
        with self._lock:
            self._calls.append(Call(method, path, query, payload, time.monotonic()))
        delay, failure = self._take_fault(method, path)
        if not delay and failure is None:
            with self._lock:
                if self._chaos is not None:
                    delay, failure = self._chaos.roll()
        if delay and self._stopping.wait(delay):
            return Reply(503, {"error": "ShuttingDown"}, {}), None
        if failure is not None:
            fault_headers = {}
            if failure.retry_after is not None:
                fault_headers["Retry-After"] = str(failure.retry_after)
            body = failure.body
            if body is None:
                body = {
                    "error": "InjectedFault",
                    "description": f"HTTP {failure.status}",
                }
            return Reply(failure.status or 500, body, fault_headers), None
        if not self._authorized(headers.get("Authorization")):
            return Reply(401, {"error": "Couldn't authenticate you"}, {}), None
        with self._lock:
            # "Rate limits": every authenticated request counts toward the
            # account's per-minute limit; over it, 429 with Retry-After.
            within_limit = self._account_requests.hit()
            rate_headers = self._rate_headers()
        if not within_limit:
            retry = {"Retry-After": rate_headers["ratelimit-reset"]}
            return Reply(
                429, dict(contract.RATE_LIMITED_BODY), {**rate_headers, **retry}
            ), None
        if bad_json:
            return Reply(
                400, {"error": "InvalidJSON", "description": "bad body"}, rate_headers
            ), None
        routes = (*_ROUTES, *ADMIN_ROUTES, *APPS_ROUTES, *SCHEDULE_ROUTES)
        for verb, pattern, name in routes:
            match = pattern.match(path)
            if match and verb == method:
                raw = match.group(1) if match.groups() else None
                # Webhook ids are string ULIDs; every other id is a number.
                arg = int(raw) if raw is not None and raw.isdigit() else raw
                with self._lock:
                    reply, event = getattr(self, name)(arg, query, payload)
                return reply._replace(headers={**rate_headers, **reply.headers}), event
        return Reply(
            404, {"error": "InvalidEndpoint", "description": "Not found"}, rate_headers
        ), None

    @staticmethod
    def _not_found() -> tuple[Reply, None]:
        return Reply(
            404, {"error": "RecordNotFound", "description": "Not found"}, {}
        ), None

    @staticmethod
    def _ok(
        body: Any, event: WriteEvent | None = None
    ) -> tuple[Reply, WriteEvent | None]:
        return Reply(200, body, {}), event

    # Route handlers run under the lock.

    def _live_ticket(self, tid: int) -> FakeTicket | None:
        """The ticket unless unknown or deleted (Show/Update answer 404 for those)."""
        ticket = self._tickets.get(tid)
        return None if ticket is None or ticket.status == "deleted" else ticket

    @staticmethod
    def _limited(window: SlidingWindow, body: Mapping[str, Any]) -> tuple[Reply, None]:
        """429 with Retry-After ("Rate limits": wait the Retry-After interval)."""
        return Reply(429, dict(body), {"Retry-After": str(window.resets())}), None

    @staticmethod
    def _bad_request(description: str) -> tuple[Reply, None]:
        return Reply(
            400, {"error": "InvalidValue", "description": description}, {}
        ), None

    def _get_ticket(self, tid: int, query: Any, payload: Any) -> Any:
        ticket = self._live_ticket(tid)
        if ticket is None:
            return self._not_found()
        body: dict[str, Any] = {"ticket": ticket.to_json()}
        # Side-Loading page ("Supported endpoints": tickets): `comment_count`
        # is added as a property of the ticket (Tickets page), `organizations`
        # is a root array of OrganizationObject; other names are ignored here.
        includes = {i.strip() for i in str(query.get("include", "")).split(",")}
        if "comment_count" in includes:
            body["ticket"]["comment_count"] = len(self._comments.get(tid, ()))
        if "organizations" in includes:
            oid = ticket.organization_id
            body["organizations"] = (
                [copy.deepcopy(self._orgs[oid])] if oid in self._orgs else []
            )
        return self._ok(body)

    def _export(self, _: Any, query: Mapping[str, str], payload: Any) -> Any:
        # Incremental Exports, "Rate limits": up to 10 requests per minute.
        if not self._export_requests.hit():
            return self._limited(self._export_requests, contract.RATE_LIMITED_BODY)
        now = int(self._clock().timestamp())
        # Cursor = "<epoch of the last ticket returned>:<its id>", opaque to clients.
        try:
            if "cursor" in query:
                since_s, after_id_s = query["cursor"].split(":")
                since, after_id = int(since_s), int(after_id_s)
            elif "start_time" in query:
                since, after_id = int(query["start_time"]), -1
                # start_time must be at least one minute in the past
                # (EXPORT_MIN_START_AGE_SECONDS in tests/zendesk_contract.py).
                if since > now - self.export_min_start_age_seconds:
                    body = dict(contract.TOO_RECENT_START_TIME_BODY)
                    return Reply(422, body, {}), None
            else:
                return self._bad_request("start_time")
            per_page = int(query.get("per_page", contract.EXPORT_PAGE_LIMIT))
        except ValueError:
            return self._bad_request("start_time, cursor or per_page")
        # `per_page`: at most 1,000 (Incremental Exports); the fake may use less.
        size = max(1, min(per_page, contract.EXPORT_PAGE_LIMIT, self.export_page_size))
        # Deleted tickets are included unless exclude_deleted=true ("Excluding
        # deleted tickets"); archived ones are too (HC 4408887617050).
        exclude_deleted = query.get("exclude_deleted", "").lower() == "true"
        until = now - self.export_lag_seconds

        def epoch(t: FakeTicket) -> int:
            return int(datetime.fromisoformat(t.updated_at).timestamp())

        changed = sorted(
            (
                t
                for t in self._tickets.values()
                if since <= epoch(t) <= until
                and not (exclude_deleted and t.status == "deleted")
            ),
            key=lambda t: (epoch(t), t.id),
        )
        changed = [t for t in changed if (epoch(t), t.id) > (since, after_id)]
        page = changed[:size]
        last = page[-1] if page else None
        cursor = f"{epoch(last)}:{last.id}" if last else f"{since}:{after_id}"
        return self._ok(
            {
                "tickets": [t.to_json() for t in page],
                "after_cursor": cursor,
                "after_url": f"{self.url}/api/v2/incremental/tickets/cursor.json?cursor={cursor}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": len(changed) <= size,
            }
        )

    def _comment_cursor_page(
        self, tid: int, comments: list[FakeComment], query: Mapping[str, str]
    ) -> Any:
        # List Comments, "Sorting": with cursor pagination `sort` is "created_at"
        # (ascending, the default) or "-created_at"; "Pagination": page[size] at
        # most 100, meta.has_more/after_cursor and links.next. Only the first
        # page is modelled (a page[after] is refused, not guessed at).
        sort = query.get("sort", "created_at")
        if sort not in {"created_at", "-created_at"} or query.get("page[after]"):
            return self._bad_request(f"comments sort {sort}")
        try:
            size = max(1, min(int(query["page[size]"]), contract.LIST_PAGE_LIMIT))
        except ValueError:
            return self._bad_request("pagination parameters")
        ordered = sorted(
            comments, key=lambda c: (c.created_at, c.id), reverse=sort == "-created_at"
        )
        chunk = ordered[:size]
        body: dict[str, Any] = {
            "comments": [c.to_json() for c in chunk],
            "meta": {
                "has_more": len(ordered) > size,
                "after_cursor": str(chunk[-1].id) if chunk else None,
                "before_cursor": str(chunk[0].id) if chunk else None,
            },
            "links": {"next": None, "prev": None},
        }
        if len(ordered) > size and chunk:
            after = {"page[size]": str(size), "page[after]": str(chunk[-1].id)}
            body["links"]["next"] = (
                f"{self.url}/api/v2/tickets/{tid}/comments.json?"
                f"{urlencode(dict(after, sort=sort))}"
            )
        if "users" in query.get("include", "").split(","):
            authors = sorted({c.author_id for c in chunk if c.author_id is not None})
            body["users"] = [self._users[a] for a in authors if a in self._users]
        return self._ok(body)

    def _get_comments(self, tid: int, query: Mapping[str, str], payload: Any) -> Any:
        if self._live_ticket(tid) is None:
            return self._not_found()
        comments = self._comments[tid]
        if "page[size]" in query:
            return self._comment_cursor_page(tid, comments, query)
        size = max(1, int(query.get("per_page", self.comments_page_size)))
        page = max(1, int(query.get("page", 1)))
        chunk = comments[(page - 1) * size : page * size]
        more = page * size < len(comments)
        body: dict[str, Any] = {
            "comments": [c.to_json() for c in chunk],
            "count": len(comments),
            "previous_page": None,
            "next_page": None,
        }
        if more:
            next_query = dict(query, page=str(page + 1), per_page=str(size))
            body["next_page"] = (
                f"{self.url}/api/v2/tickets/{tid}/comments.json?{urlencode(next_query)}"
            )
        if "users" in query.get("include", "").split(","):
            authors = sorted({c.author_id for c in chunk if c.author_id is not None})
            body["users"] = [self._users[a] for a in authors if a in self._users]
        return self._ok(body)

    def _get_audits(self, tid: int, query: Mapping[str, str], payload: Any) -> Any:
        """List Audits for a Ticket (OAS ListAuditsForTicket, TicketAuditsResponseNoneCursor).

        Offset pagination, "a maximum of 100 records per page", oldest first
        (the OAS example; Zendesk lists a ticket's audits in creation order).
        The fake serves offset pages only (the answer's schema in the OAS is
        the offset one: ``audits``, ``count``, ``next_page``, ``previous_page``).
        """
        if self._live_ticket(tid) is None:
            return self._not_found()
        audits = self._audits.get(tid, [])
        size = max(1, min(int(query.get("per_page", 100)), self.audits_page_size))
        page = max(1, int(query.get("page", 1)))
        chunk = audits[(page - 1) * size : page * size]
        body: dict[str, Any] = {
            "audits": copy.deepcopy(chunk),
            "count": len(audits),
            "previous_page": None,
            "next_page": None,
        }
        if page * size < len(audits):
            next_query = dict(query, page=str(page + 1), per_page=str(size))
            body["next_page"] = (
                f"{self.url}/api/v2/tickets/{tid}/audits.json?{urlencode(next_query)}"
            )
        return self._ok(body)

    def _get_me(self, _: Any, query: Any, payload: Any) -> Any:
        return self._ok({"user": dict(self._users[self.api_user_id])})

    def _get_user(self, uid: int, query: Any, payload: Any) -> Any:
        if uid not in self._users:
            return self._not_found()
        return self._ok({"user": dict(self._users[uid])})

    def _get_org(self, oid: int, query: Any, payload: Any) -> Any:
        if oid not in self._orgs:
            return self._not_found()
        return self._ok({"organization": copy.deepcopy(self._orgs[oid])})

    def _search(self, _: Any, query: Mapping[str, str], payload: Any) -> Any:
        # Only the queries the sidecar sends: an organization's (unsolved) tickets.
        match = re.fullmatch(
            r"type:ticket organization:(\d+)( status<solved)?", query.get("query", "")
        )
        if match is None:
            return Reply(400, {"error": "unsupported query in the fake"}, {}), None
        org_id = int(match.group(1))
        unsolved_only = match.group(2) is not None
        # Search page: new tickets can take "up to a few minutes" to be indexed.
        indexed_by = self._clock() - timedelta(seconds=self.search_index_lag_seconds)
        found = [
            t
            for tid, t in sorted(self._tickets.items())
            if t.organization_id == org_id
            and t.status != "deleted"
            and (not unsolved_only or t.status in contract.UNSOLVED_STATUSES)
            and datetime.fromisoformat(t.created_at) <= indexed_by
        ]
        # Search page, "Results limit": 100 per page at most, 1,000 results per
        # query; a page past that is a 422. `count` is the true total, and
        # next_page still points past the limit (zenpy #371 follows it into the 422).
        size = max(1, min(int(query.get("per_page", 100)), contract.SEARCH_PAGE_LIMIT))
        page = max(1, int(query.get("page", 1)))
        start = (page - 1) * size
        if start >= contract.SEARCH_RESULT_LIMIT:
            return Reply(422, dict(contract.SEARCH_LIMIT_BODY), {}), None
        chunk = found[start : min(page * size, contract.SEARCH_RESULT_LIMIT)]
        more = page * size < len(found)
        next_page = (
            f"{self.url}/api/v2/search.json?"
            + urlencode({"query": query["query"], "per_page": size, "page": page + 1})
            if more
            else None
        )
        return self._ok(
            {
                "results": [{**t.to_json(), "result_type": "ticket"} for t in chunk],
                "count": len(found),
                "next_page": next_page,
            }
        )

    def _list_tickets(self, _: Any, query: Mapping[str, str], payload: Any) -> Any:
        return self._ticket_list("/api/v2/tickets.json", None, query)

    def _list_org_tickets(
        self, oid: int, query: Mapping[str, str], payload: Any
    ) -> Any:
        if oid not in self._orgs:
            return self._not_found()
        path = f"/api/v2/organizations/{oid}/tickets.json"
        return self._ticket_list(path, oid, query)

    # Tickets page, List Tickets: cursor `sort` takes id, updated_at, status
    # (prefix "-" for descending; default id ascending); offset takes sort_by +
    # sort_order (a subset of the documented keys is modelled).
    _CURSOR_SORTS = frozenset({"id", "updated_at", "status"})
    _OFFSET_SORTS = frozenset({"id", "created_at", "updated_at", "status", "subject"})

    def _ticket_list(
        self, path: str, org_id: int | None, query: Mapping[str, str]
    ) -> Any:
        # List Tickets: archived tickets are not returned; deleted ones live at
        # /api/v2/deleted_tickets instead.
        listed = [
            t
            for t in self._tickets.values()
            if not t.archived
            and t.status != "deleted"
            and (org_id is None or t.organization_id == org_id)
        ]
        try:
            if "page[size]" in query:
                return self._ticket_cursor_page(path, listed, query)
            return self._ticket_offset_page(path, listed, query)
        except (ValueError, TypeError):
            return self._bad_request("pagination parameters")

    def _ticket_cursor_page(
        self, path: str, listed: list[FakeTicket], query: Mapping[str, str]
    ) -> Any:
        # "Pagination": page[size] at most 100; meta.has_more/after_cursor and
        # links.next; the cursor is opaque (here: the last row's sort key).
        size = max(1, min(int(query["page[size]"]), contract.LIST_PAGE_LIMIT))
        sort = query.get("sort", "id")
        name = sort.removeprefix("-")
        if name not in self._CURSOR_SORTS:
            return self._bad_request(f"sort {sort}")
        descending = sort.startswith("-")

        def key(t: FakeTicket) -> tuple[Any, ...]:
            return (t.id,) if name == "id" else (getattr(t, name), t.id)

        ordered = sorted(listed, key=key, reverse=descending)
        if query.get("page[after]"):
            last = tuple(json.loads(base64.urlsafe_b64decode(query["page[after]"])))
            ordered = [
                t for t in ordered if (key(t) < last if descending else key(t) > last)
            ]
        chunk = ordered[:size]

        def cursor(t: FakeTicket) -> str:
            return base64.urlsafe_b64encode(json.dumps(list(key(t))).encode()).decode()

        more = len(ordered) > size
        after = cursor(chunk[-1]) if chunk else None
        next_url = None
        if more and after is not None:
            params = {"page[size]": str(size), "page[after]": after}
            if "sort" in query:
                params["sort"] = sort
            next_url = f"{self.url}{path}?{urlencode(params)}"
        return self._ok(
            {
                "tickets": [t.to_json() for t in chunk],
                "meta": {
                    "has_more": more,
                    "after_cursor": after,
                    "before_cursor": cursor(chunk[0]) if chunk else None,
                },
                "links": {"next": next_url, "prev": None},
            }
        )

    def _ticket_offset_page(
        self, path: str, listed: list[FakeTicket], query: Mapping[str, str]
    ) -> Any:
        size = max(1, min(int(query.get("per_page", 100)), contract.LIST_PAGE_LIMIT))
        page = max(1, int(query.get("page", 1)))
        start = (page - 1) * size
        if start >= contract.OFFSET_RECORD_LIMIT:
            return Reply(400, dict(contract.OFFSET_LIMIT_BODY), {}), None
        name = query.get("sort_by", "id")
        if name not in self._OFFSET_SORTS:
            return self._bad_request(f"sort_by {name}")
        ordered = sorted(
            listed,
            key=lambda t: (getattr(t, name), t.id),
            reverse=query.get("sort_order", "asc") == "desc",
        )
        chunk = ordered[start : page * size]

        def page_url(number: int) -> str:
            params = {k: v for k, v in query.items() if k not in {"page", "per_page"}}
            params.update(page=str(number), per_page=str(size))
            return f"{self.url}{path}?{urlencode(params)}"

        return self._ok(
            {
                "tickets": [t.to_json() for t in chunk],
                "count": len(ordered),
                "next_page": page_url(page + 1) if page * size < len(ordered) else None,
                "previous_page": page_url(page - 1) if page > 1 else None,
            }
        )

    def _list_orgs(self, _: Any, query: Mapping[str, str], payload: Any) -> Any:
        # Cursor pagination; the cursor is the last id returned, opaque to clients.
        size = max(1, min(int(query.get("page[size]", 100)), self.orgs_page_size))
        after = int(query.get("page[after]", 0))
        rest = [self._orgs[oid] for oid in sorted(self._orgs) if oid > after]
        chunk = rest[:size]
        more = len(rest) > size
        cursor = str(chunk[-1]["id"]) if chunk else None
        next_url = None
        if more:
            next_query = urlencode({"page[size]": str(size), "page[after]": cursor})
            next_url = f"{self.url}/api/v2/organizations.json?{next_query}"
        return self._ok(
            {
                "organizations": copy.deepcopy(chunk),
                "meta": {"has_more": more, "after_cursor": cursor},
                "links": {"next": next_url},
            }
        )

    def _search_orgs(self, _: Any, query: Mapping[str, str], payload: Any) -> Any:
        # OAS SearchOrganizations: by `external_id` or `name`, "but not both";
        # either must match exactly, case-insensitively.
        key = "external_id" if "external_id" in query else "name"
        wanted = query.get(key)
        if not wanted or ("external_id" in query and "name" in query):
            return Reply(
                400, {"error": "InvalidValue", "description": "external_id"}, {}
            ), None
        found = [
            copy.deepcopy(org)
            for org in sorted(self._orgs.values(), key=lambda o: o["id"])
            if str(org.get(key) or "").casefold() == wanted.casefold()
        ]
        return self._ok(
            {
                "organizations": found,
                "count": len(found),
                "next_page": None,
                "previous_page": None,
            }
        )

    def _put_org(self, oid: int, query: Any, payload: Any) -> Any:
        if oid not in self._orgs:
            return self._not_found()
        org = payload.get("organization") if isinstance(payload, dict) else None
        if not isinstance(org, dict):
            return Reply(400, {"error": "InvalidJSON"}, {}), None
        current = self._orgs[oid]
        before = copy.deepcopy(current)
        current["organization_fields"].update(org.get("organization_fields") or {})
        for key in ("name", "external_id"):
            if key in org:
                current[key] = org[key]
        changed = current != before
        if changed:
            current["updated_at"] = _stamp(self._clock())
        event = WriteEvent(
            "organization", oid, payload, changed, user_id=self.api_user_id
        )
        return self._ok({"organization": copy.deepcopy(current)}, event)

    def _get_org_fields(self, _: Any, query: Any, payload: Any) -> Any:
        fields = copy.deepcopy(self._org_fields)
        return self._ok(
            {"organization_fields": fields, "next_page": None, "count": len(fields)}
        )

    def _get_ticket_fields(self, _: Any, query: Any, payload: Any) -> Any:
        fields = copy.deepcopy(self._ticket_fields)
        return self._ok(
            {"ticket_fields": fields, "next_page": None, "count": len(fields)}
        )

    def _put_ticket(self, tid: int, query: Any, payload: Any) -> Any:
        limited = self._take_ticket_update(tid)
        if limited is not None:
            return limited
        reply, event = self._apply_ticket_update(tid, payload)
        header = {UPDATE_LIMIT_HEADER: self._ticket_updates.header()}
        return reply._replace(headers={**header, **reply.headers}), event

    def _take_ticket_update(self, tid: int) -> tuple[Reply, None] | None:
        """Count one Update Ticket request; a 429 if a limit is exhausted.

        Tickets page, Update Ticket "Limits": 100 per account per minute and 30
        per (user + ticket) per 10 minutes, reported in
        ``Zendesk-RateLimit-tickets-update: total=..; remaining=..; resets=..``.
        """
        body = contract.TICKET_UPDATE_RATE_LIMITED_BODY
        if not self._ticket_updates.hit():
            reply, _ = self._limited(self._ticket_updates, body)
            header = {UPDATE_LIMIT_HEADER: self._ticket_updates.header()}
            return reply._replace(headers={**reply.headers, **header}), None
        per_ticket = self._user_ticket_updates.setdefault(
            (self.api_user_id, tid),
            SlidingWindow(
                self._user_ticket_limit, self._user_ticket_window, self._rate_clock
            ),
        )
        if not per_ticket.hit():
            reply, _ = self._limited(per_ticket, body)
            header = {UPDATE_LIMIT_HEADER: per_ticket.header()}
            return reply._replace(headers={**reply.headers, **header}), None
        return None

    def _apply_ticket_update(self, tid: int, payload: Any) -> Any:
        ticket = self._live_ticket(tid)
        if ticket is None:
            return self._not_found()
        update = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(update, dict):
            return Reply(
                400, {"error": "InvalidJSON", "description": "no ticket"}, {}
            ), None
        # OAS `TicketUpdateInput` lists what a single-ticket update accepts; the
        # rest (additional_tags/remove_tags: "Adding tags to tickets without
        # overwriting existing tags") has no effect here and is recorded.
        accepted = contract.TICKET_UPDATE_PROPERTIES | (
            contract.TICKET_UPDATE_DOCUMENTED_EXTRAS
        )
        path = f"/api/v2/tickets/{tid}.json"
        for name in update:
            if name not in accepted:
                self.ignored_properties.append((path, name))
        update = {name: value for name, value in update.items() if name in accepted}
        # A closed ticket refuses every update (CLOSED_TICKET_BODY). Checked before
        # the safe-update stamp: the real order is not documented, and this one
        # also sends a ticket closed between a read and a write into the 422.
        if ticket.status == "closed":
            return Reply(422, copy.deepcopy(contract.CLOSED_TICKET_BODY), {}), None
        # "A value of false has the same effect as true. Omit the property to force
        # the updates to not be safe." (Zendesk ticket JSON reference)
        if "safe_update" in update and update.get("updated_stamp") != ticket.updated_at:
            return Reply(409, dict(CONFLICT_BODY), {}), None
        taggers = self._taggers()
        sent_values = {
            int(item["id"]): item.get("value")
            for item in update.get("custom_fields") or ()
        }
        sent_values = self._drop_unknown_options(path, taggers, sent_values)
        before = copy.deepcopy(ticket)
        events: list[dict[str, Any]] = []
        # The ticket's `tags` property: a sent list replaces the tag set; dropdowns
        # follow their option tags (contract.couple_tagger_fields).
        ticket.tags, ticket.custom_fields = contract.couple_tagger_fields(
            taggers,
            tags=ticket.tags,
            values=ticket.custom_fields,
            sent_tags=set(update["tags"] or ()) if "tags" in update else None,
            sent_values=sent_values,
        )
        for follower in update.get("followers") or ():
            uid = int(follower["user_id"])
            if follower.get("action", "put") == "delete":
                if uid in ticket.follower_ids:
                    ticket.follower_ids.remove(uid)
            elif uid not in ticket.follower_ids:
                ticket.follower_ids.append(uid)
        for key in ("subject", "status"):
            if key in update:
                setattr(ticket, key, update[key])
        comment = update.get("comment")
        if isinstance(comment, dict):
            new = FakeComment(
                next(self._ids),
                int(comment.get("author_id") or self.api_user_id),
                bool(comment.get("public", True)),
                str(comment.get("body") or comment.get("html_body") or ""),
                _stamp(self._clock()),
            )
            self._comments[tid].append(new)
            events.append({"type": "Comment", "id": new.id, "public": new.public})
        changed = bool(events) or ticket != before
        if ticket.tags != before.tags:
            events.append(
                {
                    "type": "Change",
                    "field_name": "tags",
                    "value": sorted(ticket.tags),
                    "previous_value": sorted(before.tags),
                }
            )
        for fid, value in sorted(ticket.custom_fields.items()):
            if before.custom_fields.get(fid) != value:
                events.append(
                    {"type": "Change", "field_name": str(fid), "value": value}
                )
        if ticket.status != before.status:
            events.append(
                {
                    "type": "Change",
                    "field_name": "status",
                    "value": ticket.status,
                    "previous_value": before.status,
                }
            )
        if changed:
            self._bump(ticket)
        audit = {
            "id": next(self._ids),
            "ticket_id": tid,
            "created_at": ticket.updated_at,
            "author_id": self.api_user_id,
            "via": {"channel": "api", "source": {"rel": None}},
            "metadata": {"custom": update.get("metadata") or {}},
            "events": events,
        }
        if changed:
            self._audits.setdefault(tid, []).append(copy.deepcopy(audit))
        event = WriteEvent("ticket", tid, payload, changed, user_id=self.api_user_id)
        return self._ok({"ticket": ticket.to_json(), "audit": audit}, event)

    # --- metric sets: `include=metric_sets` on the incremental export (issue 13) ---
    #
    # A metric set is the Ticket Metrics object (OAS TicketMetricObject): `replies`
    # = "number of public replies added to a ticket by an agent",
    # `reply_time_in_minutes` = {calendar, business} first reply time. The
    # export accepts "Tickets sideloads" except last_audits (Incremental Exports
    # page), and unknown `include` values are ignored (zendesk-more.md §4).
    # Where the sideload sits is UNCONFIRMED: singer-io/tap-zendesk reads
    # `ticket["metric_set"]` from the cursor export, so that is the default;
    # `metric_sets_placement = "root"` serves a root `metric_sets` array keyed
    # by `ticket_id` instead. Values Zendesk does not document (rounding of the
    # minutes, nulls before a reply) follow the fake's choice: whole minutes,
    # floored; null before the first reply. Zendesk's business minutes need its
    # schedules, which the fake has not: `business` is always null.

    metric_sets_placement = "ticket"  # or "root"

    def _metric_set_overrides(self) -> dict[int, dict[str, Any] | None]:
        return self.__dict__.setdefault("_metric_sets_overridden", {})

    def set_metric_set(self, ticket_id: int, **values: Any) -> None:
        """Override parts of a ticket's metric set (e.g. ``solved_at=...``)."""
        with self._lock:
            current = self._metric_set_overrides().get(ticket_id) or {}
            self._metric_set_overrides()[ticket_id] = {**current, **values}

    def drop_metric_set(self, ticket_id: int) -> None:
        """Leave the ticket's metric set out of the export (a ticket without one)."""
        with self._lock:
            self._metric_set_overrides()[ticket_id] = None

    def metric_set(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket's metric set as the export's sideload shows it."""
        with self._lock:
            overrides = self._metric_set_overrides()
            if ticket_id in overrides and overrides[ticket_id] is None:
                return None
            ticket = self._tickets[ticket_id]
            created = datetime.fromisoformat(ticket.created_at)
            agents = {
                uid
                for uid, user in self._users.items()
                if user.get("role") in ("agent", "admin")
            }
            comments = sorted(self._comments[ticket_id], key=lambda c: c.created_at)
            replies = [c for c in comments[1:] if c.public and c.author_id in agents]
            minutes = None
            if replies:
                first = datetime.fromisoformat(replies[0].created_at)
                minutes = int((first - created).total_seconds() // 60)
            metric: dict[str, Any] = {
                "id": ticket_id + 1_000_000,
                "ticket_id": ticket_id,
                "url": f"{self.url}/api/v2/ticket_metrics/{ticket_id + 1_000_000}.json",
                "created_at": ticket.created_at,
                "updated_at": ticket.updated_at,
                "replies": len(replies),
                "reply_time_in_minutes": {"calendar": minutes, "business": None},
                "solved_at": None,
            }
            metric.update(overrides.get(ticket_id) or {})
            return metric

    def _export_with_sideloads(
        self, arg: Any, query: Mapping[str, str], payload: Any
    ) -> Any:
        reply, event = self._export(arg, query, payload)
        includes = {i.strip() for i in query.get("include", "").split(",")}
        if reply.status != 200 or "metric_sets" not in includes:
            return reply, event
        body = dict(reply.body)
        tickets = [dict(t) for t in body.get("tickets") or ()]
        sets = {t["id"]: self.metric_set(t["id"]) for t in tickets}
        if self.metric_sets_placement == "root":
            body["metric_sets"] = [m for m in sets.values() if m is not None]
        else:
            for t in tickets:
                if sets[t["id"]] is not None:
                    t["metric_set"] = sets[t["id"]]
        body["tickets"] = tickets
        return Reply(reply.status, body, reply.headers), event

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so nothing lingers at stop().
            protocol_version = "HTTP/1.0"

            def date_time_string(self, timestamp: float | None = None) -> str:
                """The Date header: the account's clock (``date_offset_seconds`` off ours)."""
                now = time.time() if timestamp is None else timestamp
                return email.utils.formatdate(
                    now + fake.date_offset_seconds, usegmt=True
                )

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    reply, event = fake._handle(
                        self.command, self.path, self.headers, raw
                    )
                except Exception as exc:  # a fake bug must surface, not hang a test
                    fake.errors.append(exc)
                    reply, event = Reply(500, {"error": "FakeZendeskBug"}, {}), None
                if isinstance(reply.body, bytes | str):
                    data = (
                        reply.body.encode()
                        if isinstance(reply.body, str)
                        else reply.body
                    )
                    ctype = "text/html; charset=utf-8"
                else:
                    data = json.dumps(reply.body).encode()
                    ctype = "application/json; charset=utf-8"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (timeout test); nothing to answer
                if event is not None:
                    with fake._lock:
                        hooks = list(fake._write_hooks)
                    for hook in hooks:
                        try:
                            hook(event)
                        except Exception as exc:  # reported via fake.errors
                            fake.errors.append(exc)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet; the request log is ``fake.calls()``."""

        return Handler


# === Slack app routes (issue 12) =============================================
# Create Ticket, List Tickets by external id, Search Users by email: what the
# Slack app (sidecar/slack) calls. Kept in this separate section so the strict
# contract work above stays untouched: the handlers are attached to FakeZendesk
# here and their routes go first in _ROUTES (other List Tickets calls fall
# through to ``_list_tickets``). Sources, rule by rule:
# - OAS `CreateTicket`: 201, a `Location` header, body `TicketResponse` {ticket}.
# - Tickets page: only `comment` is required; "Creating a ticket with a new
#   requester": `requester: {name, email}`; if a user with that email exists it
#   is used and not updated, otherwise name and email are both required.
# - OAS `TicketCreateInput.organization_id`: "You can only specify the ID of an
#   organization associated with the requester" (the 422 shape below is the
#   RecordInvalid shape of zendesk-more.md §9; the exact wording is UNCONFIRMED).
# - OAS `ListTickets` `external_id`: not unique, "may return multiple tickets".
# - OAS `SearchUsers` `query`: Zendesk search syntax; only `email:<address>` is
#   modelled, anything else is refused so a new use cannot pass by accident.


def _slack_record_invalid(field_name: str, description: str) -> tuple[Reply, None]:
    return Reply(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {
                field_name: [{"description": description, "error": "InvalidValue"}]
            },
        },
        {},
    ), None


def _slack_state(fake: FakeZendesk) -> dict[str, Any]:
    state = fake.__dict__.get("_slack_state")
    if state is None:
        state = fake.__dict__["_slack_state"] = {"external": {}, "members": {}}
    return state


def _add_membership(self: FakeZendesk, user_id: int, org_id: int) -> None:
    """Make ``user_id`` a member of ``org_id`` (Organization Memberships)."""
    with self._lock:
        _slack_state(self)["members"].setdefault(user_id, set()).add(org_id)


def _ticket_external_id(self: FakeZendesk, ticket_id: int) -> str | None:
    """The external id a ticket was created with."""
    with self._lock:
        value: str | None = _slack_state(self)["external"].get(ticket_id)
        return value


def _tickets_with_external_id(self: FakeZendesk, external_id: str) -> list[int]:
    """Ids of the tickets carrying ``external_id``."""
    with self._lock:
        found = _slack_state(self)["external"].items()
        return sorted(tid for tid, ext in found if ext == external_id)


def _slack_ticket_json(self: FakeZendesk, ticket: FakeTicket) -> dict[str, Any]:
    return {
        **ticket.to_json(),
        "external_id": _slack_state(self)["external"].get(ticket.id),
    }


def _create_ticket(self: FakeZendesk, _: Any, query: Any, payload: Any) -> Any:
    ticket = payload.get("ticket") if isinstance(payload, dict) else None
    if not isinstance(ticket, dict):
        return self._bad_request("ticket")
    comment = ticket.get("comment")
    text = (
        str(comment.get("body") or comment.get("html_body") or "")
        if isinstance(comment, dict)
        else ""
    )
    if not text:
        return _slack_record_invalid("description", "Description: cannot be blank")
    state = _slack_state(self)
    requester_id: int
    if "requester" in ticket:
        wanted = ticket["requester"] if isinstance(ticket["requester"], dict) else {}
        email = str(wanted.get("email") or "")
        if not email:
            return _slack_record_invalid("requester", "Requester: email is required")
        existing = next(
            (
                uid
                for uid, user in sorted(self._users.items())
                if str(user.get("email") or "").casefold() == email.casefold()
            ),
            None,
        )
        if existing is not None:
            requester_id = existing  # used and not updated
        elif not wanted.get("name"):
            return _slack_record_invalid("requester", "Requester: name is required")
        else:
            requester_id = self.add_user(name=str(wanted["name"]), email=email)
    elif ticket.get("requester_id") is not None:
        requester_id = int(ticket["requester_id"])
        if requester_id not in self._users:
            return _slack_record_invalid("requester", "Requester: is invalid")
    else:
        requester_id = self.api_user_id
    members = state["members"].get(requester_id, set())
    org_id = ticket.get("organization_id")
    if org_id is not None:
        if int(org_id) not in self._orgs or int(org_id) not in members:
            return _slack_record_invalid(
                "organization_id", "Organization: is not associated with the requester"
            )
        org_id = int(org_id)
    elif len(members) == 1:
        org_id = next(iter(members))  # the requester's organization
    fields = self._drop_unknown_options(
        "/api/v2/tickets.json",
        self._taggers(),
        {
            int(item["id"]): item.get("value")
            for item in ticket.get("custom_fields") or ()
            if isinstance(item, dict) and "id" in item
        },
    )
    tid = self.add_ticket(
        subject=str(ticket.get("subject") or text.splitlines()[0][:80]),
        organization_id=org_id,
        requester_id=requester_id,
        tags=[str(t) for t in ticket.get("tags") or ()],
        custom_fields=fields,
        description=text,
    )
    if ticket.get("external_id") is not None:
        state["external"][tid] = str(ticket["external_id"])
    body = {"ticket": _slack_ticket_json(self, self._tickets[tid])}
    event = WriteEvent("ticket", tid, payload, True, user_id=self.api_user_id)
    headers = {"Location": f"{self.url}/api/v2/tickets/{tid}.json"}
    return Reply(201, body, headers), event


def _list_tickets_by_external_id(
    self: FakeZendesk, arg: Any, query: Mapping[str, str], payload: Any
) -> Any:
    if "external_id" not in query:
        return self._list_tickets(arg, query, payload)
    wanted = query["external_id"]
    found = [
        _slack_ticket_json(self, self._tickets[tid])
        for tid, ext in sorted(_slack_state(self)["external"].items())
        if ext == wanted and tid in self._tickets
    ]
    return self._ok(
        {
            "tickets": found,
            "count": len(found),
            "next_page": None,
            "previous_page": None,
        }
    )


def _search_users(
    self: FakeZendesk, _: Any, query: Mapping[str, str], payload: Any
) -> Any:
    match = re.fullmatch(r"email:(\S+)", query.get("query", "").strip())
    if match is None:
        return Reply(400, {"error": "unsupported user query in the fake"}, {}), None
    wanted = match.group(1).casefold()
    users = [
        dict(user)
        for _, user in sorted(self._users.items())
        if str(user.get("email") or "").casefold() == wanted
    ]
    return self._ok({"users": users, "count": len(users), "next_page": None})


FakeZendesk.add_membership = _add_membership  # type: ignore[attr-defined]
FakeZendesk.ticket_external_id = _ticket_external_id  # type: ignore[attr-defined]
FakeZendesk.tickets_with_external_id = _tickets_with_external_id  # type: ignore[attr-defined]
FakeZendesk._create_ticket = _create_ticket  # type: ignore[attr-defined]
FakeZendesk._list_tickets_by_external_id = _list_tickets_by_external_id  # type: ignore[attr-defined]
FakeZendesk._search_users = _search_users  # type: ignore[attr-defined]
_ROUTES[:0] = [
    ("POST", re.compile(r"^/api/v2/tickets(?:\.json)?$"), "_create_ticket"),
    (
        "GET",
        re.compile(r"^/api/v2/tickets(?:\.json)?$"),
        "_list_tickets_by_external_id",
    ),
    ("GET", re.compile(r"^/api/v2/users/search(?:\.json)?$"), "_search_users"),
]
# === end of the Slack app routes ===============================================


# === Search count (issue 14: open SLA tickets by status) ======================
# What sidecar.tasks.open_counts sends, in a section of its own. Sources:
# - OAS `CountSearchResults`: GET /api/v2/search/count, `query` required,
#   "Returns the number of items matching the query rather than the items. The
#   search string works the same as a regular search"; 200 body
#   `SearchCountResponse` {"count": integer}.
# - Search page, syntax examples: `status<solved` = unsolved tickets
#   (new, open, pending, hold); `type:ticket` limits to tickets; "It can take up
#   to a few minutes for new tickets ... to be indexed" (modelled, as in
#   `_search`, by `search_index_lag_seconds` on creation).
# - Zendesk Support search reference, ticket property keywords: `tags:<tag>`.
# - The count is the true total, even beyond Search's 1,000-result cap (Search
#   page, "Results limit").
# Only `type:ticket status<solved tags:<tag>` is modelled; anything else is
# refused, so a new query cannot pass by accident.


def _search_count(
    self: FakeZendesk, _: Any, query: Mapping[str, str], payload: Any
) -> Any:
    match = re.fullmatch(
        r"type:ticket status<solved tags:([a-z0-9_]+)", query.get("query", "").strip()
    )
    if match is None:
        return Reply(400, {"error": "unsupported count query in the fake"}, {}), None
    tag = match.group(1)
    indexed_by = self._clock() - timedelta(seconds=self.search_index_lag_seconds)
    count = sum(
        1
        for t in self._tickets.values()
        if t.status in contract.UNSOLVED_STATUSES
        and tag in t.tags
        and datetime.fromisoformat(t.created_at) <= indexed_by
    )
    return self._ok({"count": count})


FakeZendesk._search_count = _search_count  # type: ignore[attr-defined]
_ROUTES[:0] = [
    ("GET", re.compile(r"^/api/v2/search/count(?:\.json)?$"), "_search_count"),
]
# === end of Search count ========================================================


if (
    __name__ == "__main__"
):  # pragma: no cover - manual runs: python -m tests.fake_zendesk
    import time

    with FakeZendesk() as fake:
        print(fake.url, flush=True)
        while True:
            time.sleep(3600)
