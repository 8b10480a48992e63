"""``reconcile(ticket_id)`` and ``escalate(ticket_id)``: read, decide, write the difference.

The reconciler is level-triggered (README, "How it works"): a webhook only says "look at
ticket N". It reads the ticket as it is now, plans what the ticket should carry
(:mod:`sidecar.tasks.plan`), and writes only the difference, in one safe update.
Paging runs as its own job (``escalate``) so that PagerDuty being slow or down
never holds back the due-time write, and a claim in the shared queue store makes
sure a ticket pages once, however many reconciles race.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sidecar.config import Secret
from sidecar.entitlements import Entitlement
from sidecar.errors import BudgetWait, Conflict, Rejected, UpstreamError
from sidecar.metrics import count_page, count_sla_outcomes
from sidecar.oncall.pagerduty import (
    MissingRoutingKey,
    dedup_key,
    key_fingerprint,
    summary,
)
from sidecar.sla import Policy, format_utc
from sidecar.tasks.jobs import Lane
from sidecar.tasks.memo import Seen, TicketMemory, already_seen
from sidecar.tasks.plan import (
    PAGED_TAG,
    PAGERDUTY_SEVERITY,
    PAGING_SEVERITIES,
    RESOLVED_TAG,
    Fields,
    Plan,
    needs_comments,
    plan,
)
from sidecar.zendesk.budget import NORMAL, URGENT, current_lane, lane, set_lane
from sidecar.zendesk.models import Comment, Organization, Ticket, TicketUpdate

log = logging.getLogger("sidecar.reconcile")

MAX_CONFLICT_ROUNDS = 3
# Which routing key opened a ticket's incident: a tag on the ticket, written in
# the same update as oncall_paged, holding a fingerprint (never the key).
KEY_TAG_PREFIX = "oncall_key_"


def key_tag(routing_key: Secret | str) -> str:
    """The tag that records which routing key an incident was opened with."""
    return KEY_TAG_PREFIX + key_fingerprint(routing_key)


class Zendesk(Protocol):
    """The Zendesk calls the reconciler makes (sidecar.zendesk.client.ZendeskClient)."""

    @property
    def account(self) -> str:
        """The Zendesk subdomain (for dedup keys)."""
        ...

    def get_ticket(self, ticket_id: int) -> Ticket: ...
    def list_comments(self, ticket_id: int) -> list[Comment]: ...
    def update_ticket(self, update: TicketUpdate) -> str | None:
        """Write; return the ticket's version after the write when Zendesk shows it."""
        ...

    def current_user_id(self) -> int: ...
    def ticket_url(self, ticket_id: int) -> str: ...


class Entitlements(Protocol):
    """Decides whether a ticket's organization holds Enterprise Support."""

    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]: ...
    def routing_keys(self) -> list[Secret]:
        """Every organization routing key configured (to find an incident's opener)."""
        ...


class Pager(Protocol):
    """PagerDuty Events API v2 (sidecar.oncall.pagerduty.PagerDutyPager)."""

    def trigger(
        self,
        *,
        dedup_key: str,
        summary: str,
        severity: str,
        source: str,
        custom_details: dict[str, Any],
        links: list[dict[str, str]],
        routing_key: Any = None,
    ) -> None: ...

    def resolve(self, *, dedup_key: str, routing_key: Any = None) -> None: ...

    @property
    def default_routing_key(self) -> Secret | None:
        """SIDECAR_PAGERDUTY_ROUTING_KEY, when set."""
        ...


class Notifier(Protocol):
    """The customer's shared Slack channel (sidecar.oncall.slack.SlackNotifier)."""

    def post(self, url: str, text: str) -> None: ...


class SlackHook(Protocol):
    """The Slack app's hook (sidecar.slack.notify.ThreadNotifier); both calls are best effort."""

    def notify_reconciled(self, decided: Plan) -> None: ...
    def notify_paged(self, decided: Plan) -> bool: ...


