"""SLA policies: per severity, a target for each metric, each on a schedule.

The first-response target of each severity is ``Policy.targets`` (as it always
was); the other metrics (``next_reply``, ``periodic_update``, ``resolution``)
are ``Policy.metrics``. README, "SLA semantics", states what each one measures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from sidecar.sla.errors import NoTargetError, SlaInputError
from sidecar.sla.schedule import (
    DAY_NAMES,
    TWENTY_FOUR_SEVEN,
    Schedule,
    format_duration,
)
from sidecar.sla.severity import SEVERITIES, parse_severity

__all__ = [
    "CORE_HOURS",
    "DAY_MODES",
    "DEFAULT_POLICY",
    "METRICS",
    "PAUSABLE_STATUSES",
    "Policy",
    "Target",
    "parse_duration",
]

DAY_MODES = ("24h", "schedule")
METRICS = ("first_response", "next_reply", "periodic_update", "resolution")
# Statuses a metric may pause in; solved and closed always stop every clock
# but the first response's, so naming them would say nothing.
PAUSABLE_STATUSES = ("new", "open", "pending", "hold")

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str, *, day: timedelta = timedelta(hours=24)) -> timedelta:
    """Parse ``"90m"``, ``"6h"``, ``"1h30m"`` or ``"1d"`` (units d, h, m, s, in order).

    ``day`` is what one ``d`` is worth (24 h, or a schedule day). Raises
    ``ValueError`` for anything else or for a zero duration.
    """
    compact = "".join(text.lower().split()) if isinstance(text, str) else ""
    match = _DURATION.match(compact)
    if not compact or match is None:
        raise ValueError(f"duration {text!r} is not like '90m', '6h', '1h30m' or '1d'")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    total = d * day + timedelta(hours=h, minutes=m, seconds=s)
    if total <= timedelta(0):
        raise ValueError(f"duration {text!r} must be greater than zero")
    return total


@dataclass(frozen=True)
class Target:
    """A target: ``duration`` of covered time on ``schedule``.

    ``at_risk`` is the fraction of the target after which the metric is at risk
    (None: the caller's default); ``pause`` names the statuses in which its
    clock stops (never for a first response).
    """

    duration: timedelta
    schedule: Schedule
    label: str = ""
    at_risk: float | None = None
    pause: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if type(self.duration) is not timedelta or self.duration <= timedelta(0):
            raise SlaInputError(
                f"target duration must be positive, got {self.duration!r}"
            )
        if self.at_risk is not None and (
            isinstance(self.at_risk, bool)
            or not isinstance(self.at_risk, int | float)
            or not 0 <= self.at_risk <= 1
        ):
            raise SlaInputError(f"at_risk must be in [0, 1], got {self.at_risk!r}")
        pause = frozenset(self.pause)
        unknown = sorted(pause - set(PAUSABLE_STATUSES))
        if unknown:
            raise SlaInputError(
                f"cannot pause in {', '.join(unknown)}: expected some of "
                f"{', '.join(PAUSABLE_STATUSES)}"
            )
        object.__setattr__(self, "pause", pause)
        if not self.label:
            object.__setattr__(self, "label", format_duration(self.duration))

    def with_duration(self, duration: timedelta) -> Target:
        """Return the same target (schedule, at-risk, pauses) with a new duration."""
        return Target(duration, self.schedule, at_risk=self.at_risk, pause=self.pause)

    @property
    def schedule_name(self) -> str:
        """Return the name of the schedule the clock runs on."""
        return self.schedule.name


@dataclass(frozen=True)
class Policy:
    """A named set of targets per severity (1..5); a missing severity has no SLA.

    ``targets`` are the first-response targets; ``metrics`` the other metrics'
    targets per severity (by name, from :data:`METRICS`). ``day`` records what
    "1d" meant when the policy was read: ``"24h"`` (24 covered hours) or
    ``"schedule"`` (one schedule day of covered time).
    """

    name: str
    targets: Mapping[int, Target]
    day: str = "24h"
    description: str = ""
    metrics: Mapping[int, Mapping[str, Target]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.day not in DAY_MODES:
            raise SlaInputError(f"day must be one of {DAY_MODES}, got {self.day!r}")
        for severity, target in self.targets.items():
            if severity not in SEVERITIES or not isinstance(target, Target):
                raise SlaInputError(f"bad target {severity!r}: {target!r}")
        frozen = MappingProxyType(dict(sorted(self.targets.items())))
        object.__setattr__(self, "targets", frozen)
        metrics: dict[int, Mapping[str, Target]] = {}
        for severity, named in sorted(self.metrics.items()):
            if severity not in SEVERITIES:
                raise SlaInputError(f"bad severity {severity!r} in metrics")
            for metric, target in named.items():
                if metric not in METRICS[1:] or not isinstance(target, Target):
                    raise SlaInputError(
                        f"bad metric {metric!r} for SEV{severity}: expected one of "
                        f"{', '.join(METRICS[1:])} with a Target, got {target!r}"
                    )
            if named:
                ordered = {m: named[m] for m in METRICS if m in named}
                metrics[severity] = MappingProxyType(ordered)
        object.__setattr__(self, "metrics", MappingProxyType(metrics))

    def __hash__(self) -> int:
        extra = tuple((s, tuple(m.items())) for s, m in self.metrics.items())
        return hash((self.name, tuple(self.targets.items()), self.day, extra))

    def metric_targets(self, severity: object) -> dict[str, Target]:
        """Return every metric's target for a severity, by name, in METRICS order.

        Empty when the severity is empty or the policy gives it no target.
        """
        number = parse_severity(severity)
        if number is None:
            return {}
        found: dict[str, Target] = {}
        if number in self.targets:
            found["first_response"] = self.targets[number]
        found.update(self.metrics.get(number, {}))
        return found

    def target(self, severity: object) -> Target:
        """Return the target for a severity (anything ``parse_severity`` accepts).

        Raises :class:`NoTargetError` when the severity is empty or has no target.
        """
        number = parse_severity(severity)
        target = self.targets.get(number) if number is not None else None
        if target is None:
            raise NoTargetError(number, policy=self.name)
        return target

    def with_overrides(
        self,
        overrides: Mapping[object, timedelta | Mapping[str, timedelta]],
        *,
        name: str | None = None,
    ) -> Policy:
        """Return a copy with new durations for some targets, on the same schedules.

        This is how per-organization enhanced SLAs are applied. A severity maps
        to a duration (its first response, as before) or to durations by metric
        name. A target the policy does not have cannot be overridden (there is
        no schedule to keep): :class:`NoTargetError`.
        """
        targets = dict(self.targets)
        metrics = {s: dict(m) for s, m in self.metrics.items()}
        for key, value in overrides.items():
            severity = parse_severity(key)
            if severity is None:
                raise NoTargetError(severity, policy=self.name)
            named = {"first_response": value} if isinstance(value, timedelta) else value
            for metric, duration in named.items():
                if metric == "first_response" and severity in targets:
                    targets[severity] = targets[severity].with_duration(duration)
                elif metric in metrics.get(severity, {}):
                    current = metrics[severity][metric]
                    metrics[severity][metric] = current.with_duration(duration)
                elif metric == "first_response" or metric not in METRICS:
                    raise NoTargetError(severity, policy=self.name)
                else:
                    raise NoTargetError(severity, policy=self.name, metric=metric)
        return Policy(
            name if name is not None else f"{self.name}+enhanced",
            targets,
            day=self.day,
            description=self.description,
            metrics=metrics,
        )

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Return (severity, target, coverage, schedule) rows, one per severity 1..5.

        A severity with more metrics than the first response gets one more row
        per metric, its first column naming the metric.
        """
        rows = []
        for severity in SEVERITIES:
            target = self.targets.get(severity)
            extra = self.metrics.get(severity, {})
            if target is None:
                rows.append(
                    (f"SEV{severity}", "none", "-", "no SLA" if not extra else "-")
                )
            else:
                rows.append((f"SEV{severity}", *_cells(target)))
            for metric, other in extra.items():
                rows.append((f"  {metric}", *_cells(other)))
        return rows

    def describe(self, *, markdown: bool = False) -> str:
        """Return the policy as a table, plain text or markdown."""
        header = ("Severity", "Target", "Coverage", "Schedule")
        rows = self.rows()
        if markdown:
            lines = [
                "| " + " | ".join(header) + " |",
                "|" + "---|" * len(header),
                *("| " + " | ".join(row) + " |" for row in rows),
            ]
            return "\n".join(lines)
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        lines = [f"policy {self.name!r} (1d = {self.day})"]
        for row in (header, *rows):
            lines.append(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            )
        return "\n".join(line.rstrip() for line in lines)


def _cells(target: Target) -> tuple[str, str, str]:
    label = target.label
    if label != format_duration(target.duration):
        label += f" = {format_duration(target.duration)} covered"
    if target.at_risk is not None:
        label += f", at risk {target.at_risk:.0%}"
    if target.pause:
        ordered = [s for s in PAUSABLE_STATUSES if s in target.pause]
        label += f", paused in {'/'.join(ordered)}"
    return label, target.schedule.name, target.schedule.describe()


CORE_HOURS = Schedule(
    "core",
    timezone="UTC",
    windows={day: ["05:00-01:00"] for day in DAY_NAMES[:5]},
)

# The seed's table (Enterprise Support, "Target response times").
DEFAULT_POLICY = Policy(
    "default",
    {
        1: Target(timedelta(hours=1), TWENTY_FOUR_SEVEN, "1h"),
        2: Target(timedelta(hours=2), TWENTY_FOUR_SEVEN, "2h"),
        3: Target(timedelta(hours=6), CORE_HOURS, "6h"),
        4: Target(timedelta(hours=24), CORE_HOURS, "1d"),
        5: Target(timedelta(hours=24), CORE_HOURS, "1d"),
    },
    description="Enterprise Support first-response SLA (seed)",
)
