"""SLA policies: a first-response target per severity, each on a schedule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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
    "Policy",
    "Target",
    "parse_duration",
]

DAY_MODES = ("24h", "schedule")

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
    """A first-response target: ``duration`` of covered time on ``schedule``."""

    duration: timedelta
    schedule: Schedule
    label: str = ""

    def __post_init__(self) -> None:
        if type(self.duration) is not timedelta or self.duration <= timedelta(0):
            raise SlaInputError(
                f"target duration must be positive, got {self.duration!r}"
            )
        if not self.label:
            object.__setattr__(self, "label", format_duration(self.duration))

    @property
    def schedule_name(self) -> str:
        """Return the name of the schedule the clock runs on."""
        return self.schedule.name


@dataclass(frozen=True)
class Policy:
    """A named set of targets per severity (1..5); a missing severity has no SLA.

    ``day`` records what "1d" meant when the policy was read: ``"24h"`` (24
    covered hours) or ``"schedule"`` (one schedule day of covered time).
    """

    name: str
    targets: Mapping[int, Target]
    day: str = "24h"
    description: str = ""

    def __post_init__(self) -> None:
        if self.day not in DAY_MODES:
            raise SlaInputError(f"day must be one of {DAY_MODES}, got {self.day!r}")
        for severity, target in self.targets.items():
            if severity not in SEVERITIES or not isinstance(target, Target):
                raise SlaInputError(f"bad target {severity!r}: {target!r}")
        frozen = MappingProxyType(dict(sorted(self.targets.items())))
        object.__setattr__(self, "targets", frozen)

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.targets.items()), self.day))

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
        self, overrides: Mapping[object, timedelta], *, name: str | None = None
    ) -> Policy:
        """Return a copy with new durations for some severities, on the same schedules.

        This is how per-organization enhanced SLAs are applied. A severity the
        policy has no target for cannot be overridden (there is no schedule to keep).
        """
        targets = dict(self.targets)
        for key, duration in overrides.items():
            severity = parse_severity(key)
            if severity is None or severity not in targets:
                raise NoTargetError(severity, policy=self.name)
            targets[severity] = Target(duration, targets[severity].schedule)
        return Policy(
            name if name is not None else f"{self.name}+enhanced",
            targets,
            day=self.day,
            description=self.description,
        )

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Return (severity, target, coverage, schedule) rows, one per severity 1..5."""
        rows = []
        for severity in SEVERITIES:
            target = self.targets.get(severity)
            if target is None:
                rows.append((f"SEV{severity}", "none", "-", "no SLA"))
                continue
            label = target.label
            if label != format_duration(target.duration):
                label += f" = {format_duration(target.duration)} covered"
            rows.append(
                (
                    f"SEV{severity}",
                    label,
                    target.schedule.name,
                    target.schedule.describe(),
                )
            )
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
