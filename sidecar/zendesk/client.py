"""The Zendesk REST adapter: one ``requests`` session, JSON in, sidecar models out.

The session carries the credentials (Basic ``email/token:…`` or Bearer); every
request is issued here with an exact path and body (each one a contract case in
tests/contract) and parsed here. No Zendesk library: zenpy was dropped because its
object layer carries the traps listed in docs/decisions.md (object cache, sleeps
on 429, datetimes truncated to dates, dirty objects shared between threads) and
all it still did for us was set the Authorization header.
A client is cheap (about a millisecond) and NOT thread-safe: one per thread.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sidecar import __version__
from sidecar.config import Config, Secret
from sidecar.domain.models import (
    ApiUser,
    Comment,
    CommentText,
    ExportPage,
    MetricsExportPage,
    Organization,
    Ticket,
    TicketMetricSet,
    TicketPage,
    TicketUpdate,
)
from sidecar.errors import (
    AuthFailed,
    BadResponse,
    ConfigError,
    Rejected,
    Transient,
    UpstreamError,
)
from sidecar.metrics import count_zendesk_call
from sidecar.net import is_loopback
from sidecar.sla import StatusChange
from sidecar.zendesk import parse
from sidecar.zendesk.budget import Budget
from sidecar.zendesk.decipher import SERVICE, Account, decipher, decipher_failure

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# (connect, read) seconds: a worker thread never waits long on one call.
DEFAULT_TIMEOUT = (3.0, 10.0)
# Per call kind: a hung read must not hold a worker thread (and the page behind
# it) for 10 s; a write gets longer, since giving up on one that went through
# costs a second write. Listing and export pages are bigger answers.
CALL_TIMEOUTS: dict[str, tuple[float, float]] = {
    "read": (2.0, 4.0),
    # The read a page may wait on (a SEV 1/2 the webhook named): after this
    # the page goes out on the webhook's word (docs/decisions.md, "Pages before writes").
    "page_read": (1.0, 1.5),
    "write": (3.0, 10.0),
    "list": (3.0, 10.0),
}
# What Show Ticket sideloads (Side-Loading page, "Supported endpoints": tickets).
TICKET_SIDELOADS = "comment_count,organizations"
# Zendesk caps a ticket at 5000 comments (50 pages of 100); more pages mean a loop.
MAX_PAGES = 60
# An account may hold many organizations: 100,000 of them in pages of 100.
MAX_ORGANIZATION_PAGES = 1000
# Listing tickets: up to a million in pages of 100.
MAX_TICKET_PAGES = 10_000
UNSOLVED_STATUSES = frozenset({"new", "open", "pending", "hold"})


def _no_transparent_retries() -> Retry:
    """Retry only a failed connect (nothing was sent); the worker owns the rest."""
    return Retry(
        total=1,
        connect=1,
        read=False,  # re-raise read errors as they are (ReadTimeout stays one)
        status=0,
        other=0,
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class _BaseUrlAdapter(HTTPAdapter):
    """Send requests for the canonical Zendesk base to an override base instead.

    The original request is put back on the response so that anything looking at
    ``response.request.url`` (our error messages, the budget) sees
    the canonical URL.
    """

    def __init__(self, *, canonical: str | None, override: str | None) -> None:
        super().__init__(max_retries=_no_transparent_retries())
        self._canonical = canonical
        self._override = override

    def send(  # type: ignore[override]  # requests' own stubs; same call, kwargs passed on
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        if not (self._canonical and self._override and url.startswith(self._canonical)):
            return super().send(request, **kwargs)
        original = request.copy()
        request.url = self._override + url[len(self._canonical) :]
        response = super().send(request, **kwargs)
        response.request = original
        response.url = original.url or url
        return response


def _path_of(url: str | None) -> str:
    return urlsplit(url or "").path or "/"


_TICKET_PATH = re.compile(r"^/api/v2/tickets/\d+(\.json)?$")
_ID_SEGMENT = re.compile(r"/\d+(?=/|\.json|$)")


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, ids replaced: ``/api/v2/tickets/{id}`` (metric label)."""
    return _ID_SEGMENT.sub("/{id}", path).removesuffix(".json")


def error_for_response(
    response: requests.Response, *, account: Account | None = None
) -> UpstreamError:
    """Translate a non-2xx Zendesk response into the sidecar error for its status."""
    request = response.request
    method = (request.method if request is not None else None) or "?"
    try:
        body = response.json()
    except ValueError:
        body = None
    return decipher(
        method,
        _path_of(response.url),
        response.status_code,
        response.headers,
        body,
        account=account,
    )