class Scheduler(Protocol):
    """The parts of the job queue the reconciler uses (sidecar.tasks.queue.JobQueue)."""

    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
        lane: Lane = ...,
    ) -> None: ...
    def submit_escalate(self, ticket_id: int) -> bool:
        """Enqueue escalate(ticket_id) in the urgent lane unless a live job holds its lease."""
        ...

    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...
    def release(self, key: str) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What one reconcile did, for logs and the CLI."""

    plan: Plan
    wrote: bool
    dry_run: bool
    conflicts: int


class Reconciler:
    """Reconciles tickets against the SLA policy through injected adapters."""

    def __init__(
        self,
        *,
        zendesk: Zendesk,
        entitlements: Entitlements,
        scheduler: Scheduler,
        policy: Policy,
        fields: Fields,
        pager: Pager | None = None,
        notifier: Notifier | None = None,
        slack: SlackHook | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        at_risk_fraction: float = 0.75,
        dry_run: bool = False,
        memory: TicketMemory | None = None,
    ) -> None:
        self.zendesk = zendesk
        self.entitlements = entitlements
        self.scheduler = scheduler
        self.policy = policy
        self.fields = fields
        self.pager = pager
        self.notifier = notifier
        self.slack = slack
        self.clock = clock
        self.at_risk_fraction = at_risk_fraction
        self.dry_run = dry_run
        # What we already know per ticket (shared store); None: always read.
        self.memory = memory
        self._self_user_id: int | None = None

    # --- reconcile -------------------------------------------------------

    def reconcile_event(
        self,
        ticket_id: int,
        *,
        actor_id: int | None = None,
        version: str | None = None,
        urgent: bool = False,
    ) -> Outcome | None:
        """Reconcile for a webhook, unless what it announces is provably known (then None).

        Two rules spend no call (docs/decisions.md, "API budget"): the change
        was made by our own API user (event payloads name the actor), or it is
        stamped before a version we already fully know. Anything else reads.
        ``urgent``: the job runs on the urgent lane, so its calls use the
        reserved budget from the first read on.
        """
        with lane(URGENT if urgent else NORMAL):
            if actor_id is not None and actor_id == self._own_user_id():
                log.info(
                    "own change: nothing to do",
                    extra={"ticket_id": ticket_id, "skipped": "own_actor"},
                )
                return None
            if (
                version is not None
                and self.memory is not None
                and already_seen(version, self.memory.recall(ticket_id))
            ):
                log.info(
                    "change already seen: nothing to do",
                    extra={"ticket_id": ticket_id, "skipped": "seen_version"},
                )
                return None
            return self.reconcile(ticket_id)

    def reconcile(self, ticket_id: int) -> Outcome:
        """Bring one ticket's SLA fields and tags in line with the policy."""
        conflicts = 0
        seen = self._recall(ticket_id)
        if seen is not None and seen.urgent:
            set_lane(URGENT)  # SEV 1/2 of an entitled org, as last seen
        version: str | None = None
        while True:
            decided, known = self._plan(ticket_id, seen)
            update = decided.update
            if _urgent(decided):
                set_lane(URGENT)  # the due-time write of a SEV 1/2 never waits
            elif current_lane() == URGENT:
                # Read on the urgent lane's word (a webhook or an old memo), but
                # not SEV 1/2 of an entitled org: its write is ordinary work.
                set_lane(NORMAL)
            if update.is_empty() or self.dry_run:
                break
            self._check_ticket_writes(seen, ticket_id)
            try:
                version = self.zendesk.update_ticket(update)
                break
            except Conflict:
                # Someone wrote the ticket since we read it: read again and
                # recompute, rather than overwrite their change.
                conflicts += 1
                if conflicts >= MAX_CONFLICT_ROUNDS:
                    raise
        wrote = not update.is_empty() and not self.dry_run
        if wrote:
            count_sla_outcomes(update.tags_added, decided.severity)
        log.info(
            "reconciled",
            extra={
                "ticket_id": ticket_id,
                "severity": decided.severity,
                "status": decided.sla.status if decided.sla else None,
                "due_at": format_utc(decided.sla.due_at) if decided.sla else None,
                "diff": describe_update(update),
                "wrote": wrote,
                "dry_run": self.dry_run,
                "conflicts": conflicts,
            },
        )
        if decided.severity_error:
            log.warning(
                "unparseable severity: no SLA",
                extra={"ticket_id": ticket_id, "error": decided.severity_error},
            )
        if not self.dry_run:
            self._follow_up(decided)
            # Remembered only after the follow-ups (page, timers) are stored: a
            # worker killed before this point leaves the change unknown, so the
            # job's re-run (in-flight record) reads again instead of skipping it.
            self._remember(decided, known, seen, wrote=wrote, version=version)
            if self.slack is not None:  # the ticket's Slack thread follows it
                self.slack.notify_reconciled(decided)
        return Outcome(
            plan=decided, wrote=wrote, dry_run=self.dry_run, conflicts=conflicts
        )

    def plan(self, ticket_id: int) -> Plan:
        """Read the ticket and what it depends on, and plan without writing."""
        return self._plan(ticket_id, self._recall(ticket_id))[0]

    def _plan(self, ticket_id: int, seen: Seen | None) -> tuple[Plan, int | None]:
        """Plan from one ticket read; the comments only when they can change the answer.

        Returns the plan and the comment count its first response was found
        at (None when the first response did not matter or is not known).
        """
        ticket = self.zendesk.get_ticket(ticket_id)
        organization, entitlement = self.entitlements.for_ticket(ticket)
        known: tuple[datetime | None] | None = None
        count: int | None = None
        comments: list[Comment] = []
        if needs_comments(ticket, entitlement, self.fields):
            known, count = _known_first_response(ticket, seen)
            if known is None:
                comments = self.zendesk.list_comments(ticket_id)
                count = len(comments)
        decided = plan(
            ticket,
            organization=organization,
            comments=comments,
            entitlement=entitlement,
            policy=self.policy,
            fields=self.fields,
            now=self.clock(),
            self_user_id=self._own_user_id() if comments else None,
            at_risk_fraction=self.at_risk_fraction,
            known_first_response=known,
        )
        return decided, count

    def _recall(self, ticket_id: int) -> Seen | None:
        return self.memory.recall(ticket_id) if self.memory is not None else None

    def _check_ticket_writes(self, seen: Seen | None, ticket_id: int) -> None:
        """Wait (in the queue) rather than pass Zendesk's 30 writes per ticket per 10 min."""
        wait = TicketMemory.write_wait(seen, now=time.time())
        if wait > 0:
            raise BudgetWait(
                f"zendesk budget: ticket {ticket_id} had 30 updates of ours in "
                f"10 minutes, waiting {wait:.0f} s",
                service="zendesk",
                retry_after=wait,
                pool="updates",
            )

    def _remember(
        self,
        decided: Plan,
        count: int | None,
        seen: Seen | None,
        *,
        wrote: bool,
        version: str | None,
        added_comment: bool = False,
    ) -> None:
        """Record what this reconcile knows now, for the next event of the ticket."""
        if self.memory is None:
            return
        ticket = decided.ticket
        if decided.severity in PAGING_SEVERITIES and ticket.organization_id is not None:
            # The receiver's lane choice for the next SEV 1/2 webhook of this
            # organization: not entitled, so not the urgent lane.
            self.memory.remember_org(
                ticket.organization_id, entitled=decided.entitlement.entitled
            )
        first = decided.first_response_at
        now = time.time()
        if wrote:
            if version is None:
                return  # the write's version is unknown: the next event reads
            record = Seen(
                version=version,
                comment_count=None if count is None else count + int(added_comment),
                first_response_at=first.isoformat() if first else None,
                own=True,
                urgent=_urgent(decided),
                writes=TicketMemory.with_write(seen, now=now),
            )
        else:
            same = seen is not None and seen.version == ticket.updated_stamp
            record = Seen(
                version=ticket.updated_stamp,
                comment_count=count,
                first_response_at=first.isoformat() if first else None,
                own=bool(same and seen and seen.own),
                urgent=_urgent(decided),
                writes=seen.writes if seen else (),
            )
        if record != seen:
            self.memory.remember(ticket.id, record)

    def _own_user_id(self) -> int:
        if self._self_user_id is None:
            stored = self.memory.own_user_id() if self.memory is not None else None
            if stored is None:
                stored = self.zendesk.current_user_id()
                if self.memory is not None:
                    self.memory.set_own_user_id(stored)
            self._self_user_id = stored
        return self._self_user_id

    def _follow_up(self, decided: Plan) -> None:
        ticket_id = decided.ticket.id
        account = self.zendesk.account
        if decided.page or decided.resolve_page:
            # The escalation's lease in the queue store is the durable "page
            # wanted" record: this enqueues only when no live job holds it, so
            # a job lost to a crash is enqueued again (here, or by the worker's
            # lease watchdog) once its lease lapses.
            self.scheduler.submit_escalate(ticket_id)
        # The timers of a SEV 1/2 ticket of an entitled organization run in the
        # urgent lane: its at-risk and breach flips never wait behind ordinary jobs.
        lane = Lane.URGENT if _urgent(decided) else Lane.NORMAL
        for moment in decided.wake_at:
            key = f"wake:{account}:{ticket_id}:{format_utc(moment)}"
            self._claim_then(
                key,
                functools.partial(
                    self.scheduler.enqueue_reconcile,
                    ticket_id,
                    eta=moment,
                    wake_key=key,
                    lane=lane,
                ),
            )

    def _claim_then(
        self, key: str, enqueue: Callable[[], None], **claim_options: float
    ) -> None:
        # The claim makes a racing reconcile (a redelivery, a second worker) skip
        # the enqueue; if the enqueue fails the claim is given back, so a retry
        # of this reconcile tries again and nothing is lost.
        if not self.scheduler.claim(key, **claim_options):
            return
        try:
            enqueue()
        except Exception:
            self.scheduler.release(key)
            raise

    # --- escalate --------------------------------------------------------

    def escalate(self, ticket_id: int) -> None:
        """Page on-call for the ticket (or resolve its page), then record it on the ticket.

        The ticket write comes right after PagerDuty answered, before anything
        optional (Slack), so a page that went out is always on the ticket. A
        conflict on that write re-reads the ticket and writes the record again;
        it does not trigger again.
        """
        if self.pager is None:
            raise Rejected(
                "paging is not configured in this process", service="pagerduty"
            )
        with lane(URGENT):  # the page and its marker never wait for budget
            self._escalate(ticket_id)

    def _escalate(self, ticket_id: int) -> None:
        assert self.pager is not None
        seen = self._recall(ticket_id)
        decided, count = self._plan(ticket_id, seen)
        first_read = (decided, count, seen)
        if not (decided.page or decided.resolve_page):
            log.info(
                "escalation not needed",
                extra={"ticket_id": ticket_id, "reason": decided.page_reason},
            )
            return
        key = dedup_key(self.zendesk.account, ticket_id)
        if decided.page:
            routing_key = self._routing_key(decided.entitlement)
            self._trigger(decided.ticket, decided, key, routing_key)
            recorded = self._record(
                ticket_id,
                lambda d: d.page,
                lambda d: TicketUpdate.retag(
                    d.ticket,
                    add={PAGED_TAG, key_tag(routing_key)},
                    private_note=page_note(d, routing_hint(d.entitlement)),
                ),
                first_read,
            )
            if recorded is not None:
                count_page("trigger")  # sidecar_pages_total: once, with its record
                log.info("paged", extra={"ticket_id": ticket_id, "dedup_key": key})
                self._notify_slack(recorded.ticket, recorded)
            return
        routing_key = self._opening_key(decided, key)
        self.pager.resolve(dedup_key=key, routing_key=routing_key)
        if decided.ticket.status == "closed":
            # Zendesk refuses updates to closed tickets: nothing to record.
            count_page("resolve")
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})
            return
        if self._record(
            ticket_id,
            lambda d: d.resolve_page,
            lambda d: TicketUpdate.retag(d.ticket, add={RESOLVED_TAG}),
            first_read,
        ):
            count_page("resolve")
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})

    def _record(
        self,
        ticket_id: int,
        still_needed: Callable[[Plan], bool],
        build: Callable[[Plan], TicketUpdate],
        first_read: tuple[Plan, int | None, Seen | None],
    ) -> Plan | None:
        """Write what escalate did to the ticket, re-reading after each conflict.

        The first attempt writes against the read the escalation decided on
        (its ``updated_stamp`` makes any change since then a 409, never a
        loss). Returns the plan the record was written against, or None when a
        re-read shows the record is no longer needed (another job wrote it, or
        the ticket closed meanwhile).
        """
        decided, count, seen = first_read
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not still_needed(decided) or decided.ticket.status == "closed":
                return None
            update = build(decided)
            try:
                version = self.zendesk.update_ticket(update)
            except Conflict:
                seen = self._recall(ticket_id)
                decided, count = self._plan(ticket_id, seen)
                continue
            self._remember(
                decided,
                count,
                seen,
                wrote=True,
                version=version,
                added_comment=bool(update.private_note),
            )
            return decided
        raise Conflict(
            f"ticket {ticket_id} kept changing while recording the escalation",
            service="zendesk",
            status=409,
        )

    def _routing_key(self, entitlement: Entitlement) -> Secret:
        """The routing key a page of this organization goes to."""
        assert self.pager is not None
        key = entitlement.routing_key or self.pager.default_routing_key
        if key is None:
            raise MissingRoutingKey()
        return key

    def _opening_key(self, decided: Plan, dedup: str) -> Secret:
        """The routing key the incident was opened with, found by its fingerprint tag.

        PagerDuty ties a resolve to the routing key + dedup key of the trigger
        and answers 202 to any other pair, so resolving under a key the
        organization has since changed would leave the incident open silently.
        """
        tags = sorted(t for t in decided.ticket.tags if t.startswith(KEY_TAG_PREFIX))
        if not tags:
            # Paged before fingerprints were recorded: the key in force is the best guess.
            return self._routing_key(decided.entitlement)
        assert self.pager is not None
        candidates = [decided.entitlement.routing_key, self.pager.default_routing_key]
        candidates += list(self.entitlements.routing_keys())
        for candidate in candidates:
            if candidate is not None and key_tag(candidate) in tags:
                return candidate
        raise Rejected(
            f"cannot resolve PagerDuty incident {dedup}: it was opened with a routing "
            f"key (fingerprint {tags[0].removeprefix(KEY_TAG_PREFIX)}) that is no "
            "longer configured; resolve it in PagerDuty or configure that key again",
            service="pagerduty",
        )

    def _trigger(
        self, ticket: Ticket, decided: Plan, key: str, routing_key: Secret
    ) -> None:
        assert self.pager is not None and decided.severity is not None
        name = org_name(decided)
        url = self.zendesk.ticket_url(ticket.id)
        details: dict[str, Any] = {
            "ticket_id": ticket.id,
            "ticket_url": url,
            "organization": name,
            "organization_id": ticket.organization_id,
            "severity": f"SEV {decided.severity}",
            "first_response_due": format_utc(decided.sla.due_at)
            if decided.sla
            else None,
            "entitlement": decided.entitlement.reason,
        }
        self.pager.trigger(
            dedup_key=key,
            summary=summary(decided.severity, name, ticket.subject),
            severity=PAGERDUTY_SEVERITY[decided.severity],
            source=f"zendesk:{self.zendesk.account}",
            custom_details=details,
            links=[{"href": url, "text": f"Zendesk ticket #{ticket.id}"}],
            routing_key=routing_key,
        )

    def _notify_slack(self, ticket: Ticket, decided: Plan) -> None:
        # Best effort, once per ticket: a revoked webhook or an archived channel
        # must not undo or hold back the page, which is already recorded.
        if self.slack is not None and self.slack.notify_paged(decided):
            return  # the Slack app tells the customer (thread or org channel)
        webhook = decided.entitlement.slack_webhook_url
        if self.notifier is None or webhook is None:
            return
        if not self.scheduler.claim(f"slack:{self.zendesk.account}:{ticket.id}"):
            return
        text = (
            f"{summary(decided.severity or 0, org_name(decided), ticket.subject)}"
            f" — on-call has been paged: {self.zendesk.ticket_url(ticket.id)}"
        )
        try:
            self.notifier.post(webhook.reveal(), text)
        except UpstreamError as exc:
            log.error(
                "slack notice failed: %s",
                exc,
                extra={"ticket_id": ticket.id, "status": exc.status},
            )


