"""Decide what a ticket should carry: the pure heart of ``reconcile(ticket_id)``.

Nothing here reads a clock, the network or the environment: the reconciler
passes the ticket as read, its comments, the organization's entitlement, the
policy and ``now``, and gets back a :class:`Plan` — the one ticket write that
makes the ticket right, the on-call action, and when to look again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sidecar.domain.entitlement import Entitlement, enhanced_policy
from sidecar.domain.metric_plan import (
    NOTHING,
    OUR_TAGS,
    MetricsOutcome,
    measure_metrics,
)
from sidecar.domain.models import Comment, Organization, Ticket, TicketUpdate
from sidecar.domain.page_request import PAGE_REQUEST_TAG, PageRequest
from sidecar.sla import (
    MetricState,
    Policy,
    Reply,
    SeverityError,
    SlaState,
    StatusChange,
    evaluate,
    format_utc,
    parse_severity,
)

STATUS_TAGS = {
    "pending": "sla_pending",
    "at_risk": "sla_at_risk",
    "breached": "sla_breached",
    "met": "sla_met",
}
SETTLED_TAGS = frozenset({"sla_met", "sla_breached"})
PAGED_TAG = "oncall_paged"
RESOLVED_TAG = "oncall_resolved"
# While the incident is acknowledged in PagerDuty (sidecar.tasks.oncall_back
# sets and removes it; the plan never touches it).
ACKED_TAG = "oncall_acked"
PAGING_SEVERITIES = frozenset({1, 2})
CLOSED_STATUSES = frozenset({"solved", "closed"})
AGENT_ROLES = frozenset({"agent", "admin"})
PAGERDUTY_SEVERITY = {1: "critical", 2: "error"}
# An agent's page of a SEV 3-5 (or unrated) ticket: they judged it worse than
# filed, so it pages as a SEV 2 does (docs/decisions.md, "Agents page from the ticket").
REQUESTED_PAGE_SEVERITY = "error"


@dataclass(frozen=True)
class Fields:
    """Where the sidecar reads severity and writes due times (Zendesk field ids)."""

    severity: int
    due_at: int | None
    due_date: int | None = None
    due_date_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # The first-response outcome (issue 13), optional: when (text, and date in
    # due_date_zone) and, for a breach, by how many covered minutes (numeric).
    first_response_at: int | None = None
    first_response_date: int | None = None
    breach_minutes: int | None = None
    # Issue 21: one text field per metric beyond the first response (metric
    # name -> field id), the metric's due instant in ISO 8601 UTC or empty.
    metric_due: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What one reconcile decided; ``update`` may be empty (then nothing is written)."""

    ticket: Ticket
    organization: Organization | None
    policy: Policy  # the policy in effect, enhanced SLAs applied
    severity: int | None
    severity_error: str | None
    entitlement: Entitlement
    sla: SlaState | None
    first_response_at: datetime | None
    settled_kept: bool
    update: TicketUpdate
    page: bool
    resolve_page: bool
    page_reason: str
    wake_at: tuple[datetime, ...]
    # The metrics beyond the first response (issue 21): their states, or why
    # they could not be measured (the history could not be read).
    metrics: tuple[MetricState, ...] = ()
    metrics_error: str | None = None
    # What the metrics were measured from (None: not read), for the memo.
    replies: tuple[Reply, ...] | None = None
    statuses: tuple[StatusChange, ...] | None = None
    # The agent's request this page answers (the "Page on-call" macro); its
    # record removes PAGE_REQUEST_TAG in the same write that adds oncall_paged.
    requested: PageRequest | None = None


def first_agent_response(
    comments: Sequence[Comment], *, requester_id: int | None, self_user_id: int | None
) -> datetime | None:
    """Return when the first public agent comment after the description was made."""
    # The first comment is the ticket's description, whoever wrote it: a ticket an
    # agent opens on a customer's behalf has not been responded to yet.
    for comment in sorted(comments, key=lambda c: c.created_at)[1:]:
        if (
            comment.public
            and comment.author_id is not None  # the system user answers no one
            and comment.author_role in AGENT_ROLES
            and comment.author_id != requester_id
            and comment.author_id != self_user_id
        ):
            return comment.created_at
    return None


def needs_comments(ticket: Ticket, entitlement: Entitlement, fields: Fields) -> bool:
    """True when the SLA depends on the comments (so they are worth one API read)."""
    if not entitlement.entitled:
        return False
    try:
        return parse_severity(ticket.custom_fields.get(fields.severity)) is not None
    except SeverityError:
        return False


