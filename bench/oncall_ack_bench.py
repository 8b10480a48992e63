"""On-call's acknowledgement back on the ticket, against the page latency of the same run (issue 22).

In-process (tests/inprocess.py, via tests/e2e/conftest.running_stack): the
app and one worker, the strict fake Zendesk (firing the trigger webhook after
every write, as Zendesk does) and the fake PagerDuty holding a V3 webhook
subscription to the sidecar, a SQLite queue. Zendesk's rate window and the
sidecar's budget window are scaled to 2 s (as bench/page_storm_bench.py
does: the default shares, 30 updates a window), so that back-to-back rounds
measure latency, not the minute's update budget (a spent budget holds the
page's record and the note alike until the window moves; the note waits in
the reserve, see docs/decisions.md). For each of ``--rounds`` SEV 1 tickets,
one after the other:

- page latency: from just before the ticket's webhook POST to the fake
  PagerDuty's receipt of its trigger (polled every 5 ms);
- ack → note: from just before the fake PagerDuty sends the signed
  incident.acknowledged webhook (as when the engineer taps "Acknowledge") to
  the private note "On-call acknowledged" on the fake Zendesk ticket (polled
  every 5 ms); the tag lands in the same write.

    .venv/bin/python bench/oncall_ack_bench.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import Stack, running_stack
from tests.support import wait_for

WINDOW = 2.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def poll(predicate: object, timeout: float = 30.0) -> float:
    """Poll every 5 ms until ``predicate()`` is true; return the instant it was seen."""
    assert callable(predicate)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError("not seen in time")


def one_round(stack: Stack) -> tuple[float, float]:
    """(page latency, ack → note) in seconds for one new SEV 1 ticket."""
    tid = stack.ticket(severity="sev_1", subject="Bench: pushes fail")
    key = f"zendesk-acme-ticket-{tid}"
    started = time.perf_counter()
    stack.notify(tid)
    paged_at = poll(
        lambda: any(e.get("dedup_key") == key for e in stack.pagerduty.triggers())
    )
    # The page is recorded on the ticket before the engineer's phone rings twice.
    wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(tid).tags, timeout=20)
    acked = time.perf_counter()
    (delivery,) = stack.pagerduty.acknowledge(key, by="Dana Oncall")
    assert delivery.status == 202, delivery.answer
    noted = poll(
        lambda: any(
            not c.public and "On-call acknowledged" in c.body
            for c in stack.zendesk.comments(tid)
        )
    )
    assert "oncall_acked" in stack.zendesk.ticket(tid).tags
    return paged_at - started, noted - acked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    pages: list[float] = []
    acks: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Path(tmp),
            pagerduty_webhooks=True,
            zendesk_options={"rate_window_seconds": WINDOW},
            SIDECAR_ZENDESK_BUDGET_WINDOW=str(WINDOW),
        ) as stack,
    ):
        one_round(stack)  # warm-up: first clients, first queue writes
        for _ in range(args.rounds):
            page, ack = one_round(stack)
            pages.append(page)
            acks.append(ack)
        deliveries = [d.seconds for d in stack.pagerduty.deliveries if d.status == 202]
    print("| measure | n | p50 s | p99 s | max s |")
    print("|---|---|---|---|---|")
    for name, values in (
        ("page latency (webhook → trigger at PagerDuty)", pages),
        ("ack → private note on the ticket", acks),
        ("  of which: the signed webhook's answer (202)", deliveries),
    ):
        print(
            f"| {name} | {len(values)} | {statistics.median(values):.3f} "
            f"| {pct(values, 0.99):.3f} | {max(values):.3f} |"
        )
    ratio = statistics.median(acks) / statistics.median(pages)
    print(f"\nack → note p50 / page p50 = {ratio:.2f}")


if __name__ == "__main__":
    main()