def _urgent(decided: Plan) -> bool:
    """SEV 1/2 of an entitled organization: its writes use the reserved budget."""
    return decided.entitlement.entitled and decided.severity in PAGING_SEVERITIES


def _known_first_response(
    ticket: Ticket, seen: Seen | None
) -> tuple[tuple[datetime | None] | None, int | None]:
    """The first response when it is known without reading comments, and its comment count.

    Known when: the ticket has one comment (the description is never the
    response); or it is the very version we last knew; or no comment was added
    since a look that found no response (comments are only ever appended, and
    one made private cannot make a response appear). Else (None, None): read.
    """
    count = ticket.comment_count
    if count is not None and count <= 1:
        return (None,), count
    if seen is None or seen.comment_count is None:
        return None, None
    if seen.version == ticket.updated_stamp:
        return (seen.first_response(),), seen.comment_count
    if count is not None and count == seen.comment_count and seen.first_response_at is None:
        return (None,), count
    return None, None


def org_name(decided: Plan) -> str:
    """Name the ticket's organization for humans."""
    if decided.organization is None:
        return "no organization"
    return decided.organization.name or f"organization {decided.organization.id}"


def routing_hint(entitlement: Entitlement) -> str:
    """Name the routing key used without revealing any of it."""
    if entitlement.routing_key is not None:
        return "the organization's own routing key (entitlements file)"
    return "the default routing key (SIDECAR_PAGERDUTY_ROUTING_KEY)"


def page_note(decided: Plan, route: str) -> str:
    """Write the private note that records who was paged and why."""
    entitlement = decided.entitlement
    due = format_utc(decided.sla.due_at) if decided.sla else "—"
    return (
        f"On-call paged through PagerDuty via {route}.\n"
        f"Why: SEV {decided.severity} on a ticket of {org_name(decided)}"
        f" with Enterprise Support ({entitlement.reason}; source: {entitlement.source}).\n"
        f"First response due: {due}."
    )


def describe_update(update: TicketUpdate) -> dict[str, Any]:
    """Render an update as plain data for logs and the CLI."""
    out: dict[str, Any] = {}
    if update.custom_fields:
        out["custom_fields"] = {
            str(k): v for k, v in sorted(update.custom_fields.items())
        }
    if update.tags_added:
        out["tags_added"] = sorted(update.tags_added)
    if update.tags_removed:
        out["tags_removed"] = sorted(update.tags_removed)
    if update.add_follower_ids:
        out["add_follower_ids"] = sorted(update.add_follower_ids)
    if update.private_note:
        out["private_note"] = update.private_note
    return out