def may_carry_sla(ticket: Ticket, fields: Fields) -> bool:
    """True when a reconcile could change the ticket: it has a severity or our marks."""
    ours = set(STATUS_TAGS.values()) | {PAGED_TAG, PAGE_REQUEST_TAG} | OUR_TAGS
    due_values = (
        ticket.custom_fields.get(f)
        for f in (fields.due_at, fields.due_date, *fields.metric_due.values())
        if f is not None
    )
    return bool(
        ticket.custom_fields.get(fields.severity)
        or ticket.tags & ours
        or any(due_values)
    )


def plan(
    ticket: Ticket,
    *,
    organization: Organization | None,
    comments: Sequence[Comment],
    entitlement: Entitlement,
    policy: Policy,
    fields: Fields,
    now: datetime,
    self_user_id: int | None,
    at_risk_fraction: float = 0.75,
    known_first_response: tuple[datetime | None] | None = None,
    replies: Sequence[Reply] | None = None,
    statuses: Sequence[StatusChange] | None = None,
    history_error: str | None = None,
    page_request: PageRequest | None = None,
    page_any_org: bool = False,
) -> Plan:
    """Compute the write, the page decision and the wake-ups for one ticket.

    ``known_first_response``, when given, is the first response already known
    (from an earlier look at the same comments): ``comments`` are then not used.
    ``replies`` and ``statuses``: the ticket's comments as the engine sees them
    and its status history, for the metrics beyond the first response (None:
    not read; ``history_error`` says why when it could not be).
    ``page_request``: who asked for a page and why, when the ticket carries
    PAGE_REQUEST_TAG; ``page_any_org``: whether an organization without
    Enterprise Support may be paged that way (SIDECAR_PAGE_REQUEST_ANY_ORG).
    """
    severity, severity_error = _severity(ticket, fields)
    if known_first_response is not None:
        (first_response_at,) = known_first_response
    else:
        first_response_at = first_agent_response(
            comments, requester_id=ticket.requester_id, self_user_id=self_user_id
        )
    effective = effective_policy(policy, entitlement)
    state: SlaState | None = None
    settled_kept = False
    if entitlement.entitled and severity is not None:
        state = evaluate(
            created_at=ticket.created_at,
            severity=severity,
            first_response_at=first_response_at,
            now=now,
            policy=effective,
            at_risk_fraction=at_risk_fraction,
        )
        # Once answered, the verdict the ticket records stands: later severity
        # changes do not reopen it.
        settled = ticket.tags & SETTLED_TAGS
        settled_kept = bool(
            first_response_at is not None
            and len(settled) == 1
            and fields.due_at is not None
            and ticket.custom_fields.get(fields.due_at)
        )

    metrics = NOTHING
    if entitlement.entitled and severity is not None:
        metrics = measure_metrics(
            policy=effective,
            severity=severity,
            created_at=ticket.created_at,
            status=ticket.status,
            replies=replies,
            statuses=statuses,
            history_error=history_error,
            first_response=None if settled_kept else state,
            field_ids=fields.metric_due,
            tags=ticket.tags,
            now=now,
            at_risk_fraction=at_risk_fraction,
        )
    elif fields.metric_due:
        # No SLA (severity, entitlement): no metric is due either.
        metrics = MetricsOutcome(
            (), None, dict.fromkeys(fields.metric_due.values()), frozenset(), ()
        )

    custom_fields: dict[int, str | None] = {}
    desired_status_tag: str | None
    if settled_kept:
        desired_status_tag = next(iter(ticket.tags & SETTLED_TAGS))
    else:
        desired_fields, desired_status_tag = _desired(state, fields)
        for field_id, value in desired_fields.items():
            if (ticket.custom_fields.get(field_id) or None) != value:
                custom_fields[field_id] = value
    # The write that settles the SLA also records when and how late; a ticket
    # settled before these fields existed gets them at its next reconcile.
    settled_due = _recorded_due(ticket, fields) if settled_kept else None
    outcome = _outcome_fields(
        state, first_response_at, desired_status_tag, settled_due, fields
    )
    for field_id, value in outcome.items():
        if _differs(ticket.custom_fields.get(field_id), value):
            custom_fields[field_id] = value
    for field_id, value in metrics.fields.items():
        if _differs(ticket.custom_fields.get(field_id), value):
            custom_fields[field_id] = value
    present = ticket.tags & set(STATUS_TAGS.values())
    remove = set(present - {desired_status_tag})
    additional: set[str] = set()
    if desired_status_tag and desired_status_tag not in ticket.tags:
        additional.add(desired_status_tag)
    if metrics.error is None:
        # The metrics' own tags (a history that could not be read leaves them).
        remove |= (ticket.tags & OUR_TAGS) - metrics.tags
        additional |= metrics.tags - ticket.tags

    page, resolve_page, page_reason = _paging(ticket, severity, entitlement)
    requested: PageRequest | None = None
    note: str | None = None
    if PAGE_REQUEST_TAG in ticket.tags and ticket.status != "closed":
        asked = page_request or PageRequest("an agent (not named)", "(no reason given)")
        page, requested, note, page_reason = _requested_page(
            ticket,
            asked,
            entitlement=entitlement,
            organization=organization,
            page=page,
            resolve_page=resolve_page,
            page_reason=page_reason,
            page_any_org=page_any_org,
        )
        if note is not None:  # not paged: the tag goes, with the note saying why
            remove.add(PAGE_REQUEST_TAG)
    followers: frozenset[int] = frozenset()
    csm = entitlement.csm_user_id
    # The CSM rides along with a write that happens anyway: if Zendesk ignored
    # the follower (not an agent), asking again on every reconcile would loop.
    if (
        csm is not None
        and entitlement.entitled
        and severity in PAGING_SEVERITIES
        and csm not in ticket.follower_ids
        and (custom_fields or additional or remove)
    ):
        followers = frozenset({csm})
    if ticket.status == "closed":
        # Zendesk refuses updates to closed tickets: their record stays as it is.
        custom_fields, additional, remove, followers = {}, set(), set(), frozenset()

    update = TicketUpdate.retag(
        ticket,
        add=additional,
        remove=remove,
        custom_fields=custom_fields,
        add_follower_ids=followers,
        private_note=note,
    )
    return Plan(
        ticket=ticket,
        organization=organization,
        policy=effective,
        severity=severity,
        severity_error=severity_error,
        entitlement=entitlement,
        sla=state,
        first_response_at=first_response_at,
        settled_kept=settled_kept,
        update=update,
        page=page,
        resolve_page=resolve_page,
        page_reason=page_reason,
        wake_at=_merge_wakes(
            _wake_times(state, now)
            if not (settled_kept or ticket.status == "closed")
            else (),
            metrics.wake_at,
        ),
        metrics=metrics.states,
        metrics_error=metrics.error,
        replies=tuple(replies) if replies is not None else None,
        statuses=tuple(statuses) if statuses is not None else None,
        requested=requested,
    )


