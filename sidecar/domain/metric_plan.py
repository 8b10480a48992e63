"""The metrics beyond the first response, as a ticket carries them (pure).

The reconciler passes the ticket's comments (or the replies it remembered) and
its status history; this module turns them into the engine's inputs
(:func:`replies_from`), measures every metric the policy sets beyond the first
response (:func:`measure_metrics`), and says what the ticket should carry: one
due field per metric, tags per metric and state, the "reply due soon" tag, and
when to look again. The first response keeps its own fields and tags
(:mod:`sidecar.domain.plan`); nothing here runs for a severity whose policy
sets only the first response, so such tickets are planned exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sidecar.domain.models import Comment
from sidecar.sla import (
    MetricState,
    Policy,
    Reply,
    SeverityError,
    SlaState,
    StatusChange,
    Target,
    author_of,
    format_duration,
    format_utc,
    measure,
    parse_severity,
)

# The metrics this module wires (the first response is plan.py's).
EXTRA_METRICS = ("next_reply", "periodic_update", "resolution")
# A tag per metric and per state worth a view: pending and inactive carry none.
TAGGED_STATES = ("at_risk", "breached")
METRIC_TAGS: Mapping[tuple[str, str], str] = {
    (metric, state): f"sla_{metric}_{state}"
    for metric in EXTRA_METRICS
    for state in TAGGED_STATES
}
# "A reply is due within the hour": the first response or the current next
# reply, running (not paused, not breached) and due within DUE_SOON of now.
# One tag, so the view "my tickets with a reply due in the next hour" is one
# condition (plus the assignee). Only on severities whose policy sets a next
# reply: a first-response-only ticket is planned exactly as before.
DUE_SOON_TAG = "sla_reply_due_soon"
DUE_SOON = timedelta(hours=1)
OUR_TAGS = frozenset(METRIC_TAGS.values()) | {DUE_SOON_TAG}


@dataclass(frozen=True)
class MetricsOutcome:
    """What the metrics beyond the first response ask of a ticket.

    ``states``: one per metric the policy sets beyond the first response (in
    METRICS order); empty with ``error`` set when the history could not be
    read (then no field or tag of these metrics is touched: never a made-up
    due time). ``fields``: field id -> text (None clears); ``tags``: the
    metric tags the ticket should carry of :data:`OUR_TAGS`.
    """

    states: tuple[MetricState, ...]
    error: str | None
    fields: Mapping[int, str | None]
    tags: frozenset[str]
    wake_at: tuple[datetime, ...]


NOTHING = MetricsOutcome((), None, {}, frozenset(), ())


def extra_targets(
    policy: Policy, severity: object, *, entitled: bool
) -> dict[str, Target]:
    """The metrics beyond the first response the ticket is measured on (name -> Target)."""
    if not entitled:
        return {}
    try:
        targets = policy.metric_targets(severity)
    except SeverityError:
        return {}
    return {name: t for name, t in targets.items() if name in EXTRA_METRICS}


def used_metrics(policy: Policy) -> frozenset[str]:
    """The metrics beyond the first response a policy sets for any severity."""
    return frozenset(name for named in policy.metrics.values() for name in named)


def wants_metrics(policy: Policy, raw_severity: object, *, entitled: bool) -> bool:
    """True when the ticket's comments and status history are worth reading for metrics."""
    try:
        severity = parse_severity(raw_severity)
    except SeverityError:
        return False
    return severity is not None and bool(
        extra_targets(policy, severity, entitled=entitled)
    )


def replies_from(
    comments: Sequence[Comment], *, requester_id: int | None, self_user_id: int | None
) -> tuple[Reply, ...]:
    """Comments as the engine sees them: when, by which side, public or not."""
    return tuple(
        Reply(
            at=c.created_at,
            author=author_of(
                author_id=c.author_id,
                role=c.author_role,
                requester_id=requester_id,
                self_user_id=self_user_id,
            ),
            public=c.public,
        )
        for c in sorted(comments, key=lambda c: c.created_at)
    )


