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

from sidecar.entitlements import Entitlement
from sidecar.errors import Conflict, Rejected, UpstreamError
from sidecar.oncall.pagerduty import dedup_key, summary
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
# A page claim outlives the escalate job's retries (about 11 minutes); if the job
# still failed, the next reconcile after this may try the page again.
PAGE_CLAIM_SECONDS = 30 * 60


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


class Notifier(Protocol):
    """The customer's shared Slack channel (sidecar.oncall.slack.SlackNotifier)."""

    def post(self, url: str, text: str) -> None: ...


class Scheduler(Protocol):
    """The parts of the job queue the reconciler uses (sidecar.tasks.queue.JobQueue)."""

    def enqueue_reconcile(
        self,
        ticket_id: int,
        *,
        eta: datetime | None = None,
        wake_key: str | None = None,
    ) -> None: ...
    def enqueue_escalate(self, ticket_id: int) -> None: ...
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
            self._claim_then(
                escalation_claim(account, ticket_id, page=decided.page),
                lambda: self.scheduler.enqueue_escalate(ticket_id),
                ttl_seconds=PAGE_CLAIM_SECONDS,
            )
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
        optional (Slack), so a page that went out is always on the ticket.
        """
        if self.pager is None:
            raise Rejected(
                "paging is not configured in this process", service="pagerduty"
            )
        account = self.zendesk.account
        for _ in range(MAX_CONFLICT_ROUNDS):
            decided = self.plan(ticket_id)
            ticket = decided.ticket
            if not (decided.page or decided.resolve_page):
                log.info(
                    "escalation not needed",
                    extra={"ticket_id": ticket_id, "reason": decided.page_reason},
                )
                # Free the claims, so a later change (SEV 3 back to 1) can page.
                for page in (True, False):
                    self.scheduler.release(
                        escalation_claim(account, ticket_id, page=page)
                    )
                return
            entitlement = decided.entitlement
            key = dedup_key(account, ticket_id)
            if decided.page:
                self._trigger(ticket, decided, key)
                record = TicketUpdate(
                    ticket_id=ticket_id,
                    updated_stamp=ticket.updated_stamp,
                    additional_tags=frozenset({PAGED_TAG}),
                    private_note=page_note(decided, routing_hint(entitlement)),
                )
            else:
                self.pager.resolve(dedup_key=key, routing_key=entitlement.routing_key)
                if ticket.status == "closed":
                    # Zendesk refuses updates to closed tickets; the claim (30 min)
                    # keeps the resolve from repeating.
                    log.info(
                        "page resolved",
                        extra={"ticket_id": ticket_id, "dedup_key": key},
                    )
                    return
                record = TicketUpdate(
                    ticket_id=ticket_id,
                    updated_stamp=ticket.updated_stamp,
                    additional_tags=frozenset({RESOLVED_TAG}),
                )
            try:
                self.zendesk.update_ticket(record)
            except Conflict:
                continue  # re-read; PagerDuty dedups the repeated trigger on dedup_key
            log.info(
                "paged" if decided.page else "page resolved",
                extra={"ticket_id": ticket_id, "dedup_key": key},
            )
            if decided.page:
                self._notify_slack(ticket, decided)
            return
        raise Conflict(
            f"ticket {ticket_id} kept changing while recording the page",
            service="zendesk",
            status=409,
        )

    def _trigger(self, ticket: Ticket, decided: Plan, key: str) -> None:
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
            routing_key=decided.entitlement.routing_key,
        )

    def _notify_slack(self, ticket: Ticket, decided: Plan) -> None:
        # Best effort, once per ticket: a revoked webhook or an archived channel
        # must not undo or hold back the page, which is already recorded.
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


def escalation_claim(account: str, ticket_id: int, *, page: bool) -> str:
    """Name the claim that keeps one page (or resolve) job per ticket in flight."""
    return f"{'page' if page else 'resolve'}:{account}:{ticket_id}"


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
    if update.additional_tags:
        out["additional_tags"] = sorted(update.additional_tags)
    if update.remove_tags:
        out["remove_tags"] = sorted(update.remove_tags)
    if update.add_follower_ids:
        out["add_follower_ids"] = sorted(update.add_follower_ids)
    if update.private_note:
        out["private_note"] = update.private_note
    return out