def _seconds(timeout: float | tuple[float, float], *, connect: bool) -> float:
    """The connect or the read part of a requests timeout."""
    if isinstance(timeout, tuple):
        return timeout[0] if connect else timeout[1]
    return timeout


def _raise_for_status(
    response: requests.Response, *args: Any, account: Account, **kwargs: Any
) -> None:
    """Session response hook: every status >= 400 raises a sidecar error (429: RateLimited)."""
    if response.status_code < 400:
        return
    # Read the body now so the pooled connection is released before we raise.
    _ = response.content
    error = error_for_response(response, account=account)
    # The rate-limit headers ride along, for the budget to read (a 429's above all).
    error.headers = dict(response.headers)  # type: ignore[attr-defined]
    raise error


def parse_datetime(value: object) -> datetime:
    """Parse Zendesk's ISO 8601 timestamp ('...Z') into an aware UTC datetime.

    BadResponse when it is not one, or lies outside the years parse.py accepts.
    """
    return parse.timestamp(value)


def _optional_int(value: object) -> int | None:
    return None if value is None or value == "" else int(value)  # type: ignore[call-overload]


def _ticket_from_json(data: Mapping[str, Any]) -> Ticket:
    return parse.ticket(data)


def _ticket_with_sideloads(body: Mapping[str, Any]) -> Ticket:
    """The ``ticket`` of a Show Ticket answer, with its sideloaded count and organization."""
    raw = body.get("ticket")
    if raw is None:
        raise KeyError("ticket")
    ticket = _ticket_from_json(raw)
    count = raw.get("comment_count") if isinstance(raw, Mapping) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        count = None  # not answered: the comments will be read, never guessed
    organization = None
    for item in body.get("organizations") or ():
        if isinstance(item, Mapping) and item.get("id") == ticket.organization_id:
            organization = _organization_from_json(item)
    return dataclasses.replace(ticket, comment_count=count, organization=organization)


def _metric_set_from_json(data: Mapping[str, Any], ticket_id: int) -> TicketMetricSet:
    # OAS TicketMetricObject: reply_time_in_minutes = {calendar, business}.
    reply = data.get("reply_time_in_minutes")
    calendar = reply.get("calendar") if isinstance(reply, dict) else None
    solved = data.get("solved_at")
    return TicketMetricSet(
        ticket_id=ticket_id,
        replies=_optional_int(data.get("replies")),
        reply_minutes_calendar=_optional_int(calendar),
        solved_at=parse_datetime(solved) if solved else None,
    )


def _metric_sets_from_json(
    body: Mapping[str, Any], tickets: list[Mapping[str, Any]]
) -> dict[int, TicketMetricSet]:
    """Metric sets by ticket id: a root ``metric_sets`` array, or one per ticket."""
    found: dict[int, TicketMetricSet] = {}
    for item in body.get("metric_sets") or ():
        if isinstance(item, dict) and item.get("ticket_id") is not None:
            tid = int(item["ticket_id"])
            found[tid] = _metric_set_from_json(item, tid)
    for ticket in tickets:
        embedded = ticket.get("metric_set")
        if isinstance(embedded, dict):
            found[int(ticket["id"])] = _metric_set_from_json(
                embedded, int(ticket["id"])
            )
    return found


def _organization_from_json(data: Mapping[str, Any]) -> Organization:
    return parse.organization(data)


