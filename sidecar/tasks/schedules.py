"""The policy in force, with the account's Zendesk schedules it names: fetched, cached, refreshed.

A policy file may name Zendesk schedules (``schedule = { zendesk = "Support
hours" }``, sidecar.sla.loader). Their windows come from Zendesk's Business
Hours API (sidecar.zendesk.schedules) and go to the same engine as every
other schedule (sidecar.sla.business_hours builds the ``Schedule``).

- **Cache.** The last good copy lives in the queue store (a flag every web and
  worker process shares, beside a small version flag), written only after the
  policy was built from it. A process reads the version on each use and the
  copy only when the version moved, so every process computes with what the
  last refresh found within one store read.
- **Start.** The first need reads Zendesk; if that fails, the stored copy is
  used (a warning names when it was fetched); with neither, the policy cannot
  be built and the process refuses with a ConfigError saying so. A policy
  that names no Zendesk schedule never calls this API.
- **Refresh.** The worker that runs the minute sweep refreshes at most every
  ``SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS`` (a claim in the queue store
  spaces it across workers), in the bulk lane of the API budget. A change is
  logged with what changed (schedule, hours, holidays), stored, and the open
  tickets are enqueued for a reconcile, so their due times follow. A refresh
  whose schedules no longer build the policy (a schedule the file names was
  renamed or deleted) is refused with an error log; the last good copy stays.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sidecar.domain.models import TicketPage
from sidecar.domain.plan import Fields, may_carry_sla
from sidecar.errors import ConfigError, UpstreamError
from sidecar.sla import (
    DEFAULT_POLICY,
    BusinessHours,
    Policy,
    PolicyError,
    Schedule,
    ScheduleBook,
    read_policy_file,
    select_policy,
    zendesk_schedule_refs,
)
from sidecar.zendesk.budget import BULK, lane

log = logging.getLogger("sidecar.schedules")

CACHE_FLAG = "zendesk_schedules"
VERSION_FLAG = "zendesk_schedules_version"
REFRESH_CLAIM = "zendesk_schedules_refresh"
DEFAULT_REFRESH_SECONDS = 300
CLAIM_SLACK_SECONDS = 30.0
UNSOLVED = ("new", "open", "pending", "hold")
RECONCILE_PRIORITY = -5  # below live webhooks and timers, like a replay


class ScheduleStore(Protocol):
    """The parts of the queue store the cache uses (sidecar.tasks.queue.JobQueue)."""

    def get_flag(self, name: str) -> str | None: ...
    def set_flag(self, name: str, value: str | None) -> None: ...


def _version(book: ScheduleBook) -> str:
    return hashlib.sha256(book.to_json().encode()).hexdigest()[:16]


class AccountSchedules:
    """The account's schedules: Zendesk first, else the last good copy in the store.

    ``fetch`` reads Zendesk (None: not connected); ``store`` gives the queue
    store, or None where there is none (called lazily: a CLI opens the queue
    only when it needs the copy). ``save``: whether a fetched copy may become
    the stored one (the service's processes; never a hand-run command).
    ``prefer_stored``: use the stored copy when there is one, Zendesk only
    without it (a command computes with what the service computes with).
    """

    def __init__(
        self,
        *,
        fetch: Callable[[], list[BusinessHours]] | None,
        store: Callable[[], ScheduleStore | None],
        save: bool = False,
        prefer_stored: bool = False,
        account: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._fetch = fetch
        self._store = store
        # One copy per account: a queue reused for another subdomain (sandbox,
        # then production) never starts on the other account's hours.
        self.cache_flag = f"{CACHE_FLAG}:{account}" if account else CACHE_FLAG
        self.version_flag = f"{VERSION_FLAG}:{account}" if account else VERSION_FLAG
        self.save = save
        self.prefer_stored = prefer_stored
        self._clock = clock
        self._lock = threading.Lock()
        self._book: ScheduleBook | None = None
        self._version: str | None = None
        self.last_error: str | None = None  # why Zendesk was not read, if it was not

    def fetch(self) -> ScheduleBook:
        """Read every schedule from Zendesk now (UpstreamError or ConfigError when it cannot)."""
        if self._fetch is None:
            raise ConfigError("not connected to Zendesk")
        return ScheduleBook(tuple(self._fetch()), self._clock().replace(microsecond=0))

    def stored(self) -> ScheduleBook | None:
        """The last good copy in the queue store, or None."""
        store = self._store()
        text = store.get_flag(self.cache_flag) if store is not None else None
        if not text:
            return None
        try:
            return ScheduleBook.from_json(text)
        except ValueError as exc:
            log.warning("ignoring an unreadable copy of the Zendesk schedules: %s", exc)
            return None

    def book(self) -> ScheduleBook:
        """The schedules in use: loaded on first need, then the store's newest version."""
        with self._lock:
            if self._book is None:
                self._book = self._first()
                return self._book
            store = self._store()
            if store is not None:
                version = store.get_flag(self.version_flag)
                if version is not None and version != self._version:
                    newer = self.stored()
                    if newer is not None and not newer.same_schedules(self._book):
                        self._book = newer
                    self._version = version
            return self._book

    def _first(self) -> ScheduleBook:
        if self.prefer_stored:
            # What the service computes with, when it has a copy (a CLI command).
            stored = self.stored()
            if stored is not None:
                return stored
        try:
            fresh = self.fetch()
        except (UpstreamError, ConfigError) as exc:
            self.last_error = str(exc)
            stored = self.stored()
            if stored is None:
                raise ConfigError(
                    "the policy names Zendesk schedules, they cannot be read from "
                    f"Zendesk ({exc}), and the queue store holds no earlier copy: "
                    "no due time can be computed until Zendesk answers"
                ) from None
            log.warning(
                "Zendesk schedules not read (%s): using the copy fetched at %s",
                exc,
                stored.fetched_at.isoformat(),
                extra={"fetched_at": stored.fetched_at.isoformat()},
            )
            return stored
        return fresh

    def keep(self, book: ScheduleBook) -> None:
        """Make ``book`` the one in use and the stored copy (it built the policy)."""
        store = self._store() if self.save else None
        version = _version(book)
        if store is not None:
            store.set_flag(self.cache_flag, book.to_json())
            store.set_flag(self.version_flag, version)
        with self._lock:
            self._book, self._version = book, version


class PolicySource:
    """The configured policy, rebuilt when the Zendesk schedules it names change.

    The file is read once; a policy that names no Zendesk schedule is built
    once and never touches ``schedules``.
    """

    def __init__(
        self,
        *,
        policy_file: str | None,
        policy_name: str | None,
        schedules: AccountSchedules | None,
    ) -> None:
        self.policy_file = policy_file
        self.policy_name = policy_name
        self.schedules = schedules
        self._data = read_policy_file(policy_file) if policy_file else None
        self.refs = zendesk_schedule_refs(self._data) if self._data else []
        self._lock = threading.Lock()
        self._policy: Policy | None = None
        self._built_from: ScheduleBook | None = None

    @property
    def uses_zendesk(self) -> bool:
        """Whether the policy names any Zendesk schedule."""
        return bool(self.refs)

    def build(self, book: ScheduleBook | None) -> Policy:
        """The policy with ``book``'s schedules (PolicyError naming what is wrong)."""
        if self._data is None:
            return DEFAULT_POLICY
        return select_policy(
            self._data,
            self.policy_name,
            file=str(self.policy_file),
            zendesk=book.schedule if book is not None else None,
        )

    def book(self) -> ScheduleBook | None:
        """The schedules the policy is built from (None when it names none)."""
        if not self.uses_zendesk or self.schedules is None:
            return None
        return self.schedules.book()

    def policy(self) -> Policy:
        """The policy in force now."""
        book = self.book()
        with self._lock:
            if self._policy is None or book is not self._built_from:
                self._policy = self.build(book)
                if (
                    book is not None
                    and self.schedules is not None
                    and self._built_from is None
                    and not book.cached
                ):
                    self.schedules.keep(book)  # a first read that builds: the copy
                self._built_from = book
            return self._policy

    def refresh(self) -> list[str]:
        """Read Zendesk now; adopt what changed (logged); the changes, in words.

        Raises UpstreamError when Zendesk cannot be read; a copy that no longer
        builds the policy is refused with an error log (nothing changes).
        """
        if not self.uses_zendesk or self.schedules is None:
            return []
        fresh = self.schedules.fetch()
        current = self.book()
        if fresh.same_schedules(current):
            # Unchanged: the stored copy still moves to this fetch, so its time
            # says when Zendesk last confirmed it (doctor, `policy show`).
            policy = self.build(fresh)
            self.schedules.keep(fresh)
            with self._lock:
                self._policy, self._built_from = policy, fresh
            return []
        try:
            policy = self.build(fresh)
        except PolicyError as exc:
            log.error(
                "Zendesk schedules changed, and the policy no longer builds with "
                "them: keeping the copy fetched at %s. %s",
                current.fetched_at.isoformat() if current else "never",
                exc,
            )
            return []
        changes = fresh.changes(current)
        self.schedules.keep(fresh)
        with self._lock:
            self._policy, self._built_from = policy, fresh
        log.info(
            "Zendesk schedules changed: %s",
            "; ".join(changes),
            extra={"changes": changes},
        )
        return changes


class TicketLister(Protocol):
    """List Tickets pages (sidecar.zendesk.client.ZendeskClient)."""

    def list_tickets(
        self, *, cursor: str | None = None, org_id: int | None = None
    ) -> TicketPage: ...


class Enqueuer(Protocol):
    def enqueue_reconcile(
        self, ticket_id: int, *, priority: int | None = None
    ) -> None: ...


def reconcile_open_tickets(
    zendesk: TicketLister, queue: Enqueuer, *, fields: Fields
) -> int:
    """Enqueue a reconcile of every unsolved ticket that may carry an SLA; how many.

    List Tickets with cursor pages (no result cap, sees every ticket), as a
    backfill does; the reconciles run below live traffic.
    """
    count, cursor = 0, None
    while True:
        page = zendesk.list_tickets(cursor=cursor)
        for ticket in page.tickets:
            if ticket.status in UNSOLVED and may_carry_sla(ticket, fields):
                queue.enqueue_reconcile(ticket.id, priority=RECONCILE_PRIORITY)
                count += 1
        cursor = page.after_cursor
        if cursor is None:
            return count


def describe_origin(source: PolicySource, schedule: Schedule) -> str:
    """Where a schedule of the policy comes from, for `sidecar policy show`."""
    book = source.book()
    hours = book.origin(schedule) if book is not None else None
    if book is None or hours is None:
        if schedule.name == "24/7":
            return "built in"
        return f"file {source.policy_file}" if source.policy_file else "built in"
    fetched = book.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    how = "last good copy in the queue store" if book.cached else "read from Zendesk"
    return (
        f"Zendesk schedule {hours.name!r} (id {hours.id}, time zone "
        f"{hours.zendesk_time_zone or hours.timezone!r}), fetched at {fetched} ({how})"
    )


class RefreshQueue(ScheduleStore, Enqueuer, Protocol):
    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...


def refresh_schedules(
    source: PolicySource,
    *,
    zendesk: TicketLister,
    queue: RefreshQueue,
    fields: Fields,
    interval_seconds: float = DEFAULT_REFRESH_SECONDS,
) -> list[str]:
    """Refresh the Zendesk schedules when one is due; on a change, reconcile the open tickets.

    Returns the changes (empty: not due, nothing changed, or Zendesk failed:
    the last good copy stays and a warning says why).
    """
    if not source.uses_zendesk or interval_seconds <= 0:
        return []
    # The claim lapses a little early, so the minute sweep that lands on the
    # interval takes it (as the open-ticket counts do).
    ttl = max(1.0, interval_seconds - CLAIM_SLACK_SECONDS)
    if not queue.claim(REFRESH_CLAIM, ttl_seconds=ttl):
        return []
    try:
        with lane(BULK):
            changes = source.refresh()
    except (UpstreamError, ConfigError) as exc:
        book = source.book()
        log.warning(
            "Zendesk schedules not refreshed (%s): keeping the copy fetched at %s",
            exc,
            book.fetched_at.isoformat() if book else "never",
        )
        return []
    if changes:
        try:
            with lane(BULK):
                count = reconcile_open_tickets(zendesk, queue, fields=fields)
        except UpstreamError as exc:
            # The timers and the next events still recompute each ticket.
            log.warning("open tickets not enqueued after the schedule change: %s", exc)
        else:
            log.info(
                "schedule change: reconciling the open tickets",
                extra={"tickets": count},
            )
    return changes
