"""``reconcile(ticket_id)`` and ``escalate(ticket_id)``: read, decide, write the difference.

The reconciler is level-triggered (README, "How it works"): a webhook only says "look at
ticket N". It reads the ticket as it is now, plans what the ticket should carry
(:mod:`sidecar.domain.plan`), and writes only the difference, in one safe update.
Paging runs as its own job (``escalate``) so that PagerDuty being slow or down
never holds back the due-time write, and a claim in the shared queue store makes
sure a ticket pages once, however many reconciles race.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Set
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sidecar.config import Secret
from sidecar.domain.metric_plan import replies_from, wants_metrics
from sidecar.domain.models import (
    Comment,
    CommentText,
    Organization,
    Ticket,
    TicketUpdate,
)
from sidecar.domain.page_request import (
    PAGE_REQUEST_TAG,
    PageRequest,
    page_request_from,
)
from sidecar.domain.plan import (
    PAGED_TAG,
    PAGERDUTY_SEVERITY,
    PAGING_SEVERITIES,
    REQUESTED_PAGE_SEVERITY,
    RESOLVED_TAG,
    Fields,
    Plan,
    effective_policy,
    needs_comments,
    plan,
)
from sidecar.entitlements import Entitlement
from sidecar.errors import (
    BadResponse,
    BudgetWait,
    Conflict,
    Gone,
    Rejected,
    Transient,
    UpstreamError,
)
from sidecar.metrics import count_page, count_sla_outcomes
from sidecar.oncall.pagerduty import (
    MissingRoutingKey,
    dedup_key,
    key_fingerprint,
    summary,
)
from sidecar.sla import Policy, Reply, StatusChange, format_utc
from sidecar.tasks.jobs import Lane
from sidecar.tasks.memo import Seen, TicketMemory, already_seen, parse_version
from sidecar.zendesk.budget import (
    BULK,
    NORMAL,
    URGENT,
    current_lane,
    lane,
    set_lane,
)

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

    def get_ticket(self, ticket_id: int, *, quick: bool = False) -> Ticket: ...
    def list_comments(self, ticket_id: int) -> list[Comment]: ...
    def list_status_changes(self, ticket_id: int) -> list[StatusChange]: ...
    def list_comment_texts(self, ticket_id: int) -> list[CommentText]:
        """The comments with their text and authors' names (one read, users sideloaded)."""
        ...

    def update_ticket(self, update: TicketUpdate) -> str | None:
        """Write; return the ticket's version after the write when Zendesk shows it."""
        ...

    def current_user_id(self) -> int: ...
    def ticket_url(self, ticket_id: int) -> str: ...


class Entitlements(Protocol):
    """Decides whether a ticket's organization holds Enterprise Support."""

    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]: ...
    def known_for_org(
        self, org_id: int
    ) -> tuple[Organization | None, Entitlement] | None:
        """The entitlement from the org cache or the file alone; None: not known."""
        ...

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
    """The Slack app's hook (sidecar.tasks.slack_notify.ThreadNotifier); both calls are best effort."""

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
    def set_timer(
        self, ticket_id: int, *, eta: datetime, wake_key: str, lane: Lane = ...
    ) -> bool:
        """Claim ``wake_key`` and schedule reconcile(ticket_id) at ``eta``: both or neither."""
        ...

    def hold_escalation(self, ticket_id: int) -> bool:
        """Take the escalation's lease (False: a live job holds it); enqueue its job next."""
        ...

    def enqueue_escalate(
        self,
        ticket_id: int,
        *,
        page: Mapping[str, Any] | None = None,
        record_only: bool = False,
    ) -> None:
        """Enqueue escalate(ticket_id) in the urgent lane (its lease already held)."""
        ...

    def release_escalation(self, ticket_id: int) -> None:
        """Give the escalation's lease back (its job could not be enqueued)."""
        ...

    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...
    def release(self, key: str) -> None: ...


