"""The report as JSON, CSV and one self-contained HTML page (the same numbers in each).

The HTML loads nothing: styles are inline, charts are inline SVG, there is no
script; its only URLs are the links to the breached tickets. It prints cleanly
(A4, charts and table rows never split across pages).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sidecar.report.attainment import (
    NO_ORGANIZATION,
    STATUSES,
    AttainmentRow,
    BreachRow,
    ResponseTimes,
)
from sidecar.report.collect import ReportData
from sidecar.sla import format_duration, format_utc

__all__ = ["ReportView", "render_csv", "render_html", "render_json"]


@dataclass(frozen=True)
class ReportView:
    """What the renderers need beyond the numbers."""

    data: ReportData
    account: str
    ticket_url: Callable[[int], str]
    organization_names: Mapping[int, str]

    def org_label(self, key: str) -> str:
        """Name an organization key ("none", or an id) for people."""
        if key == NO_ORGANIZATION:
            return "No organization"
        return self.organization_names.get(int(key)) or f"Organization {key}"

    def org_label_of(self, org_id: int | None) -> str:
        return self.org_label(NO_ORGANIZATION if org_id is None else str(org_id))


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _late_minutes(late: timedelta | None) -> float | None:
    return None if late is None else round(late.total_seconds() / 60, 1)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _period(view: ReportView) -> dict[str, str]:
    data = view.data
    return {
        "start": format_utc(data.start),
        "end": format_utc(data.end),
        "generated_at": format_utc(data.now),
    }


def _row_json(row: AttainmentRow, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": row.key, "label": label, "total": row.total}
    for status in STATUSES:
        out[status] = row.count(status)
    for status in STATUSES:
        out[f"{status}_pct"] = _pct(row.percent(status))
    out["attainment_pct"] = _pct(row.attainment)
    return out


def _times_json(t: ResponseTimes) -> dict[str, Any]:
    return {
        "severity": t.severity,
        "target_minutes": _minutes(int(t.target.total_seconds())) if t.target else None,
        "responded": t.responded,
        "median_covered_minutes": _minutes(t.median_covered),
        "p90_covered_minutes": _minutes(t.p90_covered),
        "median_calendar_minutes": _minutes(t.median_calendar),
        "p90_calendar_minutes": _minutes(t.p90_calendar),
        "median_covered_seconds": t.median_covered,
        "p90_covered_seconds": t.p90_covered,
        "median_calendar_seconds": t.median_calendar,
        "p90_calendar_seconds": t.p90_calendar,
    }


def _breach_json(view: ReportView, b: BreachRow) -> dict[str, Any]:
    return {
        "ticket_id": b.ticket_id,
        "url": view.ticket_url(b.ticket_id),
        "organization_id": b.organization_id,
        "organization": view.org_label_of(b.organization_id),
        "severity": b.severity,
        "created_at": format_utc(b.created_at),
        "due_at": format_utc(b.due_at),
        "first_response_at": format_utc(b.first_response_at)
        if b.first_response_at
        else None,
        "late_covered_minutes": _late_minutes(b.late),
        "first_response_source": b.source,
    }


METRIC_LABELS = {
    "first_response": "first response",
    "next_reply": "next reply",
    "periodic_update": "periodic update",
    "resolution": "resolution",
}


def _metrics_json(view: ReportView) -> list[dict[str, Any]]:
    """Every metric's cycles (``total`` counts cycles, not tickets)."""
    return [
        {
            "name": m.name,
            "label": METRIC_LABELS.get(m.name, m.name),
            "overall": _row_json(m.overall, "all"),
            "by_severity": [_row_json(r, f"SEV {r.key}") for r in m.by_severity],
            "by_organization": [
                _row_json(r, view.org_label(r.key)) for r in m.by_organization
            ],
        }
        for m in view.data.metrics
    ]


def report_dict(view: ReportView) -> dict[str, Any]:
    """The report's numbers as plain data (the JSON format).

    ``metrics`` and ``history`` appear only when a counted ticket's policy
    sets a metric beyond the first response.
    """
    data = view.data
    found = _first_response_dict(view)
    if data.metrics:
        found["metrics"] = _metrics_json(view)
        if data.history is not None:
            found["history"] = {
                "tickets_read": data.history.tickets,
                "comment_reads": data.history.comment_reads,
                "audit_reads": data.history.audit_reads,
                "unreadable": data.history.unreadable,
            }
    return found


