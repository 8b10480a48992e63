"""First-response due times, their explanation, and the SLA state of a ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sidecar.sla.errors import NoTargetError, SlaInputError
from sidecar.sla.policy import DEFAULT_POLICY, Policy, Target
from sidecar.sla.schedule import Segment, format_duration, format_utc
from sidecar.sla.severity import parse_severity

__all__ = [
    "STATUSES",
    "Explanation",
    "SlaState",
    "evaluate",
    "explain",
    "first_response_due",
]

STATUSES = ("pending", "at_risk", "breached", "met")
# Tickets are created between these instants; beyond them a due time (or the
# calendar arithmetic reaching it) would fall outside what datetime can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def first_response_due(
    created_at: datetime, severity: object, policy: Policy | None = None
) -> datetime:
    """Return when the first response is due, as an aware UTC datetime.

    ``severity`` is anything :func:`parse_severity` accepts; ``policy`` None means
    the seed's default policy. Raises :class:`SlaInputError` for a naive
    ``created_at``, :class:`SeverityError` for an unknown severity and
    :class:`NoTargetError` when the severity is empty or the policy has no target
    for it (there is no due time then).
    """
    target = (policy or DEFAULT_POLICY).target(severity)
    if not isinstance(created_at, datetime):
        raise SlaInputError(f"created_at must be a datetime, got {created_at!r}")
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise SlaInputError(
            f"created_at must be timezone-aware, got naive {created_at.isoformat()}"
        )
    if not EARLIEST <= created_at < LATEST:
        raise SlaInputError(
            f"created_at {created_at.isoformat()} is out of range: a ticket's "
            f"creation must lie from {EARLIEST.date()} to before {LATEST.date()}"
        )
    return target.schedule.add(created_at, target.duration)


@dataclass(frozen=True)
class Explanation:
    """Why a ticket is due when it is: the covered segments the clock ran in."""

    created_at: datetime
    severity: int
    policy: str
    target: Target
    segments: tuple[Segment, ...]
    due_at: datetime

    @property
    def clock_start(self) -> datetime:
        """Return when the clock started (creation, or the next opening)."""
        return self.segments[0].start if self.segments else self.due_at

    def lines(self) -> list[str]:
        """Return the explanation as readable lines."""
        target = self.target
        lines = [
            f"policy     {self.policy}",
            f"severity   SEV{self.severity}: {target.label} on "
            f"{target.schedule_name} ({target.schedule.describe()})",
            f"created    {format_utc(self.created_at)}",
            f"clock from {format_utc(self.clock_start)}",
            "segments",
        ]
        running = timedelta(0)
        for segment in self.segments:
            running += segment.duration
            lines.append(
                f"  {format_utc(segment.start)} -> {format_utc(segment.end)}"
                f"  {format_duration(segment.duration):>8}"
                f"  (total {format_duration(running)})"
            )
        lines.append(f"due        {format_utc(self.due_at)}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def explain(
    created_at: datetime, severity: object, policy: Policy | None = None
) -> Explanation:
    """Return the due time with the segments of covered time that lead to it."""
    policy = policy or DEFAULT_POLICY
    due_at = first_response_due(created_at, severity, policy)
    number = parse_severity(severity)
    assert number is not None  # first_response_due raised otherwise
    target = policy.targets[number]
    return Explanation(
        created_at=created_at.astimezone(UTC),
        severity=number,
        policy=policy.name,
        target=target,
        segments=target.schedule.segments(created_at, due_at),
        due_at=due_at,
    )


@dataclass(frozen=True)
class SlaState:
    """The first-response SLA of one ticket at one moment."""

    severity: int
    target: Target
    due_at: datetime
    at_risk_at: datetime
    status: str


def evaluate(
    *,
    created_at: datetime,
    severity: object,
    first_response_at: datetime | None,
    now: datetime,
    policy: Policy | None = None,
    at_risk_fraction: float = 0.75,
) -> SlaState | None:
    """Return the SLA state, or None when no SLA applies (no severity or no target).

    ``met``: first response at or before the due time. ``breached``: a first
    response after it, or none and ``now >= due_at``. ``at_risk``: no response and
    ``now >= at_risk_at`` (when ``at_risk_fraction`` of the target's covered time
    has elapsed). Otherwise ``pending``.
    """
    if not 0 <= at_risk_fraction <= 1:
        raise SlaInputError(
            f"at_risk_fraction must be in [0, 1], got {at_risk_fraction}"
        )
    for what, moment in (("now", now), ("first_response_at", first_response_at)):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise SlaInputError(f"{what} must be timezone-aware, got naive {moment}")
    policy = policy or DEFAULT_POLICY
    try:
        target = policy.target(severity)
    except NoTargetError:
        return None
    due_at = first_response_due(created_at, severity, policy)
    # A policy's own at-risk fraction for the target wins over the caller's.
    fraction = target.at_risk if target.at_risk is not None else at_risk_fraction
    at_risk_at = target.schedule.add(created_at, target.duration * fraction)
    if first_response_at is not None:
        status = "met" if first_response_at <= due_at else "breached"
    elif now >= due_at:
        status = "breached"
    elif now >= at_risk_at:
        status = "at_risk"
    else:
        status = "pending"
    number = parse_severity(severity)
    assert number is not None
    return SlaState(number, target, due_at, at_risk_at, status)