@dataclass(frozen=True)
class PageOrder:
    """A decision to page, handed to the escalate job so it triggers before any Zendesk call.

    Plain data (it is stored with the job): the routing key is named by its
    fingerprint only. ``basis`` is "ticket" (decided from a read of the
    ticket) or "webhook" (the signed webhook's severity and organization, with
    the entitlement from our cache or file, while Zendesk could not be read).
    """

    severity: int | None  # None: an agent paged an unrated ticket
    organization_id: int | None
    organization: str
    subject: str | None
    due_at: str | None
    reason: str
    route: str
    basis: str
    # An agent's page from the ticket (the "Page on-call" macro): who and why.
    requested_by: str = ""
    request_reason: str = ""

    def as_kwargs(self) -> dict[str, Any]:
        """The order as job arguments."""
        return asdict(self)

    @classmethod
    def from_kwargs(cls, data: Mapping[str, Any] | None) -> PageOrder | None:
        """The order a job carries, or None (absent or not understood: read first)."""
        if not data:
            return None
        try:
            return cls(**data)
        except TypeError:
            return None


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
        page_any_org: bool = False,
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
        # Whether an agent may page for an organization without Enterprise
        # Support (SIDECAR_PAGE_REQUEST_ANY_ORG).
        self.page_any_org = page_any_org
        self._self_user_id: int | None = None

    # --- reconcile -------------------------------------------------------

    def reconcile_event(
        self,
        ticket_id: int,
        *,
        actor_id: int | None = None,
        version: str | None = None,
        urgent: bool = False,
        severity: int | None = None,
        organization_id: int | None = None,
        bulk: bool = False,
    ) -> Outcome | None:
        """Reconcile for a webhook, unless what it announces is provably known (then None).

        Two rules spend no call (docs/decisions.md, "API budget"): the change
        was made by our own API user (event payloads name the actor), or it is
        stamped before a version we already fully know. Anything else reads.
        ``urgent``: the job runs on the urgent lane, so its calls use the
        reserved budget from the first read on. ``severity`` and
        ``organization_id``: what the signed trigger body named; when they
        decide a page and Zendesk cannot be read within a few seconds, the
        page goes out on them (:meth:`_read_or_page`). ``bulk``: a backfill's
        or replay's job, spending from the bulk part of the budget (until its
        ticket proves SEV 1/2 of an entitled organization: then urgent).
        """
        with lane(URGENT if urgent else BULK if bulk else NORMAL):
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
            first = None
            if urgent and severity in PAGING_SEVERITIES and organization_id:
                first = self._read_or_page(ticket_id, severity, organization_id)
            return self.reconcile(ticket_id, first=first)

    def reconcile(self, ticket_id: int, *, first: Ticket | None = None) -> Outcome:
        """Bring one ticket's SLA fields and tags in line with the policy.

        ``first``: the ticket as this job already read it. A page (or its
        resolve) is handed to the escalate job as soon as it is decided,
        before this job's own write, which may wait for the budget.
        """
        conflicts = 0
        seen = self._recall(ticket_id)
        if seen is not None and seen.urgent:
            set_lane(URGENT)  # SEV 1/2 of an entitled org, as last seen
        version: str | None = None
        escalated = False
        escalation: Callable[[], None] | None = None
        while True:
            decided, known = self._plan(ticket_id, seen, ticket=first)
            first = None  # a conflict reads again
            if not escalated and not self.dry_run:
                escalated = decided.page or decided.resolve_page
                escalation = self._start_escalation(decided)
            update = decided.update
            if _urgent(decided):
                set_lane(URGENT)  # the due-time write of a SEV 1/2 never waits
            elif current_lane() == URGENT:
                # Read on the urgent lane's word (a webhook or an old memo), but
                # not SEV 1/2 of an entitled org: its write is ordinary work.
                set_lane(NORMAL)
            if update.is_empty() or self.dry_run:
                break
            try:
                self._check_ticket_writes(seen, ticket_id)
                version = self.zendesk.update_ticket(update)
                break
            except Conflict:
                # Someone wrote the ticket since we read it: read again and
                # recompute, rather than overwrite their change.
                conflicts += 1
                if conflicts >= MAX_CONFLICT_ROUNDS:
                    if escalation is not None:
                        escalation()
                    raise
            except Exception:
                # The write waits (budget) or failed: the page is out already;
                # its job records it meanwhile.
                if escalation is not None:
                    escalation()
                raise
        if escalation is not None:
            # After our write, so the job's read usually finds it done.
            escalation()
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

    def _plan(
        self, ticket_id: int, seen: Seen | None, *, ticket: Ticket | None = None
    ) -> tuple[Plan, int | None]:
        """Plan from one ticket read; the comments only when they can change the answer.

        Returns the plan and the comment count its first response was found
        at (None when the first response did not matter or is not known).
        ``ticket``: already read by the caller.
        """
        if ticket is None:
            ticket = self.zendesk.get_ticket(ticket_id)
        organization, entitlement = self.entitlements.for_ticket(ticket)
        known: tuple[datetime | None] | None = None
        count: int | None = None
        comments: list[Comment] = []
        # Metrics beyond the first response need every comment and the status
        # history; a first-response-only ticket reads exactly what it did.
        metered = wants_metrics(
            effective_policy(self.policy, entitlement),
            ticket.custom_fields.get(self.fields.severity),
            entitled=entitlement.entitled,
        )
        replies: tuple[Reply, ...] | None = None
        statuses: tuple[StatusChange, ...] | None = None
        history_error: str | None = None
        request: PageRequest | None = None
        texts: list[CommentText] | None = None
        if PAGE_REQUEST_TAG in ticket.tags and ticket.status != "closed":
            # An agent asked for a page: who and why are in the comments (one
            # read with the authors' names, which also serves the first response).
            texts = self.zendesk.list_comment_texts(ticket_id)
            request = page_request_from(texts)
        if needs_comments(ticket, entitlement, self.fields):
            known, count = _known_first_response(ticket, seen)
            if metered:
                known, count, replies = _known_replies(ticket, seen)
            if known is None:
                comments = (
                    self.zendesk.list_comments(ticket_id)
                    if texts is None
                    else [_bare(t) for t in texts]
                )
                count = len(comments)
        if metered:
            if comments:
                replies = replies_from(
                    comments,
                    requester_id=ticket.requester_id,
                    self_user_id=self._own_user_id(),
                )
            statuses, history_error = self._status_history(ticket, seen)
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
            replies=replies,
            statuses=statuses,
            history_error=history_error,
            page_request=request,
            page_any_org=self.page_any_org,
        )
        return decided, count

    def _status_history(
        self, ticket: Ticket, seen: Seen | None
    ) -> tuple[tuple[StatusChange, ...] | None, str | None]:
        """The ticket's status history, read from its audits only when it may have changed.

        Known without a call when the memo holds the history and the ticket
        is the version we knew or has the status we knew (docs/decisions.md,
        "Metrics on the ticket": a round trip such as open -> pending -> open
        between two reads is then missed, which only ever makes a due time
        earlier), or when the ticket was never updated since its creation.
        A history that cannot be read (refused, malformed) is said, not
        guessed: (None, reason). A transient failure is raised (retried).
        """
        if (
            seen is not None
            and seen.statuses is not None
            and (seen.version == ticket.updated_stamp or seen.status == ticket.status)
        ):
            return tuple(
                StatusChange(status, datetime.fromisoformat(at))
                for status, at in seen.statuses
            ), None
        stamp = parse_version(ticket.updated_stamp)
        if stamp is not None and stamp[0] == ticket.created_at:
            return (StatusChange(ticket.status, ticket.created_at),), None
        try:
            return tuple(self.zendesk.list_status_changes(ticket.id)), None
        except (BadResponse, Rejected) as exc:
            log.warning(
                "status history unreadable: metrics beyond the first response not measured",
                extra={"ticket_id": ticket.id, "error": str(exc)},
            )
            return None, f"the ticket's status history could not be read ({exc})"

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
                ticket.organization_id,
                entitled=decided.entitlement.entitled,
                route=self._route_of(decided.entitlement),
            )
        first = decided.first_response_at
        now = time.time()
        history = _history_memo(decided, count)
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
                **history,
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
                **history,
            )
        if record == seen:
            return
        if history and _newer_known(self.memory.recall(ticket.id), record.version):
            # Another reconcile of this ticket, which read a later version,
            # remembered meanwhile: ours is older, and its status history
            # would make a later status round trip look like no change.
            return
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
        # The timers of a SEV 1/2 ticket of an entitled organization run in the
        # urgent lane: its at-risk and breach flips never wait behind ordinary jobs.
        lane = Lane.URGENT if _urgent(decided) else Lane.NORMAL
        for moment in decided.wake_at:
            key = f"wake:{account}:{ticket_id}:{format_utc(moment)}"
            # The claim makes a racing reconcile (a redelivery, a second worker)
            # skip this instant; the claim and the timer are one write.
            self.scheduler.set_timer(ticket_id, eta=moment, wake_key=key, lane=lane)

    def _start_escalation(self, decided: Plan) -> Callable[[], None] | None:
        """Take a page's (or resolve's) lease and trigger now; return the enqueue of its job.

        The escalation's lease in the queue store is the durable "page wanted"
        record: None when a live job holds it (that job pages). Else the page
        goes to PagerDuty at once, before this reconcile's own write (which may
        wait for the budget); the returned call enqueues the escalate job that
        records it (or triggers itself, if this trigger did not get through),
        carrying the decision. A crash before that call leaves a short lease
        that lapses, and the worker's watchdog enqueues the escalation.
        """
        if not (decided.page or decided.resolve_page):
            return None
        ticket_id = decided.ticket.id
        if not self.scheduler.hold_escalation(ticket_id):
            return None
        order = self._order_from(decided) if decided.page else None
        sent = order is not None and self._page_now(ticket_id, order)
        page = order.as_kwargs() if order else None
        return functools.partial(self._enqueue_escalation, ticket_id, page, sent)

    def _enqueue_escalation(
        self, ticket_id: int, page: Mapping[str, Any] | None, sent: bool = False
    ) -> None:
        try:
            # A job that only records waits behind those that may still page.
            self.scheduler.enqueue_escalate(ticket_id, page=page, record_only=sent)
        except Exception:
            # Given back, so this job's retry enqueues it again (not only the
            # watchdog once the lease lapses).
            self.scheduler.release_escalation(ticket_id)
            raise

    def _page_now(self, ticket_id: int, order: PageOrder) -> bool:
        """Trigger in this job, its escalation's lease held (best effort).

        The escalate job enqueued next triggers itself if this one did not
        get through (PagerDuty slow or down; after a crash the watchdog's job
        does): the page never waits for a thread of the urgent lane, and a
        failure here never holds back this job's own write.
        """
        if self.pager is None:
            return False
        try:
            return self._page_first(ticket_id, order)
        except UpstreamError as exc:
            log.warning(
                "page left to the escalate job: %s",
                exc,
                extra={"ticket_id": ticket_id, "status": exc.status},
            )
            return False

    def _order_from(self, decided: Plan) -> PageOrder | None:
        """The page a plan decided, as plain data (None: let the job decide after its read)."""
        route = self._route_of(decided.entitlement)
        if route is None or (decided.severity is None and decided.requested is None):
            return None  # no routing key: the escalate job reports it
        ticket = decided.ticket
        requested = decided.requested
        return PageOrder(
            severity=decided.severity,
            organization_id=ticket.organization_id,
            organization=org_name(decided),
            subject=ticket.subject,
            due_at=format_utc(decided.sla.due_at) if decided.sla else None,
            reason=decided.entitlement.reason,
            route=route,
            basis="ticket",
            requested_by=requested.requested_by if requested else "",
            request_reason=requested.reason if requested else "",
        )

    def _route_of(self, entitlement: Entitlement) -> str | None:
        """The fingerprint of the routing key an organization's pages go to."""
        key = entitlement.routing_key or (
            self.pager.default_routing_key if self.pager is not None else None
        )
        return key_fingerprint(key) if key is not None else None

    def _read_or_page(self, ticket_id: int, severity: int, org_id: int) -> Ticket:
        """Read the ticket for a SEV 1/2 the webhook named; page on that word if Zendesk cannot answer.

        Zendesk "cannot be read" is a 429, a 5xx, a read that did not answer
        within the page read's few seconds, or our own budget's wait: the page
        goes to the escalate job on what the signed webhook named and the
        entitlement we hold (org cache or file, never the body), and the
        error goes up so this reconcile is retried; its read (and the escalate
        job's) then confirms the page or resolves it with a note saying why.
        """
        if self.memory is not None and self.memory.page_sent(ticket_id):
            return self.zendesk.get_ticket(
                ticket_id
            )  # paged: the read can take its time
        try:
            return self.zendesk.get_ticket(ticket_id, quick=True)
        except Transient as exc:
            self._page_on_hint(ticket_id, severity, org_id, exc)
            raise

    def _page_on_hint(
        self, ticket_id: int, severity: int, org_id: int, cause: Exception
    ) -> None:
        if self.pager is None or self.dry_run:
            return
        if self.memory is not None and self.memory.page_sent(ticket_id):
            return  # paged already; the record waits for Zendesk
        order = self._order_from_hint(severity, org_id)
        context = {"ticket_id": ticket_id, "org_id": org_id, "severity": severity}
        if order is None:
            log.info(
                "zendesk cannot be read; the organization's entitlement is not known",
                extra=context,
            )
            return
        if self.scheduler.hold_escalation(ticket_id):
            log.warning(
                "zendesk cannot be read (%s): paging on the webhook's word",
                type(cause).__name__,
                extra=context,
            )
            sent = self._page_now(ticket_id, order)
            self._enqueue_escalation(ticket_id, order.as_kwargs(), sent)

    def _order_from_hint(self, severity: int, org_id: int) -> PageOrder | None:
        """A page from the webhook's severity and organization and the entitlement we hold."""
        known = self.entitlements.known_for_org(org_id)
        if known is not None:
            org, entitlement = known
            if not entitlement.entitled:
                return None
            name = (org.name if org is not None else "") or f"organization {org_id}"
            reason, route = entitlement.reason, self._route_of(entitlement)
        elif self.memory is not None and self.memory.org_entitled(org_id):
            # A reconcile of another SEV 1/2 of this organization found it
            # entitled within ORG_ENTITLEMENT_TTL_SECONDS (the shared store).
            name = f"organization {org_id}"
            reason = "Enterprise Support (found by a recent reconcile)"
            route = self.memory.org_route(org_id) or self._route_of(
                Entitlement(entitled=True, reason=reason, source="memo")
            )
        else:
            return None
        if route is None:
            return None
        return PageOrder(
            severity=severity,
            organization_id=org_id,
            organization=name,
            subject=None,
            due_at=None,
            reason=reason,
            route=route,
            basis="webhook",
        )

    # --- escalate --------------------------------------------------------

    def escalate(
        self, ticket_id: int, *, page: Mapping[str, Any] | None = None
    ) -> None:
        """Page on-call for the ticket (or resolve its page), then record it on the ticket.

        ``page``: a decision already made (:class:`PageOrder`): the trigger
        goes to PagerDuty first, then the ticket is read and the record
        written, inside the budget (it may wait in the queue; the trigger is
        remembered, so the wait does not trigger again). Without it the ticket
        is read first. The record comes before anything optional (Slack), so a
        page that went out is always on the ticket. A conflict on that write
        re-reads the ticket and writes the record again; it does not trigger again.
        """
        if self.pager is None:
            raise Rejected(
                "paging is not configured in this process", service="pagerduty"
            )
        with lane(URGENT):  # the urgent part of the budget
            order = PageOrder.from_kwargs(page)
            if order is not None:
                self._page_first(ticket_id, order)
            self._escalate(ticket_id)

    def _page_first(self, ticket_id: int, order: PageOrder) -> bool:
        """Trigger on a decision made before this job's read (once: remembered until recorded).

        True when the page is out (now or before).
        """
        assert self.pager is not None
        if self.memory is not None and self.memory.page_sent(ticket_id):
            return True
        routing_key = self._key_by_route(order.route)
        if routing_key is None:
            return False  # that key is no longer configured: decide after the read
        key = dedup_key(self.zendesk.account, ticket_id)
        self._send_trigger(
            ticket_id,
            severity=order.severity,
            organization=order.organization,
            organization_id=order.organization_id,
            subject=order.subject,
            due_at=order.due_at,
            reason=order.reason,
            dedup=key,
            routing_key=routing_key,
            requested=PageRequest(order.requested_by, order.request_reason)
            if order.requested_by
            else None,
        )
        if self.memory is not None:
            self.memory.remember_page(ticket_id, route=order.route)
        log.info(
            "paged before the record",
            extra={"ticket_id": ticket_id, "dedup_key": key, "basis": order.basis},
        )
        return True

    def _key_by_route(self, route: str) -> Secret | None:
        """The configured routing key with this fingerprint."""
        assert self.pager is not None
        candidates = [self.pager.default_routing_key, *self.entitlements.routing_keys()]
        for candidate in candidates:
            if candidate is not None and key_fingerprint(candidate) == route:
                return candidate
        return None

    def _escalate(self, ticket_id: int) -> None:
        assert self.pager is not None
        seen = self._recall(ticket_id)
        sent = self.memory.page_sent(ticket_id) if self.memory is not None else None
        # A read that decides a page gives up within seconds (the job is then
        # retried); one that only records a page already sent takes its time.
        try:
            ticket = self.zendesk.get_ticket(ticket_id, quick=sent is None)
        except Gone:
            if sent is not None:
                # Paged on a webhook's word for a ticket Zendesk no longer has.
                self._resolve_sent(dedup_key(self.zendesk.account, ticket_id), sent)
                count_page("resolve")
                if self.memory is not None:
                    self.memory.forget_page(ticket_id)
            raise
        decided, count = self._plan(ticket_id, seen, ticket=ticket)
        first_read = (decided, count, seen)
        if not (decided.page or decided.resolve_page):
            if sent is not None:
                self._correct(ticket_id, decided, sent, first_read)
                return
            log.info(
                "escalation not needed",
                extra={"ticket_id": ticket_id, "reason": decided.page_reason},
            )
            return
        key = dedup_key(self.zendesk.account, ticket_id)
        if decided.page:
            routing_key = self._routing_key(decided.entitlement)
            if sent != key_fingerprint(routing_key):
                if sent is not None:
                    # Paged on another key (the cache was stale): that one is wrong.
                    self._resolve_sent(key, sent)
                self._trigger(decided.ticket, decided, key, routing_key)
            recorded = self._record(
                ticket_id,
                lambda d: d.page,
                lambda d: with_plan(
                    d,
                    add={PAGED_TAG, key_tag(routing_key)},
                    # An agent's request is answered by this very write.
                    remove={PAGE_REQUEST_TAG} if d.requested else frozenset(),
                    note=page_note(d, routing_hint(d.entitlement)),
                ),
                first_read,
            )
            if recorded is not None:
                if self.memory is not None:  # the ticket records it now
                    self.memory.recorded_page(
                        ticket_id, route=key_fingerprint(routing_key)
                    )
                count_page("trigger")  # sidecar_pages_total: once, with its record
                log.info("paged", extra={"ticket_id": ticket_id, "dedup_key": key})
                self._notify_slack(recorded.ticket, recorded)
            return
        routing_key = self._opening_key(decided, key)
        self.pager.resolve(dedup_key=key, routing_key=routing_key)
        if self.memory is not None:
            self.memory.forget_page(ticket_id)
        if decided.ticket.status == "closed":
            # Zendesk refuses updates to closed tickets: nothing to record.
            count_page("resolve")
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})
            return
        if self._record(
            ticket_id,
            lambda d: d.resolve_page,
            lambda d: with_plan(d, add={RESOLVED_TAG}),
            first_read,
        ):
            count_page("resolve")
            log.info("page resolved", extra={"ticket_id": ticket_id, "dedup_key": key})

    def _resolve_sent(self, dedup: str, route: str) -> None:
        assert self.pager is not None
        routing_key = self._key_by_route(route)
        if routing_key is not None:
            self.pager.resolve(dedup_key=dedup, routing_key=routing_key)

    def _correct(
        self,
        ticket_id: int,
        decided: Plan,
        route: str,
        first_read: tuple[Plan, int | None, Seen | None],
    ) -> None:
        """A page went out that the ticket, as read now, does not call for: resolve it, say why.

        When the ticket records an incident that is still open (``oncall_paged``
        without ``oncall_resolved``), the trigger only joined it (same dedup
        key): nothing to undo.
        """
        assert self.pager is not None
        tags = decided.ticket.tags
        key = dedup_key(self.zendesk.account, ticket_id)
        if not (PAGED_TAG in tags and RESOLVED_TAG not in tags):
            self._resolve_sent(key, route)
            count_page("resolve")
            log.warning(
                "page resolved: the ticket as read does not call for one",
                extra={
                    "ticket_id": ticket_id,
                    "dedup_key": key,
                    "reason": decided.page_reason,
                },
            )
            note = (
                "On-call was paged for this ticket while Zendesk could not be read, on "
                "what the signed webhook named (its severity and organization) and the "
                "organization's entitlement as the sidecar held it.\n"
                f"The ticket as read afterwards does not call for a page ({decided.page_reason}), "
                f"so the PagerDuty incident {key} was resolved."
            )
            if decided.ticket.status != "closed":
                recorded = self._record(
                    ticket_id,
                    lambda d: not d.page,
                    lambda d: with_plan(d, note=note),
                    first_read,
                )
                if recorded is None and decided.ticket.status != "closed":
                    if self.memory is not None:
                        self.memory.forget_page(ticket_id)
                    # Changed meanwhile so that it does call for a page: page again.
                    raise Transient(
                        f"ticket {ticket_id} changed while its page was corrected",
                        service="zendesk",
                    )
        if self.memory is not None:
            self.memory.forget_page(ticket_id)

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
            count_sla_outcomes(update.tags_added, decided.severity)
            # The write carried the plan's difference too (the reconcile's own
            # write may still wait for the budget): this is a whole reconcile,
            # so its timers are set and what it knows is remembered.
            self._follow_up(decided)
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
        self._send_trigger(
            ticket.id,
            severity=decided.severity,
            organization=org_name(decided),
            organization_id=ticket.organization_id,
            subject=ticket.subject,
            due_at=format_utc(decided.sla.due_at) if decided.sla else None,
            reason=decided.entitlement.reason,
            dedup=key,
            routing_key=routing_key,
            requested=decided.requested,
        )
        if self.memory is not None:
            self.memory.remember_page(ticket.id, route=key_fingerprint(routing_key))

    def _send_trigger(
        self,
        ticket_id: int,
        *,
        severity: int | None,
        organization: str,
        organization_id: int | None,
        subject: str | None,
        due_at: str | None,
        reason: str,
        dedup: str,
        routing_key: Secret,
        requested: PageRequest | None = None,
    ) -> None:
        assert self.pager is not None
        url = self.zendesk.ticket_url(ticket_id)
        details: dict[str, Any] = {
            "ticket_id": ticket_id,
            "ticket_url": url,
            "organization": organization,
            "organization_id": organization_id,
            "severity": "none" if severity is None else f"SEV {severity}",
            "first_response_due": due_at,
            "entitlement": reason,
        }
        if requested is not None:
            details["paged_by"] = requested.requested_by
            details["paging_reason"] = requested.reason
        self.pager.trigger(
            dedup_key=dedup,
            summary=summary(
                severity,
                organization,
                subject or f"Zendesk ticket #{ticket_id}",
                requested_by=requested.requested_by if requested else "",
            ),
            severity=PAGERDUTY_SEVERITY.get(severity or 0, REQUESTED_PAGE_SEVERITY),
            source=f"zendesk:{self.zendesk.account}",
            custom_details=details,
            links=[{"href": url, "text": f"Zendesk ticket #{ticket_id}"}],
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
            f"{summary(decided.severity, org_name(decided), ticket.subject)}"
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


def with_plan(
    decided: Plan,
    *,
    add: Set[str] = frozenset(),
    remove: Set[str] = frozenset(),
    note: str | None = None,
) -> TicketUpdate:
    """An escalation's record plus whatever else the plan writes, as one update."""
    diff = decided.update
    # The plan's own note (a refused page request) rides along, not lost.
    notes = [n for n in (note, diff.private_note) if n]
    return TicketUpdate.retag(
        decided.ticket,
        add=set(add) | diff.tags_added,
        remove=(diff.tags_removed | set(remove)) - set(add),
        custom_fields=diff.custom_fields,
        add_follower_ids=diff.add_follower_ids,
        private_note="\n\n".join(notes) or None,
    )


def _bare(text: CommentText) -> Comment:
    """A comment with text as the first-response rule reads it."""
    return Comment(
        id=text.id,
        author_id=text.author_id,
        public=text.public,
        created_at=text.created_at,
        author_role=text.author_role,
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
    if (
        count is not None
        and count == seen.comment_count
        and seen.first_response_at is None
    ):
        return (None,), count
    return None, None


def _known_replies(
    ticket: Ticket, seen: Seen | None
) -> tuple[tuple[datetime | None] | None, int | None, tuple[Reply, ...] | None]:
    """The first response, comment count and replies when known without reading comments.

    Known when the ticket has one comment (the description: no reply, no
    turn) or as many comments and the same requester as when the memo
    recorded its replies (comments are only ever appended). Else (None,
    None, None): read.
    """
    count = ticket.comment_count
    if count is not None and count <= 1:
        return (None,), count, ()
    if (
        seen is None
        or seen.replies is None
        or seen.comment_count is None
        or count != seen.comment_count
        # Another requester: who is the customer changed, so read again.
        or seen.requester != ticket.requester_id
    ):
        return None, None, None
    replies = tuple(
        Reply(datetime.fromisoformat(at), author, public)
        for at, author, public in seen.replies
    )
    return (seen.first_response(),), seen.comment_count, replies


def _newer_known(stored: Seen | None, version: str) -> bool:
    """True when the memo already holds a state of a later version than ``version``."""
    if stored is None:
        return False
    theirs, ours = parse_version(stored.version), parse_version(version)
    return theirs is not None and ours is not None and theirs[0] > ours[0]


def _history_memo(decided: Plan, count: int | None) -> dict[str, Any]:
    """The memo's part for metrics beyond the first response (empty: none measured)."""
    if decided.replies is None or decided.statuses is None or count is None:
        return {}
    return {
        "status": decided.ticket.status,
        "statuses": tuple((c.status, c.at.isoformat()) for c in decided.statuses),
        "replies": tuple(
            (r.at.isoformat(), r.author, r.public) for r in decided.replies
        ),
        "requester": decided.ticket.requester_id,
    }


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
    requested = decided.requested
    if requested is not None:
        shown = "no severity" if decided.severity is None else f"SEV {decided.severity}"
        return (
            f"On-call paged through PagerDuty via {route}, "
            f"at the request of {requested.requested_by}.\n"
            f"Reason: {requested.reason}\n"
            f"Ticket: {shown}, {org_name(decided)} ({entitlement.reason}).\n"
            f"First response due: {due}."
        )
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