def measure_metrics(
    *,
    policy: Policy,
    severity: int,
    created_at: datetime,
    status: str,
    replies: Sequence[Reply] | None,
    statuses: Sequence[StatusChange] | None,
    history_error: str | None,
    first_response: SlaState | None,
    field_ids: Mapping[str, int],
    tags: frozenset[str],
    now: datetime,
    at_risk_fraction: float,
) -> MetricsOutcome:
    """Measure the metrics beyond the first response and plan their fields, tags, timers."""
    targets = extra_targets(policy, severity, entitled=True)
    if not targets:
        # The policy sets none for this severity: clear what an earlier policy left.
        cleared = {fid: None for fid in field_ids.values()}
        return MetricsOutcome((), None, cleared, frozenset(), ())
    if replies is None or statuses is None:
        reason = history_error or "the ticket's history was not read"
        return MetricsOutcome((), reason, {}, tags & OUR_TAGS, ())
    states = tuple(
        measure(
            name,
            target,
            created_at=created_at,
            replies=replies,
            statuses=statuses,
            now=now,
            at_risk_fraction=at_risk_fraction,
        )
        for name, target in targets.items()
    )
    by_name = {s.name: s for s in states}
    fields: dict[int, str | None] = {}
    for name, fid in field_ids.items():
        state = by_name.get(name)
        fields[fid] = format_utc(state.due) if state and state.due else None
    wanted = {
        METRIC_TAGS[(s.name, s.state)]
        for s in states
        if (s.name, s.state) in METRIC_TAGS
    }
    soon = _reply_due_soon(by_name.get("next_reply"), first_response, status, now)
    if "next_reply" in by_name and soon is not None and soon <= now + DUE_SOON:
        wanted.add(DUE_SOON_TAG)
    return MetricsOutcome(
        states,
        None,
        fields,
        frozenset(wanted),
        _wake_times(states, soon, now) if status != "closed" else (),
    )


def _reply_due_soon(
    next_reply: MetricState | None,
    first_response: SlaState | None,
    status: str,
    now: datetime,
) -> datetime | None:
    """When the reply owed now is due (first response, else the next reply); None: none owed."""
    if status in {"solved", "closed"}:
        return None
    if first_response is not None and first_response.status in {"pending", "at_risk"}:
        return first_response.due_at
    if (
        next_reply is not None
        and next_reply.state in {"pending", "at_risk"}
        and next_reply.due is not None
        and next_reply.due > now
    ):
        return next_reply.due
    return None


def _wake_times(
    states: Sequence[MetricState], soon: datetime | None, now: datetime
) -> tuple[datetime, ...]:
    """Each running metric's at-risk and due instants, and when a reply becomes due soon."""
    moments: set[datetime] = set()
    for state in states:
        if state.state not in {"pending", "at_risk"} or state.due is None:
            continue
        if state.state == "pending" and state.at_risk_at is not None:
            moments.add(state.at_risk_at)
        moments.add(state.due)
    if soon is not None and any(s.name == "next_reply" for s in states):
        moments.add(soon - DUE_SOON)
    return tuple(sorted(m for m in moments if m > now))


def metric_json(state: MetricState) -> dict[str, object]:
    """One metric for `explain --format json` and the agent's sidebar."""

    def utc(moment: datetime | None) -> str | None:
        # Whole seconds: a stretch counted up to "now" ends at a fraction of one.
        return format_utc(moment.replace(microsecond=0)) if moment is not None else None

    return {
        "name": state.name,
        "due": utc(state.due),
        "state": state.state,
        "start": utc(state.start),
        "at_risk_at": utc(state.at_risk_at),
        "paused": state.paused,
        "target": format_duration(state.target.duration),
        "schedule": state.target.schedule_name,
        "pauses": [[utc(p.start), utc(p.end)] for p in state.pauses],
        "windows": [[utc(w.start), utc(w.end)] for w in state.windows],
        "cycles": [
            {
                "start": utc(c.start),
                "stop": utc(c.stop),
                "due": utc(c.due),
                "state": c.state,
            }
            for c in state.cycles
        ],
    }
