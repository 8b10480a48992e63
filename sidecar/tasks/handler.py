"""Build the job handlers of one worker process: the only place adapters meet the reconciler."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sidecar.domain.models import Organization
from sidecar.domain.plan import Fields
from sidecar.entitlements import EntitlementsStore
from sidecar.errors import ConfigError, Transient
from sidecar.oncall.pagerduty import PagerDutyPager
from sidecar.oncall.slack import SlackNotifier
from sidecar.sla import BusinessHours, Policy
from sidecar.tasks import oncall_back, slack_bridge, slack_notify
from sidecar.tasks.jobs import ESCALATE, RECONCILE, REFRESH_ORG, SWEEP, Handlers
from sidecar.tasks.memo import TicketMemory
from sidecar.tasks.open_counts import sample_open_counts
from sidecar.tasks.orgs import OrgCache, TicketEntitlements
from sidecar.tasks.reconcile import Reconciler, Scheduler
from sidecar.tasks.schedules import (
    AccountSchedules,
    PolicySource,
    refresh_schedules,
)
from sidecar.tasks.sweep import sweep
from sidecar.zendesk.budget import BULK, shares_from
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours

if TYPE_CHECKING:
    from sidecar.config import Config
    from sidecar.tasks.queue import JobQueue

log = logging.getLogger("sidecar.handler")


def load_configured_policy(
    config: Config, *, schedules: AccountSchedules | None = None
) -> Policy:
    """Return the policy the config names (the built-in default when none).

    ``schedules``: the account's Zendesk schedules, for a policy that names
    some (without them such a policy is a PolicyError saying so).
    """
    return configured_policy_source(config, schedules=schedules).policy()


def configured_policy_source(
    config: Config, *, schedules: AccountSchedules | None = None
) -> PolicySource:
    """The policy source of the config's policy file (and name)."""
    return PolicySource(
        policy_file=config.policy_file,
        policy_name=config.policy_name,
        schedules=schedules,
    )


def fields_from(config: Config) -> Fields:
    """Return the ticket field ids the config names; the severity field is required."""
    if config.severity_field_id is None:
        raise ConfigError(
            'SIDECAR_SEVERITY_FIELD_ID is not set: the id of the "Issue Severity" '
            "ticket field is needed to compute any SLA"
        )
    if config.due_at_field_id is None:
        raise ConfigError(
            "SIDECAR_DUE_AT_FIELD_ID is not set: the id of the text field that "
            "shows agents the first-response due time is needed"
        )
    return Fields(
        severity=config.severity_field_id,
        due_at=config.due_at_field_id,
        due_date=config.due_date_field_id,
        due_date_zone=ZoneInfo(config.due_date_timezone),  # validated by Config
        first_response_at=config.first_response_at_field_id,
        first_response_date=config.first_response_date_field_id,
        breach_minutes=config.breach_minutes_field_id,
        metric_due={
            name: field_id
            for name, field_id in (
                ("next_reply", config.next_reply_due_field_id),
                ("periodic_update", config.periodic_update_due_field_id),
                ("resolution", config.resolution_due_field_id),
            )
            if field_id is not None
        },
    )


class NoQueue:
    """The scheduler of a dry run without the service's queue: it refuses to enqueue.

    A dry run never schedules (the reconciler writes and follows up nothing);
    should that change, this says so instead of creating a queue no worker reads.
    """

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise ConfigError(
            "a dry run without the service's queue cannot enqueue or claim: "
            "set SIDECAR_QUEUE_URL to the service's queue"
        )

    enqueue_reconcile = set_timer = _refuse
    hold_escalation = enqueue_escalate = release_escalation = _refuse
    submit_escalate = claim = release = _refuse


