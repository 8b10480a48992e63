"""Every metric's cycles, tallied: met and breached per customer turn, update interval, ticket.

Pure: the caller passes each ticket's :class:`sidecar.sla.MetricState` list
(from :func:`sidecar.sla.measure_all` over its comments and status history) or
None when its history could not be read. A next reply and a periodic update
count one cycle per turn / interval; a first response and a resolution one
per ticket. The first response's counts are the report's own (its recorded
verdicts win, see :mod:`sidecar.report.attainment`), passed in as a status.

Cycle statuses (README, "Attainment report"):

- ``met`` / ``breached``: the cycle stopped by its due time or after it, or is
  still running past it (breached);
- ``open``: still running, not yet due;
- a running cycle the solve stopped short of its due time is not counted: the
  customer's "thanks" on a solved ticket asks for no reply;
- ``unknown``: the ticket's history could not be read (one per metric per ticket).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.report.attainment import NO_ORGANIZATION, AttainmentRow
from sidecar.sla import METRICS, MetricState
from sidecar.sla.metrics import STOPPED

__all__ = ["CycleBuilder", "MetricAttainment", "cycle_statuses"]

# (metric, severity, organization, status) -> cycles, one ticket's share.
_Share = tuple[tuple[tuple[str, int, str, str], int], ...]


@dataclass(frozen=True)
class MetricAttainment:
    """One metric's cycles: overall, by severity and by organization."""

    name: str
    overall: AttainmentRow
    by_severity: tuple[AttainmentRow, ...]
    by_organization: tuple[AttainmentRow, ...]


def cycle_statuses(state: MetricState, *, ticket_status: str) -> list[str]:
    """The status of each counted cycle of one metric (see the module docstring)."""
    solved = ticket_status in STOPPED
    found = []
    for cycle in state.cycles:
        if cycle.state in ("met", "breached"):
            found.append(cycle.state)
        elif not solved:
            found.append("open")
    return found


class CycleBuilder:
    """Tally metric cycles per ticket, replacing a ticket counted before."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str, str]] = Counter()
        self._seen: dict[int, _Share] = {}
        self._metrics: set[str] = set()

    def __len__(self) -> int:
        return len(self._seen)

    def add(
        self,
        ticket_id: int,
        *,
        severity: int,
        organization_id: int | None,
        ticket_status: str,
        first_response: str | None,
        names: Sequence[str],
        states: Sequence[MetricState] | None,
    ) -> None:
        """Count one ticket's cycles of ``names`` (the metrics its policy sets).

        ``first_response`` is the report's own status for it (None: not set);
        ``states`` the other metrics' states, None when the history is unknown.
        """
        self.discard(ticket_id)
        org = sys.intern(
            str(organization_id) if organization_id is not None else NO_ORGANIZATION
        )
        share: Counter[tuple[str, int, str, str]] = Counter()
        if first_response is not None:
            share[("first_response", severity, org, first_response)] += 1
        by_name = {s.name: s for s in states or ()}
        for name in names:
            if name == "first_response":
                continue
            if states is None:
                share[(name, severity, org, "unknown")] += 1
                continue
            for status in cycle_statuses(by_name[name], ticket_status=ticket_status):
                share[(name, severity, org, status)] += 1
        self._metrics.update(names)
        self._seen[ticket_id] = tuple(share.items())
        self._apply(self._seen[ticket_id], +1)

    def discard(self, ticket_id: int) -> None:
        previous = self._seen.pop(ticket_id, None)
        if previous is not None:
            self._apply(previous, -1)

    def _apply(self, share: _Share, sign: int) -> None:
        for (name, severity, org, status), n in share:
            for dimension, key in (
                ("all", "all"),
                ("severity", str(severity)),
                ("organization", org),
            ):
                self._counts[(name, dimension, key, status)] += sign * n

    def result(self) -> tuple[MetricAttainment, ...]:
        """One entry per metric any counted ticket's policy sets, in METRICS order.

        Empty when no ticket's policy sets a metric beyond the first response:
        the report then reads exactly as it always did.
        """
        if not self._metrics - {"first_response"}:
            return ()
        groups: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for (name, dimension, key, status), n in self._counts.items():
            if n:
                found = groups.setdefault((name, dimension), {})
                found.setdefault(key, {})[status] = n

        def rows(
            name: str, dimension: str, order: Callable[[str], Any]
        ) -> tuple[AttainmentRow, ...]:
            found = groups.get((name, dimension), {})
            return tuple(
                AttainmentRow(key, **found[key]) for key in sorted(found, key=order)
            )

        result = []
        for name in METRICS:
            if name not in self._metrics:
                continue
            overall = rows(name, "all", str)
            result.append(
                MetricAttainment(
                    name=name,
                    overall=overall[0] if overall else AttainmentRow("all"),
                    by_severity=rows(name, "severity", int),
                    by_organization=rows(
                        name,
                        "organization",
                        lambda k: (k == NO_ORGANIZATION, int(k) if k.isdigit() else 0),
                    ),
                )
            )
        return tuple(result)


def tally_cycles(
    tickets: Iterable[
        tuple[
            int,
            int,
            int | None,
            str,
            str | None,
            Sequence[str],
            Sequence[MetricState] | None,
        ]
    ],
) -> tuple[MetricAttainment, ...]:
    """Tally a finite collection (tests): (id, severity, org, status, first, names, states)."""
    builder = CycleBuilder()
    for tid, severity, org, status, first, names, states in tickets:
        builder.add(
            tid,
            severity=severity,
            organization_id=org,
            ticket_status=status,
            first_response=first,
            names=names,
            states=states,
        )
    return builder.result()