def _first_response_dict(view: ReportView) -> dict[str, Any]:
    data, a = view.data, view.data.attainment
    return {
        "account": view.account,
        "period": _period(view),
        "policy": data.policy.name,
        "organization_filter": data.organization_id,
        "tickets_counted": data.counted,
        "tickets_left_out": data.left_out,
        "overall": _row_json(a.overall, "all"),
        "by_severity": [_row_json(r, f"SEV {r.key}") for r in a.by_severity],
        "by_organization": [
            _row_json(r, view.org_label(r.key)) for r in a.by_organization
        ],
        "by_month": [_row_json(r, r.key) for r in a.by_month],
        "response_times": [_times_json(t) for t in a.response_times],
        "breaches": [_breach_json(view, b) for b in a.breaches],
        "export": {
            "pages": data.read.pages,
            "tickets_read": data.read.tickets,
            "rate_limited": data.read.rate_limited,
            "waited_seconds": round(data.read.waited_seconds, 1),
        },
    }


def render_json(view: ReportView) -> str:
    """The report as JSON."""
    return json.dumps(report_dict(view), indent=2) + "\n"


CSV_COLUMNS = (
    "table",
    "key",
    "label",
    "total",
    *STATUSES,
    *(f"{s}_pct" for s in STATUSES),
    "attainment_pct",
    "target_minutes",
    "responded",
    "median_covered_minutes",
    "p90_covered_minutes",
    "median_calendar_minutes",
    "p90_calendar_minutes",
    "ticket_url",
    "organization",
    "severity",
    "created_at",
    "due_at",
    "first_response_at",
    "late_covered_minutes",
    "first_response_source",
)


def render_csv(view: ReportView) -> str:
    """The report as one CSV table; the ``table`` column says which part a row is.

    ``overall``, ``severity``, ``organization``, ``month`` rows carry counts and
    percentages (severity rows also the response times); ``breach`` rows are
    the breach list. With metrics beyond the first response, ``metric``,
    ``metric_severity`` and ``metric_organization`` rows count each metric's
    cycles (``total`` is cycles), named in the extra ``metric`` column.
    """
    d = report_dict(view)
    times = {t["severity"]: t for t in d["response_times"]}
    out = io.StringIO()
    # The metric column exists only when there are metrics beyond the first
    # response: a first-response report's CSV is what it always was.
    columns = (*CSV_COLUMNS, "metric") if d.get("metrics") else CSV_COLUMNS
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerow({"table": "overall", **d["overall"]})
    for row in d["by_severity"]:
        writer.writerow({"table": "severity", **row, **times.get(int(row["key"]), {})})
    for name in ("organization", "month"):
        for row in d[f"by_{name}"]:
            writer.writerow({"table": name, **row})
    for b in d["breaches"]:
        writer.writerow(
            {
                "table": "breach",
                "key": b["ticket_id"],
                "label": f"#{b['ticket_id']}",
                "ticket_url": b["url"],
                **b,
            }
        )
    for m in d.get("metrics", ()):
        writer.writerow({"table": "metric", **m["overall"], "metric": m["name"]})
        for name in ("severity", "organization"):
            for row in m[f"by_{name}"]:
                writer.writerow({"table": f"metric_{name}", **row, "metric": m["name"]})
    return out.getvalue()


# --- HTML -------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
  color: #1b1b1b; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem;
  border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; margin: 0 0 1rem; }
