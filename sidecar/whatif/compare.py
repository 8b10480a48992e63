"""Compare what open tickets carry under two configurations: the pure part of `policy whatif`.

Nothing here reads the network, a clock or the environment. Each side is what
one reconcile would leave on the ticket (:func:`sidecar.domain.plan.plan`): its
first-response due time and status tag, or nothing when no SLA applies. A
ticket whose record proves it was answered (``sla_met``, or ``sla_breached``
with the first-response time recorded) is settled: its verdict stands under
any policy (README, "SLA semantics": "Once a first response exists the status
is settled"), so it needs no comment read to be compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sidecar.domain.entitlement import enhanced_policy
from sidecar.domain.models import Comment, Organization, Ticket
from sidecar.domain.plan import SETTLED_TAGS, STATUS_TAGS, Fields, plan
from sidecar.entitlements import Entitlement
from sidecar.sla import (
    METRICS,
    Policy,
    Reply,
    SeverityError,
    StatusChange,
    author_of,
    measure,
    parse_severity,
)

_STATUS_OF_TAG = {tag: status for status, tag in STATUS_TAGS.items()}


@dataclass(frozen=True)
class Verdict:
    """What a ticket carries under one configuration."""

    due_at: datetime
    status: str  # pending, at_risk, breached, met
    settled: bool  # answered: the verdict no longer follows the policy


@dataclass(frozen=True)
class Side:
    """One configuration: the policy in force and how an organization is entitled."""

    name: str
    policy: Policy
    at_risk_fraction: float = 0.75


@dataclass(frozen=True)
class MetricVerdict:
    """One metric beyond the first response under one configuration.

    ``due_at`` is None when nothing is due (``inactive``) or the clock is
    paused short of its target; ``status`` is a MetricState state.
    """

    due_at: datetime | None
    status: str


class _Compared:
    """What changes between the two sides (``current``/``new`` with ``due_at``)."""

    current: Verdict | MetricVerdict | None
    new: Verdict | MetricVerdict | None

    @property
    def moved(self) -> bool:
        """The due time changes, or the ticket gains or loses the target."""
        if self.current is None or self.new is None:
            return (self.current is None) != (self.new is None)
        return self.current.due_at != self.new.due_at

    @property
    def shift(self) -> timedelta | None:
        """How far the due time moves (negative: earlier); None without both."""
        if self.current is None or self.new is None:
            return None
        if self.current.due_at is None or self.new.due_at is None:
            return None
        return self.new.due_at - self.current.due_at

    @property
    def becomes_breached(self) -> bool:
        """Breached under the new configuration, not under the current one."""
        return _status(self.new) == "breached" and _status(self.current) != "breached"

    @property
    def stops_being_breached(self) -> bool:
        """Breached now, not under the new configuration."""
        return _status(self.current) == "breached" and _status(self.new) != "breached"

    @property
    def status_changes(self) -> bool:
        return _status(self.current) != _status(self.new)


@dataclass(frozen=True)
class MetricComparison(_Compared):
    """One metric of one ticket under both configurations (None: not set there)."""

    name: str
    current: MetricVerdict | None
    new: MetricVerdict | None


@dataclass(frozen=True)
class Comparison(_Compared):
    """One ticket under the current and the new configuration.

    ``current``/``new`` are the first response (as always); ``metrics`` the
    other metrics either side sets for the ticket's severity.
    """

    ticket_id: int
    organization_id: int | None
    organization: str
    severity: int | None
    ticket_status: str
    current: Verdict | None
    new: Verdict | None
    comments_read: bool
    metrics: tuple[MetricComparison, ...] = ()


def _status(verdict: Verdict | MetricVerdict | None) -> str:
    return verdict.status if verdict is not None else "none"


def severity_of(ticket: Ticket, fields: Fields) -> int | None:
    """The ticket's severity, or None when it has none (or one nobody can read)."""
    try:
        return parse_severity(ticket.custom_fields.get(fields.severity))
    except SeverityError:
        return None


def recorded_verdict(ticket: Ticket, fields: Fields) -> Verdict | None:
    """The settled verdict the ticket records, when the record proves an answer.

    ``sla_met`` is written only once a first response is found; an
    ``sla_breached`` ticket is known to be answered only when the optional
    first-response field holds the time. Anything else may have been answered
    since it was last reconciled, so its comments decide.
    """
    settled = ticket.tags & SETTLED_TAGS
    if len(settled) != 1 or fields.due_at is None:
        return None
    due = _parse_utc(ticket.custom_fields.get(fields.due_at))
    if due is None:
        return None
    (tag,) = settled
    answered = tag == "sla_met" or (
        fields.first_response_at is not None
        and bool(ticket.custom_fields.get(fields.first_response_at))
    )
    if not answered:
        return None
    return Verdict(due, _STATUS_OF_TAG[tag], settled=True)


def verdict(
    ticket: Ticket,
    *,
    organization: Organization | None,
    entitlement: Entitlement,
    comments: Sequence[Comment],
    side: Side,
    fields: Fields,
    now: datetime,
    self_user_id: int | None,
) -> Verdict | None:
    """What one reconcile at ``now`` under ``side`` would leave on the ticket."""
    decided = plan(
        ticket,
        organization=organization,
        comments=comments,
        entitlement=entitlement,
        policy=side.policy,
        fields=fields,
        now=now,
        self_user_id=self_user_id,
        at_risk_fraction=side.at_risk_fraction,
    )
    if decided.settled_kept:
        # The ticket keeps the verdict and the due time it recorded when answered.
        (tag,) = ticket.tags & SETTLED_TAGS
        due = (
            _parse_utc(ticket.custom_fields.get(fields.due_at))
            if fields.due_at
            else None
        )
        if due is None and decided.sla is not None:
            due = decided.sla.due_at  # an unreadable record: the computed time
        return Verdict(due, _STATUS_OF_TAG[tag], settled=True) if due else None
    if decided.sla is None:
        return None
    settled = decided.first_response_at is not None
    return Verdict(decided.sla.due_at, decided.sla.status, settled=settled)


