"""Organizations for the reconciler: a short-lived cache, dropped on organization events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sidecar.config import Secret
from sidecar.domain.models import Organization, Ticket
from sidecar.entitlements import Entitlement, EntitlementsStore
from sidecar.errors import NotFound

log = logging.getLogger("sidecar.orgs")


class OrgCache:
    """Reuse organization reads for ``ttl``; forget one as soon as Zendesk says it changed.

    ``changed_at(org_id)`` reads the instant the webhook receiver last saw an
    ``organization.*`` event for that org (a flag in the shared queue store), so a
    change made in the Admin Center reaches every worker process at once.
    """

    def __init__(
        self,
        *,
        fetch: Callable[[int], Organization],
        ttl: timedelta,
        changed_at: Callable[[int], datetime | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._changed_at = changed_at
        self._clock = clock
        self._entries: dict[int, tuple[datetime, Organization | None]] = {}
        self._lock = threading.Lock()

    def get(self, org_id: int) -> Organization | None:
        """Return the organization, or None when Zendesk no longer has it."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(org_id)
        if entry is not None:
            fetched_at, org = entry
            changed = self._changed_at(org_id)
            fresh = now - fetched_at < self._ttl
            if fresh and (changed is None or changed < fetched_at):
                return org
        try:
            org = self._fetch(org_id)
        except NotFound:
            org = None
        with self._lock:
            self._entries[org_id] = (now, org)
        return org

    def peek(self, org_id: int) -> Organization | None:
        """The organization as last read, however old, without reading it (None: not cached)."""
        with self._lock:
            entry = self._entries.get(org_id)
        return entry[1] if entry is not None else None

    def put(self, org: Organization) -> None:
        """Keep an organization read elsewhere (e.g. sideloaded with a ticket)."""
        with self._lock:
            self._entries[org.id] = (self._clock(), org)

    def forget(self, org_id: int) -> None:
        """Drop one organization from the cache."""
        with self._lock:
            self._entries.pop(org_id, None)


class TicketEntitlements:
    """Decide a ticket's entitlement: its organization (cached) through the entitlements store."""

    def __init__(
        self,
        *,
        orgs: OrgCache,
        store: EntitlementsStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._orgs = orgs
        self._store = store
        self._clock = clock

    def routing_keys(self) -> list[Secret]:
        """Every organization routing key the entitlements file configures."""
        return self._store.routing_keys()

    def known_for_org(
        self, org_id: int
    ) -> tuple[Organization | None, Entitlement] | None:
        """The organization's entitlement from what we hold, without a Zendesk read.

        The organization as last read (the cache), else the entitlements file
        alone (an entry by organization id that grants the add-on). None when
        neither decides: the caller must read.
        """
        self._store.reload_if_changed()
        today = self._clock().date()
        org = self._orgs.peek(org_id)
        if org is not None:
            return org, self._store.for_org(org, today=today)
        bare = Organization(id=org_id, name="", external_id=None, fields={})
        entitlement = self._store.for_org(bare, today=today)
        return (None, entitlement) if entitlement.entitled else None

    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        """Return the ticket's organization and whether it holds Enterprise Support."""
        # An edited file takes effect without a restart; a bad edit is logged
        # and the last good version stays in force.
        self._store.reload_if_changed()
        org = None
        if ticket.organization is not None:
            # Read with the ticket (the `organizations` sideload): as fresh as
            # it gets, and it refreshes the cache for other paths.
            org = ticket.organization
            self._orgs.put(org)
        elif ticket.organization_id is not None:
            org = self._orgs.get(ticket.organization_id)
        entitlement = self._store.for_org(org, today=self._clock().date())
        if entitlement.problem:
            log.warning(
                "organization has a bad entitlement value in Zendesk: not entitled",
                extra={
                    "ticket_id": ticket.id,
                    "org_id": ticket.organization_id,
                    "problem": entitlement.problem,
                },
            )
        return org, entitlement
