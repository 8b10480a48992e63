"""GET /api/tickets/<id>/sla: the sidebar app's read-only view of one ticket's SLA.

Authentication is the one Zendesk's app framework offers for a secret the
browser must not see: the app's *secure* setting, substituted into
``Authorization: Bearer {{setting.sidecar_secret}}`` by Zendesk's proxy
(``client.request({secure: true})``; docs/decisions.md, "The agent's sidebar
app"). The sidecar compares it with SIDECAR_APP_SECRET in constant time and
never logs it. A request that names another Zendesk account (the app sends its
``account.subdomain`` as ``X-Zendesk-Account``) gets 403: this sidecar knows
only its own account's tickets.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from sidecar.agentapp.view import ticket_sla
from sidecar.config import Config, Secret, split_secrets
from sidecar.domain.oncall import OncallState
from sidecar.domain.plan import Plan
from sidecar.errors import (
    AuthFailed,
    ConfigError,
    NotFound,
    QueueUnavailable,
    Transient,
    UpstreamError,
)
from sidecar.oncall.whois import OnCallDirectory, OnCallNow
from sidecar.tasks.oncall_back import states_for
from sidecar.tasks.queue import JobQueue

EXTENSION = "sidecar.agentapp"
ACCOUNT_HEADER = "X-Zendesk-Account"
# An agent opening the same ticket again, or several agents on one ticket,
# within this many seconds costs no Zendesk call; the app's countdown ticks
# locally, so a view this old is still right to the second. The app sends the
# ticket's updatedAt (ZAF), so a changed ticket is a new key and read afresh.
CACHE_SECONDS = 30.0
CACHE_TICKETS = 512

log = logging.getLogger("sidecar.agentapp")
bp = Blueprint("agentapp", __name__)


@dataclass
class TicketView:
    """What the endpoint needs, built once per app; ``planner`` is made on first use."""

    secret: Secret | None
    account: str
    make_planner: Callable[[], Callable[[int], Plan]]
    clock: Callable[[], float] = time.monotonic
    # The ticket's on-call state as PagerDuty last told it (None: nothing known).
    oncall: Callable[[int], OncallState | None] = lambda _ticket_id: None
    # Who PagerDuty would page now for a planned ticket (None: not shown).
    who: Callable[[Plan], OnCallNow | None] = lambda _: None
    _planner: Callable[[int], Plan] | None = None
    _cache: OrderedDict[tuple[int, str], tuple[float, dict[str, Any]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authorized(self, header: str | None) -> bool:
        """True when the header is ``Bearer <SIDECAR_APP_SECRET>`` (constant time)."""
        if not self.secret or not header:
            return False
        scheme, _, token = header.partition(" ")
        sent = token.strip().encode()
        # Several secrets, comma-separated, while rotating; each compared with
        # compare_digest on bytes (no early exit on a mismatch), all of them.
        matches = [
            hmac.compare_digest(sent, s.encode()) for s in split_secrets(self.secret)
        ]
        return scheme.lower() == "bearer" and bool(sent) and any(matches)

    def view(self, ticket_id: int, *, version: str = "") -> dict[str, Any]:
        """Return the ticket's SLA view, from the cache when fresh for that version."""
        now = self.clock()
        key = (ticket_id, version)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < CACHE_SECONDS:
                return hit[1]
            if self._planner is None:
                self._planner = self.make_planner()
            planner = self._planner
        decided = planner(ticket_id)
        body = ticket_sla(
            decided,
            account=self.account,
            oncall=self._oncall(ticket_id),
            oncall_now=self._who(decided),
        )
        with self._lock:
            self._cache[key] = (now, body)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_TICKETS:
                self._cache.popitem(last=False)
        return body

    def _oncall(self, ticket_id: int) -> OncallState | None:
        try:
            return self.oncall(ticket_id)
        except QueueUnavailable as exc:  # the SLA view is worth more than this detail
            log.warning("on-call state not read: %s", exc)
            return None

    def _who(self, decided: Plan) -> OnCallNow | None:
        # The on-call lookup is extra: whatever goes wrong there, the SLA shows.
        try:
            return self.who(decided)
        except Exception as exc:  # the sidebar must not break
            log.warning("on-call lookup failed: %s", type(exc).__name__)
            return OnCallNow(False, reason="the lookup failed (see the sidecar's log)")