.headline { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
.figure b { display: block; font-size: 1.5rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: .5rem 0; }
th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid #eee; white-space: nowrap; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
thead th { border-bottom: 2px solid #bbb; font-weight: 600; }
.chart svg { width: 100%; height: auto; max-width: 100%; }
.chart { margin: .5rem 0 1rem; }
.notes { color: #444; font-size: .9rem; } .notes li { margin: .2rem 0; }
a { color: #0b57d0; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .chart, .figure, tr, .headline { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _fmt_minutes(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:,.1f}"


def _attainment_table(
    rows: list[tuple[str, AttainmentRow]], first: str, counted: str = "tickets"
) -> str:
    head = "".join(f"<th>{escape(s)}</th><th>%</th>" for s in STATUSES)
    body = []
    for label, row in rows:
        cells = "".join(
            f"<td>{row.count(s):,}</td><td>{_fmt_pct(row.percent(s))}</td>"
            for s in STATUSES
        )
        body.append(
            f"<tr><td class=text>{escape(label)}</td><td>{row.total:,}</td>{cells}"
            f"<td>{_fmt_pct(row.attainment)}</td></tr>"
        )
    return (
        f"<table><thead><tr><th class=text>{escape(first)}</th><th>{counted}</th>{head}"
        "<th>attainment</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def _times_table(times: tuple[ResponseTimes, ...]) -> str:
    body = []
    for t in times:
        target = format_duration(t.target) if t.target else "—"
        body.append(
            f"<tr><td class=text>SEV {t.severity}</td><td>{escape(target)}</td>"
            f"<td>{t.responded:,}</td>"
            f"<td>{_fmt_minutes(t.median_covered)}</td><td>{_fmt_minutes(t.p90_covered)}</td>"
            f"<td>{_fmt_minutes(t.median_calendar)}</td><td>{_fmt_minutes(t.p90_calendar)}</td></tr>"
        )
    return (
        "<table><thead><tr><th class=text>severity</th><th>target</th><th>answered</th>"
        "<th>median, covered min</th><th>p90, covered min</th>"
        "<th>median, calendar min</th><th>p90, calendar min</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


_SOURCES = {
    "ticket": "ticket field",
    "metric_sets": "Zendesk metrics",
    "none": "no reply",
    "unknown": "unknown",
}


def human_duration(duration: timedelta) -> str:
    """Minutes rounded up, as ``45m``, ``3h05m`` or ``12d 4h`` (from two days on)."""
    minutes = -(-duration // timedelta(minutes=1)) if duration > timedelta(0) else 0
    hours, mins = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return f"{days}d {hours}h"
    return f"{hours}h{mins:02d}m" if hours else f"{mins}m"


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def _late_text(b: BreachRow) -> str:
    if b.late is None:
        return "—"
    text = human_duration(b.late)
    return text if b.first_response_at else f"{text}, no reply"


def _breach_table(view: ReportView) -> str:
    breaches = view.data.attainment.breaches
    if not breaches:
        return "<p>No breaches in the period.</p>"
    rows = []
    for b in breaches:
        url = escape(view.ticket_url(b.ticket_id), quote=True)
        rows.append(
            f'<tr><td class=text><a href="{url}">#{b.ticket_id}</a></td>'
            f"<td class=text>{escape(view.org_label_of(b.organization_id))}</td>"
            f"<td>SEV {b.severity}</td><td>{_when(b.created_at)}</td>"
            f"<td>{_when(b.due_at)}</td><td>{_when(b.first_response_at)}</td>"
            f"<td>{escape(_late_text(b))}</td>"
            f"<td class=text>{escape(_SOURCES.get(b.source, b.source))}</td></tr>"
        )
    return (
        "<table><thead><tr><th class=text>ticket</th><th class=text>organization</th>"
        "<th>severity</th><th>created (UTC)</th><th>due (UTC)</th>"
        "<th>first reply (UTC)</th><th>late (covered)</th>"
        "<th class=text>reply from</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _metrics_section(view: ReportView) -> list[str]:
    """Every metric's cycles: a chart, then by metric, severity and organization."""
    from sidecar.report import charts

    metrics = view.data.metrics
    if not metrics:
        return []
    overall = [(METRIC_LABELS.get(m.name, m.name), m.overall) for m in metrics]
    severities = [
        (f"{METRIC_LABELS.get(m.name, m.name)} · SEV {r.key}", r)
        for m in metrics
        for r in m.by_severity
    ]
    orgs = [
        (f"{METRIC_LABELS.get(m.name, m.name)} · {view.org_label(r.key)}", r)
        for m in metrics
        for r in m.by_organization
    ]
    return [
        "<section><h2>Every metric</h2>",
        "<p class=notes>Each row counts <b>cycles</b>: one per ticket for the first "
        "response and the resolution; one per customer turn for the next reply; one "
        "per update interval for the periodic update.</p>",
        f"<div class=chart>{charts.cycles_by_metric(overall)}</div>",
        _attainment_table(overall, "metric", "cycles"),
        "<h2>Every metric by severity</h2>",
        _attainment_table(severities, "metric · severity", "cycles"),
        "<h2>Every metric by organization</h2>",
        _attainment_table(orgs, "metric · organization", "cycles"),
        "</section>",
    ]


def _metrics_notes(view: ReportView) -> list[str]:
    data = view.data
    if not data.metrics:
        return []
    notes = [
        "<li>Every metric: <b>met</b> / <b>breached</b> per cycle (stopped by its "
        "due time or after it, or running past it); <b>open</b>: running, not yet "
        "due; a cycle a solve stopped short of its due time is not counted; "
        "<b>unknown</b>: the ticket's comments or status history could not be "
        "read. The first response's counts are the ones above.</li>"
    ]
    if data.history is not None:
        h = data.history
        notes.append(
            f"<li>Ticket histories read for {h.tickets:,} tickets: "
            f"{h.comment_reads:,} comment lists, {h.audit_reads:,} status histories"
            + (f", {h.unreadable:,} unreadable" if h.unreadable else "")
            + ".</li>"
        )
    return notes


def _breaches_heading(view: ReportView) -> str:
    """Close the organizations; with metrics beyond the first response, show them."""
    n = len(view.data.attainment.breaches)
    if not view.data.metrics:
        return f"</section><section><h2>Breaches ({n:,})</h2>"
    return "\n".join(
        [
            "</section>",
            *_metrics_section(view),
            f"<section><h2>First-response breaches ({n:,})</h2>",
        ]
    )


def render_html(view: ReportView) -> str:
    """The report as one self-contained HTML page with three inline SVG charts."""
    from sidecar.report import charts  # matplotlib: only when HTML is asked for

    data, a = view.data, view.data.attainment
    org_names = {r.key: view.org_label(r.key) for r in a.by_organization}
    end_day = (data.end - timedelta(microseconds=1)).astimezone(UTC)
    period = f"{data.start:%Y-%m-%d} to {end_day:%Y-%m-%d}"
    heading = "SLA attainment" if data.metrics else "First-response SLA attainment"
    title = f"{heading}, {view.account}, {period}"
    scope = (
        f" · organization: {escape(view.org_label(str(data.organization_id)))}"
        if data.organization_id is not None
        else ""
    )
    headline = "".join(
        f"<div class=figure>{escape(label)}<b>{value}</b></div>"
        for label, value in (
            ("attainment (met of decided)", _fmt_pct(a.overall.attainment)),
            ("tickets under an SLA", f"{a.overall.total:,}"),
            ("met", f"{a.overall.met:,}"),
            ("breached", f"{a.overall.breached:,}"),
            ("open", f"{a.overall.open:,}"),
            ("unknown", f"{a.overall.unknown:,}"),
        )
    )
    months = [(r.key, r) for r in a.by_month]
    severities = [(f"SEV {r.key}", r) for r in a.by_severity]
    orgs = [(view.org_label(r.key), r) for r in a.by_organization]
    generated = data.now.astimezone(UTC).replace(microsecond=0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{heading}</h1>",
        f"<p class=meta>{escape(view.account)} · tickets created {period} (UTC){scope}"
        f" · policy {escape(data.policy.name)} · generated {format_utc(generated)}</p>",
        f"<div class=headline>{headline}</div></header>",
        "<section><h2>Attainment by month</h2>",
        f"<div class=chart>{charts.attainment_by_month(a.by_month)}</div>",
        _attainment_table(months, "month"),
        "</section><section><h2>By severity</h2>",
        _attainment_table(severities, "severity"),
        "<h2>Time to first response vs target</h2>",
        f"<div class=chart>{charts.response_vs_target(a.response_times)}</div>",
        _times_table(a.response_times),
        "</section><section><h2>Organizations</h2>",
        f"<div class=chart>{charts.worst_organizations(a.by_organization, org_names)}</div>",
        _attainment_table(orgs, "organization"),
        _breaches_heading(view),
        _breach_table(view),
        "</section><section class=notes><h2>How these numbers are made</h2><ul>",
        "<li>A ticket belongs to the period by its creation time (UTC). Counted: tickets "
        "the sidecar put under the first-response SLA (its status tags or due time) "
        "that still have a severity"
        + (
            f"; {data.left_out:,} other tickets of the period were left out"
            if data.left_out
            else ""
        )
        + ".</li>",
        "<li><b>met</b>: first public agent reply at or before the due time; "
        "<b>breached</b>: after it, or none by it; <b>open</b>: no reply yet and not "
        "yet due; <b>unknown</b>: neither the ticket nor Zendesk's metrics say when "
        "the first reply came. Attainment = met ÷ (met + breached).</li>",
        "<li>Once answered, the verdict the ticket records stands (a later severity "
        "change does not reopen it). The first reply comes from the ticket's "
        "first-response field, else from Zendesk's first reply time (calendar "
        "minutes), converted to covered time with the policy's schedules.</li>",
        "<li>Covered time counts only the hours the severity's schedule covers; "
        "calendar time is wall-clock time. Percentiles are nearest-rank.</li>",
        f"<li>Read through Zendesk's incremental export: {data.read.pages:,} pages, "
        f"{data.read.tickets:,} ticket versions"
        + (
            f", {data.read.rate_limited} rate-limit waits"
            if data.read.rate_limited
            else ""
        )
        + ".</li>",
        *_metrics_notes(view),
        "</ul></section></body></html>",
    ]
    return "\n".join(parts) + "\n"