def effective_policy(policy: Policy, entitlement: Entitlement) -> Policy:
    """Return the policy in effect for an organization: its enhanced SLAs applied."""
    # Enhanced SLAs (first response and per metric) replace targets the policy
    # has; an override for a target the policy lacks cannot create one (it is
    # reported by `orgs check`).
    if not entitlement.entitled:
        return policy
    return enhanced_policy(
        policy, entitlement.sla_overrides, entitlement.metric_overrides
    )


def _severity(ticket: Ticket, fields: Fields) -> tuple[int | None, str | None]:
    try:
        return parse_severity(ticket.custom_fields.get(fields.severity)), None
    except SeverityError as exc:
        return None, str(exc)


def _desired(
    state: SlaState | None, fields: Fields
) -> tuple[dict[int, str | None], str | None]:
    values: dict[int, str | None] = {}
    due_text = format_utc(state.due_at) if state else None
    if fields.due_at is not None:
        values[fields.due_at] = due_text
    if fields.due_date is not None:
        values[fields.due_date] = (
            state.due_at.astimezone(fields.due_date_zone).date().isoformat()
            if state
            else None
        )
    return values, STATUS_TAGS[state.status] if state else None


def _outcome_fields(
    state: SlaState | None,
    first_response_at: datetime | None,
    status_tag: str | None,
    settled_due: datetime | None,
    fields: Fields,
) -> dict[int, str | None]:
    """First response time (text, date) and covered minutes late, once settled.

    ``settled_due`` is the due time the ticket recorded when it was settled (it
    stays the reference after a later severity change); else the state's.
    """
    answered = (
        state is not None
        and first_response_at is not None
        and status_tag in SETTLED_TAGS
    )
    values: dict[int, str | None] = {}
    if fields.first_response_at is not None:
        values[fields.first_response_at] = (
            format_utc(first_response_at) if answered and first_response_at else None
        )
    if fields.first_response_date is not None:
        values[fields.first_response_date] = (
            first_response_at.astimezone(fields.due_date_zone).date().isoformat()
            if answered and first_response_at
            else None
        )
    if fields.breach_minutes is not None:
        late: str | None = None
        if answered and status_tag == "sla_breached" and state and first_response_at:
            due = settled_due or state.due_at
            covered = state.target.schedule.between(due, first_response_at)
            # Whole minutes, rounded up: 30 s late is 1 minute late, never 0;
            # a reply late only outside covered hours is 0 covered minutes late.
            late = str(max(0, -(-covered // timedelta(minutes=1))))
        values[fields.breach_minutes] = late
    return values


def _recorded_due(ticket: Ticket, fields: Fields) -> datetime | None:
    value = ticket.custom_fields.get(fields.due_at) if fields.due_at else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _differs(current: object, value: str | None) -> bool:
    """Whether a field holds something else (numeric fields may read back as numbers)."""
    if isinstance(current, float) and current.is_integer():
        current = int(current)
    if isinstance(current, int) and not isinstance(current, bool):
        current = str(current)
    return (current or None) != value


def _paging(
    ticket: Ticket, severity: int | None, entitlement: Entitlement
) -> tuple[bool, bool, str]:
    closed = ticket.status in CLOSED_STATUSES
    paged = PAGED_TAG in ticket.tags
    if paged and closed and RESOLVED_TAG not in ticket.tags:
        return False, True, f"ticket is {ticket.status}: resolve the page"
    if paged:
        return False, False, "already paged (tag oncall_paged): never pages twice"
    if not entitlement.entitled:
        return False, False, f"no page: {entitlement.reason}"
    if severity not in PAGING_SEVERITIES:
        shown = "no severity" if severity is None else f"SEV {severity}"
        return False, False, f"no page: {shown} (only SEV 1 and SEV 2 page)"
    if closed:
        return False, False, f"no page: ticket is {ticket.status}"
    return True, False, f"page: SEV {severity}, {entitlement.reason}"


def _merge_wakes(
    first: tuple[datetime, ...], more: tuple[datetime, ...]
) -> tuple[datetime, ...]:
    """The first response's wake-ups, then the other metrics' not already among them."""
    if not more:
        return first
    return first + tuple(sorted(set(more) - set(first)))


def _requested_page(
    ticket: Ticket,
    asked: PageRequest,
    *,
    entitlement: Entitlement,
    organization: Organization | None,
    page: bool,
    resolve_page: bool,
    page_reason: str,
    page_any_org: bool,
) -> tuple[bool, PageRequest | None, str | None, str]:
    """Answer an agent's page request: (page, request paged, note if not, reason).

    The tag is removed by the write that records the page (escalate), never by
    this reconcile's own write: a re-read between the two must still see the
    request, or the page that went out would look unwanted and be resolved.
    """
    who = f"requested by {asked.requested_by}"
    if resolve_page or ticket.status in CLOSED_STATUSES:
        why = f"the ticket is {ticket.status}"
    elif PAGED_TAG in ticket.tags and RESOLVED_TAG not in ticket.tags:
        why = "on-call was already paged for this ticket and the incident is open"
    elif PAGED_TAG in ticket.tags:
        # One incident per ticket: its dedup key is the ticket's.
        why = (
            "this ticket's PagerDuty incident was opened and resolved before; "
            "page again from PagerDuty itself"
        )
    elif not entitlement.entitled and not page_any_org:
        name = _org_label(organization)
        why = (
            f"{name} does not hold Enterprise Support ({entitlement.reason}); "
            "paging from a ticket is for Enterprise Support organizations "
            "(an admin can allow it for all with SIDECAR_PAGE_REQUEST_ANY_ORG)"
        )
    else:
        return True, asked, None, f"page: {who} ({asked.reason})"
    note = (
        f"On-call was NOT paged ({who}): {why}.\n"
        f"Reason given: {asked.reason}\n"
        f"The {PAGE_REQUEST_TAG} tag was removed."
    )
    return page, None, note, f"{page_reason}; page request refused: {why}"


def _org_label(organization: Organization | None) -> str:
    if organization is None:
        return "A ticket without an organization"
    return organization.name or f"organization {organization.id}"


def _wake_times(state: SlaState | None, now: datetime) -> tuple[datetime, ...]:
    if state is None or state.status not in {"pending", "at_risk"}:
        return ()
    moments = [state.at_risk_at] if state.status == "pending" else []
    moments.append(state.due_at)
    return tuple(m for m in moments if m > now)
