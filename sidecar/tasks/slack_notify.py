"""The reconciler's hook into the Slack app: after a reconcile or a page, the thread follows.

The reconciler calls, best effort (a failure here is logged, never fails the
reconcile that already wrote the ticket):

- ``notify_reconciled(decided)`` at the end of every ``reconcile`` (after the
  write and the follow-ups). For a ticket that came from Slack it schedules one
  ``slack_sync`` job, which posts what is new in the thread: the opening reply
  with the due time, the first public agent reply, breached, solved.
- ``notify_paged(decided)`` in ``escalate`` right after the page is recorded on
  the ticket, where the incoming-webhook notice used to go. It returns True
  when the Slack app tells the customer (the ticket's thread, or the
  organization's mapped channel on the bot token), and then the webhook notice
  is skipped; False leaves the webhook notice as it was.

Both only touch the queue's store (a flag read, a claim, an enqueue): no Slack
or Zendesk call happens inside the reconcile job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sidecar.config import Config
from sidecar.entitlements import EntitlementsStore
from sidecar.slack.links import Links

if TYPE_CHECKING:
    from sidecar.domain.plan import Plan
    from sidecar.tasks.queue import JobQueue
    from sidecar.tasks.slack_jobs import SlackJobs

log = logging.getLogger("sidecar.slack")


class ThreadNotifier:
    """The Slack hook a Reconciler is given (``Reconciler(slack=...)``)."""

    def __init__(
        self, *, jobs: SlackJobs, links: Links, store: EntitlementsStore
    ) -> None:
        self.jobs = jobs
        self.links = links
        self.store = store

    def notify_reconciled(self, decided: Plan) -> None:
        """After a reconcile: let the ticket's Slack thread catch up, if it has one."""
        ticket_id = decided.ticket.id
        try:
            if self.links.thread_of(ticket_id) is not None:
                self.jobs.schedule_sync(ticket_id)
        except Exception as exc:  # the sweep and the next event try again
            log.warning(
                "slack sync not scheduled: %s", exc, extra={"ticket_id": ticket_id}
            )

    def notify_paged(self, decided: Plan) -> bool:
        """After a page is recorded: True when the Slack app tells the customer."""
        ticket_id = decided.ticket.id
        try:
            if self.links.thread_of(ticket_id) is None and not self._org_channel(
                decided
            ):
                return False
            self.jobs.schedule_sync(ticket_id)
        except Exception as exc:
            log.warning(
                "slack page notice not scheduled: %s",
                exc,
                extra={"ticket_id": ticket_id},
            )
        return True

    def notify_oncall(self, ticket_id: int) -> None:
        """After PagerDuty's news is on the ticket: let its thread catch up (best effort)."""
        try:
            if self.links.thread_of(ticket_id) is not None:
                self.jobs.schedule_sync(ticket_id)
        except Exception as exc:  # the next change of the ticket tries again
            log.warning(
                "slack on-call line not scheduled: %s",
                exc,
                extra={"ticket_id": ticket_id},
            )

    def _org_channel(self, decided: Plan) -> str | None:
        org = decided.organization
        if org is None:
            return None
        entry = self.store.file.lookup(org_id=org.id, external_id=org.external_id)
        return entry.slack_channel if entry is not None else None


def build(
    config: Config, *, queue: JobQueue, store: EntitlementsStore
) -> ThreadNotifier | None:
    """The reconciler's Slack hook, or None when the Slack app is not configured."""
    if not config.slack_enabled:
        return None
    links = Links(queue, account=config.zendesk_subdomain or "zendesk")
    return ThreadNotifier(jobs=queue.slack, links=links, store=store)
