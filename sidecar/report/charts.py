"""The report's charts as inline SVG text (matplotlib, no pyplot, no global backend).

Text stays text (``svg.fonttype = none``): the browser draws it with a local
sans-serif font, so nothing is embedded or fetched, and the SVG is small and
prints sharply. The XML prologue and namespace declarations are dropped: the
charts are inlined in HTML, whose parser puts ``<svg>`` in the SVG namespace.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from sidecar.report.attainment import AttainmentRow, ResponseTimes, nearest_rank
from sidecar.sla import format_duration

__all__ = [
    "COLORS",
    "attainment_by_month",
    "cycles_by_metric",
    "response_vs_target",
    "worst_organizations",
]

# Colour-blind-safe (Okabe-Ito) and distinct in greyscale print.
COLORS = {
    "met": "#009E73",
    "breached": "#D55E00",
    "open": "#56B4E9",
    "unknown": "#BBBBBB",
}
# Typed Any: matplotlib types rc keys as a Literal union.
_RC: Any = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def _svg(figure: Figure, name: str) -> str:
    buffer = io.StringIO()
    # A per-chart salt keeps element ids unique across the charts of one page.
    salted: Any = {**_RC, "svg.hashsalt": f"sidecar-{name}"}
    with matplotlib.rc_context(salted):
        figure.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = _NAMESPACES.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1))
    return text.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def _empty(figure: Figure, message: str) -> None:
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#555555")


def attainment_by_month(rows: Sequence[AttainmentRow]) -> str:
    """Stacked bars: tickets per creation month by status, met share on top."""
    with matplotlib.rc_context(_RC):
        figure = _figure(9.0, 3.0)
        if not rows:
            _empty(figure, "no tickets under an SLA in the period")
            return _svg(figure, "attainment by month")
        ax = figure.add_subplot()
        months = [row.key for row in rows]
        bottom = [0] * len(rows)
        for status in ("met", "breached", "open", "unknown"):
            heights = [row.count(status) for row in rows]
            ax.bar(
                months,
                heights,
                bottom=bottom,
                color=COLORS[status],
                label=status,
                width=0.6,
            )
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for x, row in enumerate(rows):
            share = row.attainment
            label = f"{share:.0f} % met" if share is not None else "—"
            ax.annotate(
                label,
                (x, row.total),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_ylabel("tickets")
        ax.set_ylim(0, max(r.total for r in rows) * 1.15 + 1)
        ax.legend(
            ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False
        )
        return _svg(figure, "attainment by month")


def _short(seconds: int | None) -> str:
    """A duration in whole minutes (seconds under a minute)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds}s"
    return format_duration(timedelta(minutes=seconds // 60))


def response_vs_target(times: Sequence[ResponseTimes]) -> str:
    """Per severity, covered time to first response as a share of the target.

    Boxes are the 25th-75th percentiles, whiskers the 10th-90th, the line the
    median; the dashed line is the target (100 %).
    """
    with matplotlib.rc_context(_RC):
        answered = [t for t in times if t.responded and t.target]
        figure = _figure(9.0, 0.7 + 0.6 * max(len(answered), 1))
        if not answered:
            _empty(figure, "no answered tickets in the period")
            return _svg(figure, "time to first response vs target")
        ax = figure.add_subplot()
        stats: list[dict[str, Any]] = []
        for t in answered:
            assert t.target is not None
            scale = 100.0 / t.target.total_seconds()
            counts = dict(t.covered_counts)

            def pct(
                p: int, counts: Mapping[int, int] = counts, scale: float = scale
            ) -> float:
                value = nearest_rank(counts, p)
                return 0.0 if value is None else value * scale

            stats.append(
                {
                    "label": (
                        f"SEV {t.severity} (target {format_duration(t.target)})\n"
                        f"median {_short(t.median_covered)}, p90 {_short(t.p90_covered)},"
                        f" n={t.responded:,}"
                    ),
                    "whislo": pct(10),
                    "q1": pct(25),
                    "med": pct(50),
                    "q3": pct(75),
                    "whishi": pct(90),
                    "fliers": [],
                }
            )
        ax.bxp(
            stats,
            orientation="horizontal",
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": "#DDEEFF", "edgecolor": "#336699"},
            medianprops={"color": "#003366", "linewidth": 2},
        )
        ax.axvline(100, color=COLORS["breached"], linestyle="--", linewidth=1)
        top = max(s["whishi"] for s in stats)
        ax.set_xlim(0, max(150.0, min(top * 1.1, 1000.0)))
        ax.invert_yaxis()
        ax.set_xlabel("covered time to first response, % of target (dashed: target)")
        ax.tick_params(axis="y", labelsize=8)
        return _svg(figure, "time to first response vs target")


def worst_organizations(
    rows: Sequence[AttainmentRow], names: Mapping[str, str], *, limit: int = 10
) -> str:
    """Horizontal bars: the organizations with the largest breached share."""
    with matplotlib.rc_context(_RC):
        decided = [r for r in rows if r.met + r.breached]
        worst = sorted(
            decided,
            key=lambda r: (-(r.breached / (r.met + r.breached)), -r.breached, r.key),
        )[:limit]
        figure = _figure(9.0, 0.7 + 0.32 * max(len(worst), 1))
        if not worst:
            _empty(figure, "no answered or breached tickets in the period")
            return _svg(figure, "worst organizations")
        ax = figure.add_subplot()
        labels = [names.get(r.key, r.key) for r in worst]
        shares = [100.0 * r.breached / (r.met + r.breached) for r in worst]
        ax.barh(labels, shares, color=COLORS["breached"], height=0.6)
        for y, r in enumerate(worst):
            ax.annotate(
                f"{r.breached} of {r.met + r.breached}",
                (shares[y], y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, 110)
        ax.invert_yaxis()
        ax.set_xlabel("breached, % of tickets met or breached")
        return _svg(figure, "worst organizations")


def cycles_by_metric(rows: Sequence[tuple[str, AttainmentRow]]) -> str:
    """Horizontal stacked bars: each metric's cycles by status, as % of its cycles."""
    with matplotlib.rc_context(_RC):
        figure = _figure(9.0, 0.9 + 0.4 * max(len(rows), 1))
        counted = [(label, row) for label, row in rows if row.total]
        if not counted:
            _empty(figure, "no cycles in the period")
            return _svg(figure, "cycles by metric")
        ax = figure.add_subplot()
        labels = [label for label, _ in counted]
        left = [0.0] * len(counted)
        for status in ("met", "breached", "open", "unknown"):
            widths = [100.0 * r.count(status) / r.total for _, r in counted]
            ax.barh(
                labels,
                widths,
                left=left,
                color=COLORS[status],
                label=status,
                height=0.6,
            )
            left = [a + w for a, w in zip(left, widths, strict=True)]
        for y, (_, row) in enumerate(counted):
            share = row.attainment
            text = f"{share:.0f} % met" if share is not None else "none decided"
            ax.annotate(
                f"{text} of {row.met + row.breached:,} decided",
                (100, y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, 135)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.invert_yaxis()
        ax.set_xlabel("% of the metric's cycles")
        # Above the bars: at the bottom right it would cover the last annotation.
        figure.legend(loc="outside upper center", ncols=4, fontsize=8, frameon=False)
        return _svg(figure, "cycles by metric")