class ReconcilerFactory:
    """Build reconcilers that share the process-wide parts and own per-thread clients.

    Zendesk clients are not thread-safe (a session, per-call state), so each worker thread
    gets its own Zendesk client; the organization cache, the entitlements and
    the PagerDuty client (which caches its own per-thread clients) are shared.
    """

    def __init__(self, config: Config, *, queue: JobQueue | None) -> None:
        if queue is None and not config.dry_run:
            raise ValueError("only a dry run may do without the queue")
        self.config = config
        # A dry run away from the service (`sidecar explain`) has no queue: it
        # schedules nothing, and reads unmetered, unremembered (NoQueue).
        self.queue: Scheduler = queue if queue is not None else NoQueue()
        # The account's Zendesk schedules the policy may name: read through this
        # process's client, the last good copy kept in the queue store.
        self.schedules = AccountSchedules(
            fetch=self._fetch_schedules if config.zendesk_connected else None,
            store=lambda: queue,
            save=queue is not None,
            account=config.zendesk_subdomain or "",
        )
        self.policies = configured_policy_source(config, schedules=self.schedules)
        self.fields = fields_from(config)
        self.store = EntitlementsStore.from_config(config)
        self._local = threading.local()
        # One Zendesk budget for every thread of this process, counted in the
        # queue store that every process shares (docs/decisions.md "API budget").
        self.budget = queue.budget(shares_from(config)) if queue is not None else None
        self.memory = (
            TicketMemory(queue, account=config.zendesk_subdomain or "")
            if queue is not None
            else None
        )
        self._flags = queue
        self.orgs = OrgCache(
            fetch=self._fetch_org,
            ttl=timedelta(seconds=config.org_cache_seconds),
            changed_at=self._org_changed_at,
        )
        self.entitlements = TicketEntitlements(orgs=self.orgs, store=self.store)
        self.pager = PagerDutyPager.from_config(config)
        self.notifier = SlackNotifier()
        # The Slack app's hook (None when it is off): the ticket's thread follows it.
        self.slack = (
            slack_notify.build(config, queue=queue, store=self.store)
            if queue is not None
            else None
        )
        # At start: a bad policy file, or Zendesk schedules neither Zendesk nor
        # the queue store can give, stop here with the reason.
        self.policies.policy()

    @property
    def policy(self) -> Policy:
        """The policy in force (it follows the Zendesk schedules it names)."""
        return self.policies.policy()

    def _fetch_schedules(self) -> list[BusinessHours]:
        return fetch_business_hours(self.client())

    def _fetch_org(self, org_id: int) -> Organization:
        # This thread's own client: no lock held across the network call, so
        # one slow organization read stalls only the thread that makes it.
        return self.client().get_organization(org_id)

    def _org_changed_at(self, org_id: int) -> datetime | None:
        if self._flags is None:
            return None
        value = self._flags.get_flag(f"org_changed:{org_id}")
        return datetime.fromisoformat(value) if value else None

    def client(self) -> ZendeskClient:
        """Return this thread's Zendesk client."""
        existing: ZendeskClient | None = getattr(self._local, "client", None)
        if existing is None:
            existing = self._local.client = ZendeskClient.from_config(
                self.config, budget=self.budget
            )
        return existing

    def reconciler(self) -> Reconciler:
        """Return this thread's reconciler."""
        existing: Reconciler | None = getattr(self._local, "reconciler", None)
        if existing is None:
            existing = Reconciler(
                zendesk=self.client(),
                entitlements=self.entitlements,
                scheduler=self.queue,
                policy=self.policy,
                fields=self.fields,
                pager=self.pager,
                notifier=self.notifier,
                slack=self.slack,
                at_risk_fraction=self.config.at_risk_fraction,
                dry_run=self.config.dry_run,
                memory=self.memory,
                page_any_org=self.config.page_request_any_org,
            )
            self._local.reconciler = existing
        else:
            existing.policy = self.policy  # rebuilt when the schedules changed
        return existing


def build_handler(config: Config, *, queue: JobQueue) -> Handlers:
    """Return the handlers for this worker process's reconcile, escalate and sweep jobs."""
    factory = ReconcilerFactory(config, queue=queue)
    # PagerDuty's news about pages (pagerduty_event jobs), with the same parts.
    queue.oncall.use(
        lambda: oncall_back.build(config, queue=queue, factory=factory),
        base_delay=config.retry_base_seconds,
    )
    if config.slack_enabled:  # the Slack app's jobs run with the same parts
        queue.slack.use(
            lambda: slack_bridge.build(config, queue=queue, factory=factory),
            base_delay=config.retry_base_seconds,
        )
        # The account's severity options, checked at start: a severity with no
        # option stops the worker with the list (ConfigError); Zendesk
        # unreachable now: the bridge reads them at its first ticket.
        try:
            slack_bridge.read_severity_tags(factory.client(), config.severity_field_id)
        except Transient as exc:
            log.warning("severity options not read at start: %s", exc)

    def run_sweep(_: int) -> None:
        sweep(
            zendesk=factory.client(),
            queue=queue,
            fields=factory.fields,
            clock=lambda: datetime.now(UTC),
            memory=factory.memory,
        )
        # After the sweep, at most every SIDECAR_OPEN_TICKET_COUNTS_SECONDS:
        # unsolved tickets per SLA status for /metrics (sidecar.tasks.open_counts).
        sample_open_counts(
            zendesk=factory.client(),
            store=queue,
            budget=factory.budget,
            interval_seconds=config.open_ticket_counts_seconds,
        )
        # At most every SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS: the Zendesk
        # schedules the policy names (sidecar.tasks.schedules).
        refresh_schedules(
            factory.policies,
            zendesk=factory.client(),
            queue=queue,
            fields=factory.fields,
            interval_seconds=config.zendesk_schedules_refresh_seconds,
        )

    def reconcile(ticket_id: int, **hint: Any) -> None:
        # ``hint``: what the webhook said (actor_id, version), to skip known
        # changes, ``urgent`` for a job on the urgent lane, ``bulk`` for a
        # backfill's or replay's.
        if hint.get("bulk") and factory.budget is not None:
            # Its write waits for the bulk part anyway: wait before the reads.
            factory.budget.ensure_room("updates", work=BULK)
        factory.reconciler().reconcile_event(ticket_id, **hint)

    def refresh_org(org_id: int) -> None:
        # An entitlement change applies to the organization's open tickets now,
        # not at their next event.
        ticket_ids = factory.client().open_ticket_ids(org_id)
        for ticket_id in ticket_ids:
            queue.enqueue_reconcile(ticket_id)
        log.info(
            "organization changed: reconciling its open tickets",
            extra={"org_id": org_id, "tickets": len(ticket_ids)},
        )

    return {
        RECONCILE: reconcile,
        # ``page``: a decision to page made before the job (a reconcile's).
        ESCALATE: lambda ticket_id, **page: factory.reconciler().escalate(
            ticket_id, **page
        ),
        REFRESH_ORG: refresh_org,
        SWEEP: run_sweep,
    }
