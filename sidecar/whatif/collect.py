"""Read the open tickets once and compare them under two configurations: `policy whatif`.

The cost is one pass over List Tickets (cursor pagination, 100 a page; the
status filter is applied here, as List Tickets has none), one read per distinct
organization, and one comment read only for a ticket whose outcome depends on
its first reply: one that has a severity, is entitled under either
configuration, and is not settled on record (an answered ticket keeps its
verdict under any policy). When either policy sets a metric beyond the first
response for the ticket's severity, its comments and its status history
(List Audits) are read, settled or not. Nothing is written.

The API-budget governor (issue 10) does not exist yet: once it lands, these
reads should spend through it at the lowest priority, like backfill's.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sidecar.domain.models import Comment, Organization, Ticket, TicketPage
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.errors import NotFound
from sidecar.sla import StatusChange
from sidecar.tasks.bulk import patiently
from sidecar.whatif.compare import (
    Comparison,
    MetricComparison,
    Reads,
    Side,
    Verdict,
    compare_metrics,
    metric_verdicts,
    recorded_verdict,
    settled_side,
    severity_of,
    verdict,
)


class TicketReader(Protocol):
    """The Zendesk reads a what-if makes (sidecar.zendesk.client.ZendeskClient)."""

    def list_tickets(
        self, *, cursor: str | None = None, org_id: int | None = None
    ) -> TicketPage: ...
    def get_organization(self, org_id: int) -> Organization: ...
    def list_comments(self, ticket_id: int) -> list[Comment]: ...
    def list_status_changes(self, ticket_id: int) -> list[StatusChange]: ...
    def current_user_id(self) -> int: ...


# Decides an organization's entitlement on a day (EntitlementsStore.for_org).
Decide = Callable[..., Entitlement]


@dataclass(frozen=True)
class Configuration:
    """One side of the comparison: the policy and the entitlements it decides with."""

    side: Side
    decide: Decide  # decide(org, today=date) -> Entitlement


class WhatIf:
    """Compare every matching ticket under the current and a new configuration."""

    def __init__(
        self,
        zendesk: TicketReader,
        *,
        fields: Fields,
        current: Configuration,
        new: Configuration,
        statuses: Collection[str],
        now: datetime,
        org_id: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.zendesk = zendesk
        self.fields = fields
        self.current = current
        self.new = new
        self.statuses = frozenset(statuses)
        self.now = now
        self.org_id = org_id
        self.sleep = sleep
        self.reads = Reads()
        self._orgs: dict[int, Organization | None] = {}
        self._entitlements: dict[tuple[int, int | None], Entitlement] = {}
        self._me: int | None = None

    def __iter__(self) -> Iterator[Comparison]:
        """Yield one comparison per ticket that has an SLA under either configuration."""
        cursor: str | None = None
        while True:
            page = self._patiently(
                functools.partial(
                    self.zendesk.list_tickets, cursor=cursor, org_id=self.org_id
                )
            )
            assert isinstance(page, TicketPage)
            self.reads.pages += 1
            for ticket in page.tickets:
                self.reads.tickets += 1
                compared = self._compare(ticket)
                if compared is not None:
                    yield compared
            if page.after_cursor is None or page.after_cursor == cursor:
                return
            cursor = page.after_cursor

    def _compare(self, ticket: Ticket) -> Comparison | None:
        if ticket.status not in self.statuses:
            return None
        severity = severity_of(ticket, self.fields)
        if severity is None:
            return None  # no severity, no SLA, whatever the policy
        org = self._organization(ticket.organization_id)
        now_entitled = self._entitlement(0, self.current, org)
        new_entitled = self._entitlement(1, self.new, org)
        if not (now_entitled.entitled or new_entitled.entitled):
            return None
        record = recorded_verdict(ticket, self.fields)
        # A metric beyond the first response on either side: the ticket's own
        # history decides it, settled first response or not.
        extra = any(
            len(config.side.policy.metric_targets(severity)) > 1
            for config in (self.current, self.new)
        )
        comments: list[Comment] | None = None
        if extra:
            comments = self._comments(ticket.id)
        current: Verdict | None
        new: Verdict | None
        if record is not None:
            # Answered: the verdict stands under any policy; no comment read.
            self.reads.settled_without_read += 1
            current = settled_side(
                record, entitled=now_entitled.entitled, severity=severity
            )
            new = settled_side(
                record, entitled=new_entitled.entitled, severity=severity
            )
        else:
            if comments is None:
                comments = self._comments(ticket.id)
            me = self._user_id() if comments else None
            current, new = (
                verdict(
                    ticket,
                    organization=org,
                    entitlement=entitlement,
                    comments=comments,
                    side=config.side,
                    fields=self.fields,
                    now=self.now,
                    self_user_id=me,
                )
                for config, entitlement in (
                    (self.current, now_entitled),
                    (self.new, new_entitled),
                )
            )
        metrics: tuple[MetricComparison, ...] = ()
        if extra and comments is not None:
            metrics = self._metrics(
                ticket, severity, comments, (now_entitled, new_entitled)
            )
        if current is None and new is None and not metrics:
            return None
        return Comparison(
            ticket_id=ticket.id,
            organization_id=ticket.organization_id,
            organization=org.name if org is not None else "",
            severity=severity,
            ticket_status=ticket.status,
            current=current,
            new=new,
            comments_read=comments is not None,
            metrics=metrics,
        )

    def _comments(self, ticket_id: int) -> list[Comment]:
        comments = self._patiently(
            functools.partial(self.zendesk.list_comments, ticket_id)
        )
        assert isinstance(comments, list)
        self.reads.comment_reads += 1
        return comments

    def _metrics(
        self,
        ticket: Ticket,
        severity: int,
        comments: list[Comment],
        entitlements: tuple[Entitlement, Entitlement],
    ) -> tuple[MetricComparison, ...]:
        """Both sides' metrics beyond the first response (status history read once).

        The status history is read for every such ticket: an open ticket may
        have been solved and reopened, which stops every clock in between, and
        only its audits tell (docs/benchmarks.md, "What-if").
        """
        if not any(e.entitled for e in entitlements):
            return ()
        statuses = self._patiently(
            functools.partial(self.zendesk.list_status_changes, ticket.id)
        )
        assert isinstance(statuses, list)
        self.reads.audit_reads += 1
        me = self._user_id() if comments else None
        current, new = (
            metric_verdicts(
                ticket,
                severity=severity,
                entitlement=entitlement,
                comments=comments,
                statuses=statuses,
                side=config.side,
                now=self.now,
                self_user_id=me,
            )
            for config, entitlement in zip(
                (self.current, self.new), entitlements, strict=True
            )
        )
        return compare_metrics(current, new)

    def _organization(self, org_id: int | None) -> Organization | None:
        if org_id is None:
            return None
        if org_id not in self._orgs:
            try:
                found = self._patiently(
                    functools.partial(self.zendesk.get_organization, org_id)
                )
                assert isinstance(found, Organization)
                self._orgs[org_id] = found
            except NotFound:
                self._orgs[org_id] = None
            self.reads.organizations += 1
        return self._orgs[org_id]

    def _entitlement(
        self, side: int, config: Configuration, org: Organization | None
    ) -> Entitlement:
        key = (side, org.id if org is not None else None)
        if key not in self._entitlements:
            self._entitlements[key] = config.decide(org, today=self.now.date())
        return self._entitlements[key]

    def _user_id(self) -> int:
        if self._me is None:
            found = self._patiently(self.zendesk.current_user_id)
            assert isinstance(found, int)
            self._me = found
            self.reads.user_reads += 1
        return self._me

    def _patiently(self, call: Callable[[], object]) -> object:
        return patiently(call, sleep=self.sleep)


__all__ = ["Configuration", "TicketReader", "WhatIf"]
