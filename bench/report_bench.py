"""Benchmark `sidecar report` on synthetic exports: time and peak memory, 10k vs 100k tickets.

Usage: .venv/bin/python bench/report_bench.py [--tickets 100000] [--html FILE]

An in-memory export client yields pages of 1,000 synthetic tickets (built lazily,
as the HTTP client parses them: nothing is kept by the source) over three months
and 50 organizations: 70 % carry the outcome fields, 25 % only the status tag
and a metric set, 5 % neither (unknown). The report's pass (`collect`: facts,
SLA arithmetic, tallies) and the HTML rendering (charts included) are timed,
then the same pass runs under tracemalloc for its peak Python memory.

Same-run baselines: reading the synthetic export without tallying (what the
source itself costs), and the whole pass at a tenth of the tickets (memory and
time should grow no faster than the ticket count; the breach list is the part
that grows with it).
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sidecar.domain.models import (  # noqa: E402
    MetricsExportPage,
    Ticket,
    TicketMetricSet,
)
from sidecar.report.collect import ReportData, collect  # noqa: E402
from sidecar.report.render import ReportView, render_html  # noqa: E402
from sidecar.report.source import ExportReader, ReportFields  # noqa: E402
from sidecar.sla import DEFAULT_POLICY, first_response_due, format_utc  # noqa: E402

SEV, DUE, FR_AT, LATE = 1, 2, 3, 4
FIELDS = ReportFields(
    severity=SEV, due_at=DUE, first_response_at=FR_AT, breach_minutes=LATE
)
START = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
PAGE = 1000


class SyntheticExport:
    """Pages of synthetic tickets, generated on demand from a seeded RNG."""

    def __init__(self, tickets: int, *, seed: int = 13) -> None:
        self.total = tickets
        self.seed = seed

    def export_tickets_with_metrics(
        self, *, cursor: str | None = None, start_time: int | None = None
    ) -> MetricsExportPage:
        first = int(cursor) if cursor else 0
        last = min(first + PAGE, self.total)
        rng = random.Random(self.seed * 1_000_003 + first)
        tickets, metrics = [], {}
        for tid in range(first + 1, last + 1):
            ticket, metric = _ticket(tid, rng)
            tickets.append(ticket)
            if metric is not None:
                metrics[tid] = metric
        return MetricsExportPage(
            tickets=tuple(tickets),
            metric_sets=metrics,
            after_cursor=str(last),
            end_of_stream=last >= self.total,
        )


def _ticket(tid: int, rng: random.Random) -> tuple[Ticket, TicketMetricSet | None]:
    span = int((END - START).total_seconds() // 60)
    created = START + timedelta(minutes=rng.randrange(span))
    severity = rng.choices((1, 2, 3, 4, 5), weights=(5, 15, 40, 25, 15))[0]
    target = DEFAULT_POLICY.targets[severity]
    due = first_response_due(created, severity, DEFAULT_POLICY)
    reply = created + timedelta(
        minutes=rng.randrange(int(target.duration.total_seconds() // 60 * 2) + 30)
    )
    met = reply <= due
    kind = rng.random()
    fields: dict[int, object] = {SEV: f"sev_{severity}", DUE: format_utc(due)}
    metric = None
    if kind < 0.70:  # settled with the outcome fields
        fields[FR_AT] = format_utc(reply)
        if not met:
            late = target.schedule.between(due, reply)
            fields[LATE] = str(-(-late // timedelta(minutes=1)))
    elif kind < 0.95:  # from before the outcome fields: Zendesk's metric set
        minutes = int((reply - created).total_seconds() // 60)
        metric = TicketMetricSet(tid, 1, minutes, None)
    tag = "sla_met" if met else "sla_breached"
    if kind >= 0.95:
        tag = "sla_pending"  # stale: unknown
    return (
        Ticket(
            id=tid,
            subject="",
            status="solved",
            created_at=created,
            updated_stamp="",
            organization_id=1000 + rng.randrange(50),
            requester_id=None,
            tags=frozenset({tag, f"sev_{severity}"}),
            custom_fields=fields,
        ),
        metric,
    )


def run(tickets: int) -> ReportData:
    reader = ExportReader(SyntheticExport(tickets), min_interval=0)
    return collect(
        reader, fields=FIELDS, policy=DEFAULT_POLICY, start=START, end=END, now=NOW
    )


def read_only(tickets: int) -> int:
    reader = ExportReader(SyntheticExport(tickets), min_interval=0)
    return sum(1 for _ in reader.tickets(START))


def timed(fn, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def peak_mib(fn, *args) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--html", type=Path, help="also write the HTML report here")
    args = parser.parse_args()
    n, small = args.tickets, max(args.tickets // 10, 1)

    print(f"python {platform.python_version()}, {platform.machine()}, {n:,} tickets")
    t_read, _ = timed(read_only, n)
    t_small, _ = timed(run, small)
    t_full, data = timed(run, n)
    view = ReportView(
        data=data,
        account="synthetic",
        ticket_url=lambda tid: f"https://synthetic.zendesk.com/agent/tickets/{tid}",
        organization_names={1000 + i: f"Customer {i:02d}" for i in range(50)},
    )
    t_html, html = timed(render_html, view)
    a = data.attainment
    print(
        f"counted {data.counted:,}: met {a.overall.met:,}, breached {a.overall.breached:,},"
        f" unknown {a.overall.unknown:,}; {len(a.breaches):,} breach rows"
    )
    print(f"read only (baseline)  {t_read:7.2f} s  {t_read / n * 1e6:6.1f} µs/ticket")
    print(
        f"report pass, {small:>7,} {t_small:7.2f} s  {t_small / small * 1e6:6.1f} µs/ticket"
    )
    print(
        f"report pass, {n:>7,} {t_full:7.2f} s  {t_full / n * 1e6:6.1f} µs/ticket"
        f"  ({t_full / t_read:.2f}× reading alone; {t_full / t_small:.1f}× the tenth)"
    )
    print(
        f"HTML render           {t_html:7.2f} s  ({len(html) / 2**20:.1f} MiB of HTML)"
    )
    m_small = peak_mib(run, small)
    m_full = peak_mib(run, n)
    m_read = peak_mib(read_only, n)
    print(
        f"peak traced memory: read only {m_read:.1f} MiB; report {small:,}: {m_small:.1f} MiB;"
    )
    print(
        f"                    report {n:,}: {m_full:.1f} MiB ({m_full / m_small:.1f}× the tenth)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {rss:.0f} MiB (includes matplotlib and the HTML string)")
    if args.html:
        args.html.write_text(html)
        print(f"wrote {args.html}")


if __name__ == "__main__":
    main()
