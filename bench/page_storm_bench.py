"""Page latency: idle baseline, a storm of SEV 1 tickets, and a hostile Zendesk (issue 19).

In-process (tests/inprocess.py): the app and one worker (4 normal + 2 urgent
threads, as `sidecar worker`) on threads, the strict fake Zendesk and
PagerDuty over HTTP on 127.0.0.1, a SQLite queue, the budget window scaled to
2 s (20 updates, 200 requests a window). Latency: from just before the
webhook's POST to the fake PagerDuty's receipt of the ticket's first trigger
(polled every 10 ms). Rows, all in one run:

- baseline: one SEV 1 at a time on an idle, healthy stack (``--idle`` of them);
- storm: 30 SEV 1 tickets at once; also the busiest window of ticket writes;
- hostile: 12 SEV 1 tickets whose every Zendesk call fails until cleared
  (a quarter each: reads held 30 s, 429 with Retry-After, 429 without, 503),
  the organization cached from an earlier ticket; pages counted within 5 s,
  then Zendesk recovers and the time until every ticket converged.

    .venv/bin/python bench/page_storm_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import ROUTING_KEY, SEVERITY_FIELD, define_fields
from tests.e2e.test_budget_burst import max_in_window
from tests.e2e.test_urgent_storm import (
    ARRIVAL_JITTER,
    WINDOW,
    PageClock,
    converged,
    latencies,
    send_storm,
    sidecar_config,
)
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.inprocess import running_sidecar
from tests.support import wait_for


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float], extra: str = "") -> str:
    if not values:
        return f"| {name} | 0 | — | — | — | {extra} |"
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.2f} | {pct(values, 0.99):.2f} "
        f"| {max(values):.2f} | {extra} |"
    )


def one_round(workdir: Path, idle: int) -> list[str]:
    with (
        FakeZendesk(rate_window_seconds=WINDOW) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        define_fields(zendesk)
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )

        def sev1(n: int) -> list[int]:
            return [
                zendesk.add_ticket(
                    organization_id=org, custom_fields={SEVERITY_FIELD: "sev_1"}
                )
                for _ in range(n)
            ]

        config = sidecar_config(workdir, zendesk, pagerduty)
        rows = []
        with (
            running_sidecar(config) as sidecar,
            PageClock(pagerduty).running() as clock,
        ):
            # Baseline: one at a time, after a quiet second.
            base: list[float] = []
            for tid in sev1(idle):
                time.sleep(1.0)
                sent = send_storm(sidecar, zendesk, [tid])
                wait_for(lambda s=sent: set(s) <= set(clock.first), timeout=20)
                base += latencies(sent, clock.first)
            rows.append(row("idle, one SEV 1 at a time (baseline)", base))
            # Storm: 30 at once.
            time.sleep(2 * WINDOW)
            storm = sev1(30)
            zendesk.reset_calls()
            sent = send_storm(sidecar, zendesk, storm)
            wait_for(lambda: set(sent) <= set(clock.first), timeout=30)
            wait_for(lambda: converged(zendesk, storm), timeout=60, interval=0.2)
            puts = [c.at for c in zendesk.calls(method="PUT")]
            busiest = max_in_window(puts, WINDOW - ARRIVAL_JITTER)
            rows.append(
                row(
                    "storm: 30 SEV 1 at once",
                    latencies(sent, clock.first),
                    f"busiest {WINDOW - ARRIVAL_JITTER:g} s window {busiest} writes (share 20)",
                )
            )
            # Hostile: every call of 12 tickets fails until Zendesk recovers.
            time.sleep(2 * WINDOW)
            hostile = sev1(12)
            for i, tid in enumerate(hostile):
                path = f"/tickets/{tid}.json"
                if i % 4 == 0:
                    zendesk.delay(30.0, path_contains=path)
                elif i % 4 == 1:
                    zendesk.fail_next(10**6, 429, retry_after=2, path_contains=path)
                elif i % 4 == 2:
                    zendesk.fail_next(10**6, 429, path_contains=path)
                else:
                    zendesk.fail_next(10**6, 503, path_contains=path)
            sent = send_storm(sidecar, zendesk, hostile)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not set(sent) <= set(clock.first):
                time.sleep(0.05)
            paged = [x for x in latencies(sent, clock.first) if x <= 5.0]
            recovered = time.monotonic()
            zendesk.clear_faults()
            try:
                wait_for(lambda: converged(zendesk, hostile), timeout=60, interval=0.2)
                took = f"converged {time.monotonic() - recovered:.1f} s after recovery"
            except TimeoutError:
                took = "not converged within 180 s of recovery"
            opened = len([i for i in pagerduty.incidents() if i.dedup_key in sent])
            rows.append(
                row(
                    "hostile: 12 SEV 1, Zendesk failing",
                    paged,
                    f"{len(paged)}/12 paged within 5 s; {opened} incidents; {took}",
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--idle", type=int, default=5)
    args = parser.parse_args()
    print("| row | n | p50 s | p99 s | max s | notes |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for line in one_round(Path(tmp), args.idle):
                print(line, flush=True)


if __name__ == "__main__":
    main()
