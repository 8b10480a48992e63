"""``reconcile(ticket_id)`` and ``escalate(ticket_id)``: read, decide, write the difference.

The reconciler is level-triggered (ARCHITECTURE.md): a webhook only says "look at
ticket N". It reads the ticket as it is now, plans what the ticket should carry
(:mod:`sidecar.tasks.plan`), and writes only the difference, in one safe update.
Paging runs as its own job (``escalate``) so that PagerDuty being slow or down
never holds back the due-time write, and a claim in the shared queue store makes
sure a ticket pages once, however many reconciles race.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sidecar.config import Secret
from sidecar.entitlements import Entitlement
from sidecar.errors import Conflict, Rejected, UpstreamError
from sidecar.metrics import count_sla_outcomes
from sidecar.oncall.pagerduty import (
    MissingRoutingKey,
    dedup_key,
    key_fingerprint,
    summary,
)
from sidecar.sla import Policy, format_utc
from sidecar.tasks.plan import (
    PAGED_TAG,
    PAGERDUTY_SEVERITY,
    RESOLVED_TAG,
    Fields,
    Plan,
    needs_comments,
    plan,
)
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

    account: str

    def get_ticket(self, ticket_id: int) -> Ticket: ...
    def list_comments(self, ticket_id: int) -> list[Comment]: ...
    def update_ticket(self, update: TicketUpdate) -> None: ...
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
    ) -> None: ...
    def submit_escalate(self, ticket_id: int) -> bool: ...
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
        self._self_user_id: int | None = None

    # --- reconcile -------------------------------------------------------

    def reconcile(self, ticket_id: int) -> Outcome:
        """Bring one ticket's SLA fields and tags in line with the policy."""
        conflicts = 0
        while True:
            decided = self.plan(ticket_id)
            update = decided.update
            if update.is_empty() or self.dry_run:
                break
            try:
                self.zendesk.update_ticket(update)
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
            if self.slack is not None:  # the ticket's Slack thread follows it
                self.slack.notify_reconciled(decided)
        return Outcome(
            plan=decided, wrote=wrote, dry_run=self.dry_run, conflicts=conflicts
        )

    def plan(self, ticket_id: int) -> Plan:
        """Read the ticket and what it depends on, and plan without writing."""
        ticket = self.zendesk.get_ticket(ticket_id)
        organization, entitlement = self.entitlements.for_ticket(ticket)
        comments: list[Comment] = []
        if needs_comments(ticket, entitlement, self.fields):
            comments = self.zendesk.list_comments(ticket_id)
        return plan(
            ticket,
            organization=organization,
            comments=comments,
            entitlement=entitlement,
            policy=self.policy,
            fields=self.fields,
            now=self.clock(),
            self_user_id=self._own_user_id() if comments else None,
            at_risk_fraction=self.at_risk_fraction,
        )

    def _own_user_id(self) -> int:
        if self._self_user_id is None:
            self._self_user_id = self.zendesk.current_user_id()
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
        for moment in decided.wake_at:
            key = f"wake:{account}:{ticket_id}:{format_utc(moment)}"
            self._claim_then(
                key,
                lambda moment=moment, key=key: self.scheduler.enqueue_reconcile(
                    ticket_id, eta=moment, wake_key=key
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
        decided = self.plan(ticket_id)
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
            )
            if recorded is not None:
                log.info("paged", extra={"ticket_id": ticket_id, "dedup_key": key})
                self._notify_slack(recorded.ticket, recorded)
            return
        routing_key = self._opening_key(decided, key)
        self.pager.resolve(dedup_key=key, routing_key=routing_key)
        if decided.ticket.status == "closed":
            # Zendesk refuses updates to closed tickets: nothing to record.
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})
            return
        if self._record(
            ticket_id,
            lambda d: d.resolve_page,
            lambda d: TicketUpdate.retag(d.ticket, add={RESOLVED_TAG}),
        ):
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})

    def _record(
        self,
        ticket_id: int,
        still_needed: Callable[[Plan], bool],
        build: Callable[[Plan], TicketUpdate],
    ) -> Plan | None:
        """Write what escalate did to the ticket, re-reading after each conflict.

        Returns the plan the record was written against, or None when a re-read
        shows the record is no longer needed (another job wrote it, or the ticket
        closed meanwhile).
        """
        decided = self.plan(ticket_id)
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not still_needed(decided) or decided.ticket.status == "closed":
                return None
            try:
                self.zendesk.update_ticket(build(decided))
                return decided
            except Conflict:
                decided = self.plan(ticket_id)
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