def metric_verdicts(
    ticket: Ticket,
    *,
    severity: int,
    entitlement: Entitlement,
    comments: Sequence[Comment],
    statuses: Sequence[StatusChange],
    side: Side,
    now: datetime,
    self_user_id: int | None,
) -> dict[str, MetricVerdict]:
    """Every metric beyond the first response that ``side`` sets, at ``now``.

    Under the organization's enhanced targets when it is entitled (as the
    reconciler applies them); empty when it is not: no SLA, no metric.
    """
    if not entitlement.entitled:
        return {}
    policy = enhanced_policy(
        side.policy, entitlement.sla_overrides, entitlement.metric_overrides
    )
    targets = {
        n: t
        for n, t in policy.metric_targets(severity).items()
        if n != "first_response"
    }
    if not targets:
        return {}
    replies = [
        Reply(
            c.created_at,
            author_of(
                author_id=c.author_id,
                role=c.author_role,
                requester_id=ticket.requester_id,
                self_user_id=self_user_id,
            ),
            c.public,
        )
        for c in comments
    ]
    found = {}
    for name, target in targets.items():
        state = measure(
            name,
            target,
            created_at=ticket.created_at,
            replies=replies,
            statuses=statuses,
            now=now,
            at_risk_fraction=side.at_risk_fraction,
        )
        found[name] = MetricVerdict(state.due, state.state)
    return found


def compare_metrics(
    current: dict[str, MetricVerdict], new: dict[str, MetricVerdict]
) -> tuple[MetricComparison, ...]:
    """Pair the two sides' metrics, in METRICS order."""
    names = [n for n in METRICS if n in current or n in new]
    return tuple(MetricComparison(n, current.get(n), new.get(n)) for n in names)


def settled_side(
    record: Verdict, *, entitled: bool, severity: int | None
) -> Verdict | None:
    """A settled ticket under one side: its record, if that side gives it an SLA at all.

    Mirrors the reconciler: the settled verdict is kept whenever the
    organization is entitled and the ticket has a severity, whatever the
    policy's targets; otherwise the SLA marks are removed.
    """
    return record if entitled and severity is not None else None


def _parse_utc(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- the summary --------------------------------------------------------------


@dataclass
class Tally:
    """Counts for one group of tickets (all, one organization, one severity)."""

    tickets: int = 0
    moved: int = 0
    earlier: int = 0
    later: int = 0
    gain_sla: int = 0
    lose_sla: int = 0
    becomes_breached: int = 0
    stops_being_breached: int = 0

    def add(self, item: Comparison | MetricComparison) -> None:
        self.tickets += 1
        if item.moved:
            self.moved += 1
            shift = item.shift
            if shift is None:
                # A metric due on one side only (paused, or not set) gains or loses it.
                if item.current is None or item.current.due_at is None:
                    self.gain_sla += 1
                else:
                    self.lose_sla += 1
            elif shift < timedelta(0):
                self.earlier += 1
            else:
                self.later += 1
        self.becomes_breached += item.becomes_breached
        self.stops_being_breached += item.stops_being_breached


@dataclass
class Reads:
    """The Zendesk reads a what-if made (its whole cost)."""

    pages: int = 0
    tickets: int = 0
    organizations: int = 0
    comment_reads: int = 0
    settled_without_read: int = 0
    user_reads: int = 0
    audit_reads: int = 0  # status histories, for metrics beyond the first response

    @property
    def calls(self) -> int:
        return (
            self.pages
            + self.organizations
            + self.comment_reads
            + self.user_reads
            + self.audit_reads
        )


@dataclass
class Summary:
    """Totals, by organization and by severity."""

    total: Tally = field(default_factory=Tally)
    by_organization: dict[tuple[int | None, str], Tally] = field(default_factory=dict)
    by_severity: dict[int | None, Tally] = field(default_factory=dict)
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)
    # The metrics beyond the first response, by name (empty when neither side
    # sets one): ``tickets`` counts the tickets that have the metric.
    by_metric: dict[str, Tally] = field(default_factory=dict)


def summarize(items: Iterable[Comparison]) -> Summary:
    """Count the tickets that move and that become breached, overall and by group."""
    summary = Summary()
    for item in items:
        summary.total.add(item)
        org = (item.organization_id, item.organization)
        summary.by_organization.setdefault(org, Tally()).add(item)
        summary.by_severity.setdefault(item.severity, Tally()).add(item)
        summary.statuses[(_status(item.current), _status(item.new))] += 1
        for metric in item.metrics:
            summary.by_metric.setdefault(metric.name, Tally()).add(metric)
    summary.by_metric = {
        n: summary.by_metric[n] for n in METRICS if n in summary.by_metric
    }
    return summary


__all__ = [
    "Comparison",
    "MetricComparison",
    "MetricVerdict",
    "Reads",
    "Side",
    "Summary",
    "Tally",
    "Verdict",
    "compare_metrics",
    "metric_verdicts",
    "recorded_verdict",
    "settled_side",
    "severity_of",
    "summarize",
    "verdict",
]