def oncall_lookup(config: Config) -> Callable[[Plan], OnCallNow | None]:
    """Who would be paged now for a ticket, from SIDECAR_PAGERDUTY_API_TOKEN (else nobody asked).

    Shown for tickets that can page: an entitled organization's, or any with
    SIDECAR_PAGE_REQUEST_ANY_ORG (an agent may page them from the ticket).
    """
    try:
        directory = OnCallDirectory.from_config(config)
    except ConfigError as exc:
        reason = str(exc)
        log.warning("on-call lookup off: %s", reason)
        return lambda _: OnCallNow(False, reason=reason)
    if directory is None:
        return lambda _: None
    found = directory

    def who(decided: Plan) -> OnCallNow | None:
        if not (decided.entitlement.entitled or config.page_request_any_org):
            return None
        key = decided.entitlement.routing_key or config.pagerduty_routing_key
        return found.who(key)

    return who


def _planner_from(
    config: Config, queue: JobQueue
) -> Callable[[], Callable[[int], Plan]]:
    def make() -> Callable[[int], Plan]:
        # The worker's own parts: the same client, budget and entitlements as a
        # reconcile, so the reads count in the deployment-wide Zendesk budget.
        from sidecar.tasks.handler import ReconcilerFactory

        factory = ReconcilerFactory(config, queue=queue)
        return lambda ticket_id: factory.reconciler().plan(ticket_id)

    return make


def init_app(
    app: Any,
    config: Config,
    *,
    queue: JobQueue,
    make_planner: Callable[[], Callable[[int], Plan]] | None = None,
) -> None:
    """Register the endpoint on ``app``."""
    app.extensions[EXTENSION] = TicketView(
        secret=config.app_secret,
        account=config.zendesk_subdomain or "",
        make_planner=make_planner or _planner_from(config, queue),
        oncall=states_for(config, queue).get,
        who=oncall_lookup(config),
    )
    app.register_blueprint(bp)


def _error(status: int, reason: str, **headers: str) -> Response:
    response = jsonify(error=reason)
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.get("/api/tickets/<int:ticket_id>/sla")
def ticket_sla_view(ticket_id: int) -> Response:
    """Answer the sidebar app: one ticket's SLA, entitlement, on-call state and why."""
    tv: TicketView = current_app.extensions[EXTENSION]
    if not tv.secret:
        return _error(401, "the sidecar has no SIDECAR_APP_SECRET: the app is off")
    if not tv.authorized(request.headers.get("Authorization")):
        # Never log the header: a wrong secret is often the right one mistyped.
        log.info("app request rejected: bad or missing secret")
        return _error(401, "missing or wrong app secret (Authorization: Bearer …)")
    claimed = (request.headers.get(ACCOUNT_HEADER) or "").strip().lower()
    if claimed and claimed != tv.account.lower():
        log.info("app request for another account refused", extra={"account": claimed})
        return _error(403, "this sidecar serves another Zendesk account")
    try:
        body = tv.view(ticket_id, version=request.args.get("updated", "")[:64])
    except NotFound:
        return _error(404, f"ticket {ticket_id} not found in this account")
    except ConfigError as exc:
        log.warning("app request: sidecar not configured: %s", exc)
        return _error(503, "the sidecar is not configured for Zendesk")
    except AuthFailed:
        return _error(503, "Zendesk rejected the sidecar's credentials")
    except Transient as exc:
        wait = max(1, round(exc.retry_after or 5))
        return _error(503, "Zendesk is busy; try again", **{"Retry-After": str(wait)})
    except UpstreamError as exc:
        log.warning("app request: Zendesk answered %s", exc.__class__.__name__)
        return _error(502, "Zendesk could not answer for this ticket")
    response = jsonify(body)
    # The sidebar must not keep a copy in a shared cache; the app re-asks.
    response.headers["Cache-Control"] = "private, max-age=0, no-store"
    return response