def _check_override(url: str) -> str:
    """Validate SIDECAR_ZENDESK_URL and return it without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("SIDECAR_ZENDESK_URL must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ConfigError("SIDECAR_ZENDESK_URL must not contain credentials")
    if parts.query or parts.fragment:
        raise ConfigError("SIDECAR_ZENDESK_URL must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # Credentials would cross the network in clear text; allowed for proxies.
        log.warning("SIDECAR_ZENDESK_URL uses plain http to a non-loopback host")
    return url.rstrip("/")


class ZendeskClient:
    """Read tickets, comments and organizations; write one safe update per ticket.

    Every failure is raised as a :mod:`sidecar.errors` ``UpstreamError`` whose
    message names the method, path, host, API user, status and next step
    (:mod:`sidecar.zendesk.decipher`), never a credential. Not
    thread-safe: build one per thread (``from_config`` is cheap).
    """

    def __init__(
        self,
        subdomain: str,
        *,
        email: str | None = None,
        api_token: Secret | None = None,
        oauth_token: Secret | None = None,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        budget: Budget | None = None,
    ) -> None:
        if not subdomain or not subdomain.replace("-", "").isalnum():
            raise ConfigError(
                "SIDECAR_ZENDESK_SUBDOMAIN must be a bare subdomain (acme)"
            )
        if not oauth_token and not (email and api_token):
            raise ConfigError(
                "Zendesk credentials missing: set SIDECAR_ZENDESK_EMAIL and "
                "SIDECAR_ZENDESK_API_TOKEN, or SIDECAR_ZENDESK_OAUTH_TOKEN"
            )
        self._subdomain = subdomain
        self._canonical = f"https://{subdomain}.zendesk.com"
        self._override = _check_override(base_url) if base_url else None
        self._timeout = timeout
        # The deployment-wide budget (sidecar.zendesk.budget): counted before
        # each request, fed Zendesk's rate-limit headers after it. None: unmetered
        # (operator tooling run by hand).
        self._budget = budget
        self._me: int | None = None
        # Named in every error: the host requests go to and the API user (its
        # email; an OAuth token's user is Zendesk's to know). Never a secret.
        self._account = Account(
            subdomain=subdomain,
            host=urlsplit(self._base).netloc,
            user="" if oauth_token else (email or ""),
            oauth=bool(oauth_token),
            overridden=self._override is not None,
        )

        # What the last answer's headers said (Date, rate limits) and how many
        # exchanges this client made: `sidecar doctor` reports both.
        self.last_headers: dict[str, str] = {}
        self.calls_made = 0

        session = requests.Session()
        adapter = _BaseUrlAdapter(canonical=self._canonical, override=self._override)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.hooks["response"].append(
            functools.partial(_raise_for_status, account=self._account)
        )
        # Zendesk's two ways in ("Security and authentication", developer docs):
        # an API token as Basic "{email}/token:{token}", or an OAuth access token
        # as Bearer. Secrets are revealed here only, into the session, never logged.
        if oauth_token:
            session.headers["Authorization"] = f"Bearer {oauth_token.reveal()}"
        else:
            assert api_token is not None
            session.auth = (f"{email or ''}/token", api_token.reveal())
        session.headers["User-Agent"] = f"sidecar/{__version__}"
        self._session = session

    @classmethod
    def from_config(cls, config: Config, **kwargs: Any) -> ZendeskClient:
        """Build a client from the Zendesk settings (an OAuth token wins)."""
        if not config.zendesk_subdomain:
            raise ConfigError("SIDECAR_ZENDESK_SUBDOMAIN is not set")
        return cls(
            config.zendesk_subdomain,
            email=config.zendesk_email,
            api_token=config.zendesk_api_token,
            oauth_token=config.zendesk_oauth_token,
            base_url=config.zendesk_url,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"ZendeskClient(account={self._subdomain!r}, base={self._base!r})"

    def __enter__(self) -> ZendeskClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # --- identity -----------------------------------------------------------

    @property
    def account(self) -> str:
        """The Zendesk subdomain, stable across URL overrides (for dedup keys)."""
        return self._subdomain

    @property
    def _base(self) -> str:
        """Where agents and requests go: the override if set, else the account."""
        return self._override or self._canonical

    def ticket_url(self, ticket_id: int) -> str:
        """The agent workspace URL of a ticket (the account's, even behind a proxy)."""
        return f"{self._canonical}/agent/tickets/{int(ticket_id)}"

    def current_user_id(self) -> int:
        """Id of the API user we act as (read once per client)."""
        if self._me is None:
            user = (
                self._get_json("/api/v2/users/me.json", kind="read").get("user") or {}
            )
            if user.get("id") is None:
                # Zendesk answers unauthenticated calls with an anonymous user.
                where = self._account.where("GET", "/api/v2/users/me.json")
                raise AuthFailed(
                    f"{where}: not authenticated (Zendesk answered as the anonymous "
                    f"user); {self._account.check_credentials()}",
                    service=SERVICE,
                )
            self._me = int(user["id"])
        return self._me

    # --- reads --------------------------------------------------------------

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket:
        """Read one ticket as it is now, with its comment count and organization.

        One request carries what a reconcile needs besides the comments:
        ``include=comment_count,organizations`` (Side-Loading page; "comment_count"
        is a property added to the ticket, Tickets page), so the comments are
        read only when the count says they can matter, and the organization
        costs no call of its own. ``quick``: give up sooner (a page waits on it).
        """
        path = f"/api/v2/tickets/{int(ticket_id)}.json"
        kind = "page_read" if quick else "read"
        body = self._get_json(path, {"include": TICKET_SIDELOADS}, kind=kind)
        return self._parse(path, _ticket_with_sideloads, body)

    def list_comments(self, ticket_id: int) -> list[Comment]:
        """All comments of a ticket, oldest first, with their authors' roles."""
        path = f"/api/v2/tickets/{int(ticket_id)}/comments.json"
        pages = list(self._pages(path, params={"include": "users"}, kind="read"))

        return self._parse(path, parse.comments, pages)

    def latest_comment_texts(self, ticket_id: int, *, count: int) -> list[CommentText]:
        """The ticket's ``count`` newest comments (at most 100), newest first: one read.

        List Comments with cursor pagination sorted ``-created_at`` (OAS
        ListTicketComments, "Sorting": with cursor pagination ``sort`` takes
        "created_at" or "-created_at"; at most 100 records a page).
        """
        path = f"/api/v2/tickets/{int(ticket_id)}/comments.json"
        params = {
            "page[size]": str(max(1, min(int(count), 100))),
            "sort": "-created_at",
            "include": "users",
        }
        body = self._get_json(path, params, kind="read")
        return self._parse(path, parse.comment_texts, [body])

    def list_status_changes(self, ticket_id: int) -> list[StatusChange]:
        """The ticket's status history from its audits, oldest first (issue 21).

        List Audits for a Ticket (``GET /api/v2/tickets/{id}/audits``, agents;
        up to 100 audits a page, ``next_page`` to follow). Read only when a
        metric depends on the status and the status changed since what we know.
        """
        path = f"/api/v2/tickets/{int(ticket_id)}/audits.json"
        pages = list(self._pages(path, kind="read"))
        return self._parse(path, parse.status_changes, pages)

    def get_organization(self, org_id: int) -> Organization:
        """Read one organization with its custom fields."""
        path = f"/api/v2/organizations/{int(org_id)}.json"
        body = self._get_json(path, kind="read").get("organization")
        return self._parse(path, _organization_from_json, body)

    def list_organizations(self) -> list[Organization]:
        """Every organization in the account, with its custom fields."""
        path = "/api/v2/organizations.json"
        pages = self._pages(
            path, params={"page[size]": "100"}, max_pages=MAX_ORGANIZATION_PAGES
        )

        def build(pages: list[Mapping[str, Any]]) -> list[Organization]:
            return [
                _organization_from_json(o)
                for page in pages
                for o in page.get("organizations") or ()
            ]

        return self._parse(path, build, list(pages))

    def find_organization(self, external_id: str) -> Organization | None:
        """Find the organization with this external id (case-insensitive), if any."""
        path = "/api/v2/organizations/search.json"
        body = self._get_json(path, {"external_id": external_id})
        wanted = external_id.casefold()

        def build(found: list[Mapping[str, Any]]) -> Organization | None:
            # Zendesk already matched; re-check so a lax proxy cannot pick another.
            return next(
                (
                    org
                    for org in map(_organization_from_json, found)
                    if (org.external_id or "").casefold() == wanted
                ),
                None,
            )

        return self._parse(path, build, body.get("organizations"))

    def list_organization_fields(self) -> list[dict[str, Any]]:
        """Organization field definitions (id, key, type...), for setup checks."""
        path = "/api/v2/organization_fields.json"
        return [
            dict(f)
            for page in self._pages(path)
            for f in page.get("organization_fields") or ()
        ]

    def list_ticket_fields(self) -> list[dict[str, Any]]:
        """Ticket field definitions (id, type, title...), for setup checks."""
        path = "/api/v2/ticket_fields.json"
        return [
            dict(f)
            for page in self._pages(path)
            for f in page.get("ticket_fields") or ()
        ]

    def iter_tickets(self, *, org_id: int | None = None) -> Iterator[Ticket]:
        """Every ticket of the account (or of one organization), page by page.

        List Tickets with cursor pagination (``page[size]``, ``links.next``): it
        has no cap on the number of results and sees a ticket as soon as it
        exists, unlike Search (1,000 results at most, minutes of index lag).
        Archived tickets are not listed (Zendesk archives closed tickets).
        """
        path = (
            f"/api/v2/organizations/{int(org_id)}/tickets.json"
            if org_id is not None
            else "/api/v2/tickets.json"
        )
        pages = self._pages(
            path, params={"page[size]": "100"}, max_pages=MAX_TICKET_PAGES
        )
        for page in pages:
            yield from self._parse(
                path,
                lambda body: [_ticket_from_json(t) for t in body.get("tickets") or ()],
                page,
            )

    def open_ticket_ids(self, org_id: int) -> list[int]:
        """Ids of the organization's unsolved tickets, however many there are."""
        return [
            ticket.id
            for ticket in self.iter_tickets(org_id=org_id)
            if ticket.status in UNSOLVED_STATUSES
        ]

    def export_changed_tickets(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> ExportPage:
        """One page of the cursor-based incremental ticket export.

        Give the ``after_cursor`` of the previous page, or for the first call a
        ``start_time`` (epoch seconds). Zendesk leaves out what changed in the
        last minute and allows 10 such requests a minute.
        """
        path = "/api/v2/incremental/tickets/cursor.json"
        if cursor:
            params = {"cursor": cursor}
        elif start_time is not None:
            params = {"start_time": str(int(start_time))}
        else:
            raise ValueError("export_changed_tickets needs a cursor or a start_time")
        body = self._get_json(path, params)

        def build(data: Mapping[str, Any]) -> ExportPage:
            return ExportPage(
                tickets=tuple(
                    _ticket_from_json(t)
                    for t in data.get("tickets") or ()
                    if t.get("status") != "deleted"
                ),
                after_cursor=str(data["after_cursor"])
                if data.get("after_cursor")
                else None,
                end_of_stream=bool(data.get("end_of_stream", True)),
            )

        return self._parse(path, build, body)

    def export_tickets_with_metrics(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> MetricsExportPage:
        """One page of the incremental ticket export with ``include=metric_sets``.

        As :meth:`export_changed_tickets`, plus each ticket's metric set (first
        reply time), for the attainment report. Where the sideload sits is not
        documented: per ticket (``metric_set``) or as a root ``metric_sets``
        array keyed by ``ticket_id``; both are read (docs/decisions.md).
        """
        path = "/api/v2/incremental/tickets/cursor.json"
        params = {"include": "metric_sets"}
        if cursor:
            params["cursor"] = cursor
        elif start_time is not None:
            params["start_time"] = str(int(start_time))
        else:
            raise ValueError(
                "export_tickets_with_metrics needs a cursor or a start_time"
            )
        body = self._get_json(path, params)

        def build(data: Mapping[str, Any]) -> MetricsExportPage:
            raw = [t for t in data.get("tickets") or () if t.get("status") != "deleted"]
            return MetricsExportPage(
                tickets=tuple(_ticket_from_json(t) for t in raw),
                metric_sets=_metric_sets_from_json(data, raw),
                after_cursor=str(data["after_cursor"])
                if data.get("after_cursor")
                else None,
                end_of_stream=bool(data.get("end_of_stream", True)),
            )

        return self._parse(path, build, body)

    # --- writes -------------------------------------------------------------

    def update_ticket(self, update: TicketUpdate) -> str | None:
        """Write the difference in one safe PUT; an empty update sends nothing.

        Returns the ticket's ``updated_at`` after the write, as Zendesk answered
        it (the exact version our write produced), or None when not shown.
        """
        if update.is_empty():
            return None
        path = f"/api/v2/tickets/{int(update.ticket_id)}.json"
        answer = self._request("PUT", path, json={"ticket": ticket_update_body(update)})
        ticket = answer.get("ticket")
        version = ticket.get("updated_at") if isinstance(ticket, Mapping) else None
        return version if isinstance(version, str) else None

    def update_organization_fields(
        self, org_id: int, fields: Mapping[str, object]
    ) -> Organization:
        """Set some organization fields by key (Zendesk merges the rest)."""
        path = f"/api/v2/organizations/{int(org_id)}.json"
        body = {"organization": {"organization_fields": dict(fields)}}
        answer = self._request("PUT", path, json=body).get("organization")
        return self._parse(path, _organization_from_json, answer)

    # --- transport ----------------------------------------------------------

    def _get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, kind: str = "list"
    ) -> dict[str, Any]:
        return self._request("GET", path, params=params, kind=kind)

    def _pages(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        max_pages: int = MAX_PAGES,
        kind: str = "list",
    ) -> Iterator[dict[str, Any]]:
        """Yield each page, following ``next_page`` or cursor ``links.next``."""
        url: str | None = self._canonical + path
        seen: set[str] = set()
        while url:
            if len(seen) >= max_pages or url in seen:
                raise Transient(
                    f"zendesk GET {path}: pagination did not end", service=SERVICE
                )
            seen.add(url)
            page = self._send(
                "GET", url, params=params if len(seen) == 1 else None, kind=kind
            )
            yield page
            url = self._next_url(path, page)

    def _next_url(self, path: str, page: Mapping[str, Any]) -> str | None:
        meta = page.get("meta")
        links = page.get("links")
        meta = meta if isinstance(meta, dict) else {}
        links = links if isinstance(links, dict) else {}
        if meta.get("has_more") and links.get("next"):
            url = str(links["next"])
        elif page.get("next_page"):
            url = str(page["next_page"])
        else:
            return None
        # Only ever send our credentials back to the account (or its override).
        if not any(
            url.startswith(base + "/")
            for base in (self._canonical, self._override)
            if base
        ):
            raise Rejected(
                f"zendesk GET {path}: next page points to another host", service=SERVICE
            )
        return url

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        kind: str | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        return self._send(
            method,
            self._canonical + path,
            params=params,
            json=json,
            kind=kind,
            files=files,
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        kind: str | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """One HTTP exchange; every failure leaves as a sidecar UpstreamError."""
        path = _path_of(url)
        where = self._account.where(method, path)
        kind = kind or ("list" if method == "GET" else "write")
        timeout = (
            CALL_TIMEOUTS.get(kind, DEFAULT_TIMEOUT)
            if self._timeout == DEFAULT_TIMEOUT
            else self._timeout
        )
        if self._budget is not None:
            self._budget.take(update=method == "PUT" and bool(_TICKET_PATH.match(path)))
        started = time.perf_counter()
        try:
            response = self._session.request(
                method, url, params=params, json=json, files=files, timeout=timeout
            )
        except UpstreamError as exc:
            self._observed(
                method, path, exc.status, getattr(exc, "headers", {}), started
            )
            raise
        except requests.Timeout as exc:
            self._observed(method, path, None, {}, started, outcome="timeout")
            raise decipher_failure(
                method,
                path,
                exc,
                timed_out=True,
                account=self._account,
                seconds=_seconds(
                    timeout, connect=isinstance(exc, requests.ConnectTimeout)
                ),
            ) from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            requests.exceptions.RetryError,
        ) as exc:
            self._observed(method, path, None, {}, started, outcome="connection")
            raise decipher_failure(
                method, path, exc, timed_out=False, account=self._account
            ) from None
        except requests.RequestException as exc:
            raise Rejected(
                f"{where}: request failed ({type(exc).__name__})", service=SERVICE
            ) from None
        self._observed(method, path, response.status_code, response.headers, started)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # A 2xx that is not a JSON object: a proxy page or a truncated answer.
            raise Transient(
                f"{where}: HTTP {response.status_code} without a JSON object",
                service=SERVICE,
                status=response.status_code,
            )
        return body

    def _observed(
        self,
        method: str,
        path: str,
        status: int | None,
        headers: Mapping[str, str],
        started: float,
        *,
        outcome: str | None = None,
    ) -> None:
        """Count the call by endpoint and outcome; let the budget read Zendesk's headers."""
        self.calls_made += 1
        self.last_headers = {str(k): str(v) for k, v in headers.items()}
        count_zendesk_call(
            method,
            endpoint_of(path),
            outcome or (str(status) if status is not None else "error"),
            time.perf_counter() - started,
        )
        if self._budget is not None and headers:
            self._budget.observe(headers, status=status)

    @staticmethod
    def _parse(path: str, build: Callable[[Any], _T], data: Any) -> _T:
        """Apply ``build`` to a response part.

        A missing part (no ``ticket`` in the answer: a proxy, a truncated body) is
        Transient; a part whose fields fail validation is BadResponse, not retried.
        """
        try:
            if data is None:
                raise KeyError(path)
            return build(data)
        except BadResponse as exc:
            raise BadResponse(f"{exc} ({path})", service=SERVICE) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise Transient(
                f"zendesk {path}: unexpected response shape ({type(exc).__name__})",
                service=SERVICE,
            ) from None

    # --- operator tooling (setup, backfill, what-if) ------------------------

    def count_search(self, query: str) -> int:
        """How many records match a Search query (the count only, no records).

        OAS CountSearchResults: ``GET /api/v2/search/count`` "returns the number
        of items matching the query rather than the items"; the body is
        ``{"count": N}`` (SearchCountResponse). Search lags changes by minutes.
        """
        path = "/api/v2/search/count.json"
        body = self._get_json(path, {"query": query})

        def build(count: Any) -> int:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise BadResponse(
                    f"search count is not a count: {count!r}", service=SERVICE
                )
            return count

        return self._parse(path, build, body.get("count"))

    def find_organization_by_name(self, name: str) -> Organization | None:
        """Find the organization with exactly this name (case-insensitive), if any."""
        # Search Organizations by name: "its name must exactly match the value
        # provided (case insensitive)" (OAS SearchOrganizations).
        path = "/api/v2/organizations/search.json"
        body = self._get_json(path, {"name": name})
        wanted = name.casefold()

        def build(found: list[Mapping[str, Any]]) -> Organization | None:
            return next(
                (
                    org
                    for org in map(_organization_from_json, found)
                    if org.name.casefold() == wanted
                ),
                None,
            )

        return self._parse(path, build, body.get("organizations"))

    def list_tickets(
        self, *, cursor: str | None = None, org_id: int | None = None
    ) -> TicketPage:
        """One page of List Tickets (100, id ascending) from ``cursor`` (None: the start).

        Cursor pagination (``page[size]``/``page[after]``): no cap on the number
        of results, unlike Search (1,000), and not the incremental export the
        sweep spends its 10 requests a minute on. The ``after_cursor`` can be
        stored and given back later to go on where a run stopped.
        """
        path = (
            f"/api/v2/organizations/{int(org_id)}/tickets.json"
            if org_id is not None
            else "/api/v2/tickets.json"
        )
        params = {"page[size]": "100"}
        if cursor:
            params["page[after]"] = cursor
        body = self._get_json(path, params)

        def build(data: Mapping[str, Any]) -> TicketPage:
            found = data.get("meta")
            meta = found if isinstance(found, dict) else {}
            after = meta.get("after_cursor") if meta.get("has_more") else None
            return TicketPage(
                tickets=tuple(_ticket_from_json(t) for t in data.get("tickets") or ()),
                after_cursor=str(after) if after else None,
            )

        return self._parse(path, build, body)

    def admin_request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """One admin API call (fields, webhooks, triggers, views, apps), for `zendesk setup`.

        The same request layer as every other call: the URL override, the
        session's auth, errors raised as sidecar errors, no retries or sleeps.
        ``files`` sends a multipart form (the Apps API's package upload).
        """
        if not path.startswith("/api/v2/"):
            raise ValueError(f"not a Zendesk API path: {path!r}")
        return self._request(method, path, params=params, json=json, files=files)

    def admin_list(self, path: str, key: str) -> list[dict[str, Any]]:
        """Every object of an admin collection (``key`` of each page), all pages."""
        return [
            dict(item) for page in self._pages(path) for item in page.get(key) or ()
        ]

    # --- reads for `sidecar doctor` -----------------------------------------------

    def whoami(self) -> ApiUser:
        """The API user we act as, with its role (Show Self: GET /api/v2/users/me).

        OAS ShowCurrentUser answers ``{"user": UserObject}``; an unauthenticated
        call gets the anonymous user (no ``id``), which is AuthFailed here.
        """
        path = "/api/v2/users/me.json"
        user = self._get_json(path, kind="read").get("user")

        def build(data: Mapping[str, Any]) -> ApiUser:
            if data.get("id") is None:
                raise AuthFailed(
                    f"zendesk GET {path}: not authenticated", service=SERVICE
                )
            return ApiUser(
                id=int(data["id"]),
                role=str(data.get("role") or ""),
                name=str(data.get("name") or ""),
                email=str(data.get("email") or ""),
            )

        found = self._parse(path, build, user)
        self._me = found.id
        return found

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Every webhook of the account (List Webhooks, cursor pages)."""
        return self.admin_list("/api/v2/webhooks", "webhooks")

    def webhook_signing_secret(self, webhook_id: str) -> Secret:
        """The webhook's signing secret (GET .../signing_secret; a POST would reset it)."""
        path = f"/api/v2/webhooks/{webhook_id}/signing_secret"
        if not re.fullmatch(r"[0-9A-Za-z]+", webhook_id):
            raise ValueError(f"not a webhook id: {webhook_id!r}")
        body = self._get_json(path, kind="read")

        def build(data: Mapping[str, Any]) -> Secret:
            secret = data.get("secret")
            if not isinstance(secret, str) or not secret:
                raise BadResponse(f"zendesk GET {path}: no secret", service=SERVICE)
            return Secret(secret)

        return self._parse(path, build, body.get("signing_secret"))

    def list_schedules(self) -> list[dict[str, Any]]:
        """Every business-hours schedule of the account (List Schedules; admins).

        Parsed by sidecar.zendesk.schedules, which owns what the answer means.
        """
        return self.admin_list("/api/v2/business_hours/schedules.json", "schedules")

    def list_schedule_holidays(self, schedule_id: int) -> list[dict[str, Any]]:
        """Every holiday of one schedule (List Holidays for Schedule, no date filter)."""
        path = f"/api/v2/business_hours/schedules/{int(schedule_id)}/holidays.json"
        return self.admin_list(path, "holidays")

    def list_triggers(self) -> list[dict[str, Any]]:
        """Every trigger of the account (List Triggers, all pages)."""
        return self.admin_list("/api/v2/triggers.json", "triggers")

    # --- Slack app: tickets from Slack messages (sidecar/slack) ---------------

    def find_tickets_by_external_id(self, external_id: str) -> list[Ticket]:
        """Tickets carrying this external id, lowest id first.

        External ids are not unique in Zendesk: "the request may return multiple
        tickets with the same external id" (OAS ListTickets).
        """
        path = "/api/v2/tickets.json"
        body = self._get_json(path, {"external_id": external_id})

        def build(found: list[Mapping[str, Any]]) -> list[Ticket]:
            tickets = [_ticket_from_json(t) for t in found]
            return sorted(tickets, key=lambda t: t.id)

        return self._parse(path, build, body.get("tickets"))

    def create_ticket(self, ticket: Mapping[str, Any]) -> Ticket:
        """Create a ticket (POST /api/v2/tickets, body ``{"ticket": ...}``); return it."""
        path = "/api/v2/tickets.json"
        answer = self._request("POST", path, json={"ticket": dict(ticket)})
        return self._parse(path, _ticket_from_json, answer.get("ticket"))

    def find_user_id_by_email(self, email: str) -> int | None:
        """The id of the Zendesk user with exactly this email (case-insensitive), if any."""
        path = "/api/v2/users/search.json"
        body = self._get_json(path, {"query": f"email:{email}"})
        wanted = email.casefold()

        def build(users: list[Mapping[str, Any]]) -> int | None:
            # Search matches loosely; only an exact address is the same person.
            return next(
                (
                    int(u["id"])
                    for u in users
                    if str(u.get("email") or "").casefold() == wanted
                ),
                None,
            )

        return self._parse(path, build, body.get("users"))

    def add_public_comment(
        self, ticket_id: int, *, body: str, author_id: int | None = None
    ) -> int | None:
        """Add one public comment (as ``author_id`` when given); return its id if shown.

        A comment alone cannot overwrite anything, so no safe_update: a 409
        from an unrelated edit would only delay a customer's words. The new
        comment's id comes from the audit Zendesk returns with the update.
        """
        path = f"/api/v2/tickets/{int(ticket_id)}.json"
        comment: dict[str, Any] = {"body": body, "public": True}
        if author_id is not None:
            comment["author_id"] = int(author_id)
        answer = self._request("PUT", path, json={"ticket": {"comment": comment}})
        events = (answer.get("audit") or {}).get("events") or ()
        return next(
            (
                int(e["id"])
                for e in events
                if isinstance(e, Mapping) and e.get("type") == "Comment" and e.get("id")
            ),
            None,
        )

    def list_comment_texts(self, ticket_id: int) -> list[CommentText]:
        """All comments of a ticket with their text and authors, oldest first."""
        path = f"/api/v2/tickets/{int(ticket_id)}/comments.json"
        pages = list(self._pages(path, params={"include": "users"}))
        return self._parse(path, parse.comment_texts, pages)


def ticket_update_body(update: TicketUpdate) -> dict[str, Any]:
    """The ``ticket`` object of the safe PUT, with only the non-empty parts."""
    body: dict[str, Any] = {"safe_update": True, "updated_stamp": update.updated_stamp}
    if update.custom_fields:
        for field_id, value in update.custom_fields.items():
            # Values are formatted strings: a datetime here has no one right text form.
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"custom field {field_id}: value must be str or None, "
                    f"got {type(value).__name__}"
                )
        body["custom_fields"] = [
            {"id": int(fid), "value": value}
            for fid, value in sorted(update.custom_fields.items())
        ]
    if update.tags is not None:
        # The complete list: a single-ticket update replaces the tag set
        # ("Adding tags to tickets without overwriting existing tags",
        # developer.zendesk.com); safe_update makes a concurrent change a 409.
        body["tags"] = sorted(update.tags)
    if update.add_follower_ids:
        body["followers"] = [
            {"user_id": int(uid), "action": "put"}
            for uid in sorted(update.add_follower_ids)
        ]
    if update.private_note:
        body["comment"] = {"body": update.private_note, "public": False}
    return body


__all__ = [
    "ZendeskClient",
    "error_for_response",
    "parse_datetime",
    "ticket_update_body",
]
