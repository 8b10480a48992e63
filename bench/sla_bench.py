"""Benchmark the SLA engine against businesstimedelta on the same inputs, in one run.

(a) the seed policy: a mix of severities 1-5, created_at random over 2026;
(b) New York 09:00-17:00 Mon-Fri with 10 holidays a year, targets of 1-8 business hours.
Prints ops/s, µs per call and the speed ratio, then where businesstimedelta's answers
differ from ours (its overnight rule gets the 05:00->01:00 core window wrong).

Run: .venv/bin/python bench/sla_bench.py [--n 20000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import businesstimedelta as btd
import pytz

from sidecar.sla import DAY_NAMES, DEFAULT_POLICY, Schedule, first_response_due

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
US_HOLIDAYS = [
    date.fromisoformat(d)
    for d in [
        "2026-01-01",
        "2026-01-19",
        "2026-02-16",
        "2026-05-25",
        "2026-07-03",
        "2026-09-07",
        "2026-10-12",
        "2026-11-11",
        "2026-11-26",
        "2026-12-25",
        "2027-01-01",
        "2027-01-18",
        "2027-02-15",
        "2027-05-31",
        "2027-07-05",
        "2027-09-06",
        "2027-10-11",
        "2027-11-11",
        "2027-11-25",
        "2027-12-24",
    ]
]


def best_seconds(func: Callable[[], object], *, repeat: int) -> float:
    """Return the fastest of ``repeat`` timed runs of ``func``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def report(label: str, n: int, ours: float, theirs: float) -> float:
    """Print one comparison line and return the ratio."""
    ratio = theirs / ours
    print(f"{label}")
    print(
        f"  sidecar.sla        {n / ours:12,.0f} ops/s  {ours / n * 1e6:8.2f} µs/call"
    )
    print(
        f"  businesstimedelta  {n / theirs:12,.0f} ops/s  "
        f"{theirs / n * 1e6:8.2f} µs/call"
    )
    print(f"  ratio              {ratio:12.1f}x")
    return ratio


def seed_inputs(rng: random.Random, n: int) -> list[tuple[datetime, int]]:
    """Return (created_at, severity) pairs over 2026, microseconds included."""
    span = 365 * 86_400 * 10**6
    return [
        (YEAR_START + timedelta(microseconds=rng.randrange(span)), rng.randint(1, 5))
        for _ in range(n)
    ]


def btd_seed_policy() -> Callable[[datetime, int], datetime]:
    """Build the seed policy the way businesstimedelta expresses it."""
    core = btd.WorkDayRule(
        start_time=clock(5),
        end_time=clock(1),
        working_days=[0, 1, 2, 3, 4],
        tz=pytz.utc,
    )
    targets = {
        3: btd.BusinessTimeDelta(core, hours=6),
        4: btd.BusinessTimeDelta(core, hours=24),
        5: btd.BusinessTimeDelta(core, hours=24),
    }
    plain = {1: timedelta(hours=1), 2: timedelta(hours=2)}

    def due(created: datetime, severity: int) -> datetime:
        if severity in plain:
            return created + plain[severity]
        return (created + targets[severity]).astimezone(UTC)

    return due


def bench_seed(inputs: Sequence[tuple[datetime, int]], repeat: int) -> dict[str, Any]:
    """Time (a) for both engines and collect where they disagree."""
    theirs_due = btd_seed_policy()
    ours = best_seconds(
        lambda: [first_response_due(c, s) for c, s in inputs], repeat=repeat
    )
    theirs = best_seconds(lambda: [theirs_due(c, s) for c, s in inputs], repeat=repeat)
    ratio = report("(a) seed policy, severities 1-5 mixed", len(inputs), ours, theirs)
    wrong = [
        (c, s, first_response_due(c, s), theirs_due(c, s))
        for c, s in inputs
        if first_response_due(c, s) != theirs_due(c, s)
    ]
    core = sum(1 for _, s in inputs if s >= 3)
    return {
        "ours_us": ours / len(inputs) * 1e6,
        "ratio": ratio,
        "wrong": wrong,
        "core": core,
    }


def bench_new_york(rng: random.Random, n: int, repeat: int) -> dict[str, Any]:
    """Time (b) for both engines and collect where they disagree."""
    ny = Schedule(
        "ny",
        timezone="America/New_York",
        windows={day: ["09:00-17:00"] for day in DAY_NAMES[:5]},
        holidays=US_HOLIDAYS,
    )
    tz = pytz.timezone("America/New_York")
    rule = btd.Rules(
        [
            btd.WorkDayRule(start_time=clock(9), end_time=clock(17), tz=tz),
            btd.HolidayRule(US_HOLIDAYS, tz=tz),
        ]
    )
    hours = (1, 2, 4, 6, 8)
    span = 365 * 86_400 * 10**6
    inputs = [
        (
            YEAR_START + timedelta(microseconds=rng.randrange(span)),
            timedelta(hours=rng.choice(hours)),
        )
        for _ in range(n)
    ]
    deltas = {h: btd.BusinessTimeDelta(rule, hours=h) for h in hours}
    their_inputs = [(c, deltas[d // timedelta(hours=1)]) for c, d in inputs]
    ours = best_seconds(lambda: [ny.add(c, d) for c, d in inputs], repeat=repeat)
    theirs = best_seconds(lambda: [c + d for c, d in their_inputs], repeat=repeat)
    ratio = report(
        "(b) New York 09:00-17:00, 10 holidays a year", len(inputs), ours, theirs
    )
    mismatches = sum(
        ny.add(c, d) != (c + bd).astimezone(UTC)
        for (c, d), (_, bd) in zip(inputs, their_inputs, strict=True)
    )
    return {"ours_us": ours / n * 1e6, "ratio": ratio, "mismatches": mismatches}


def main() -> None:
    """Run both benchmarks and print the results and the correctness note."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="inputs per benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"n={args.n}, best of {args.repeat}"
    )
    seed = bench_seed(seed_inputs(rng, args.n), args.repeat)
    ny = bench_new_york(rng, args.n, args.repeat)
    print()
    print(
        f"targets: (a) ≤ 5 µs/call -> {seed['ours_us']:.2f} µs "
        f"{'met' if seed['ours_us'] <= 5 else 'MISSED'}; "
        f"(b) ≥ 25x -> {ny['ratio']:.1f}x {'met' if ny['ratio'] >= 25 else 'MISSED'}"
    )
    print(
        f"(b) answers that differ from businesstimedelta: "
        f"{ny['mismatches']} of {args.n}"
    )
    wrong = seed["wrong"]
    print(
        f"(a) businesstimedelta differs on {len(wrong)} of {seed['core']} core-hours "
        "tickets (SEV3-5): with an overnight WorkDayRule (05:00->01:00) a ticket "
        "created inside a window starts at the next day's 05:00, and one created "
        "00:00-01:00 (still in the previous day's window) waits for 05:00. "
        "Examples (created, severity, ours, theirs):"
    )
    for label, moment, severity in (
        ("Mon 10:00", datetime(2026, 11, 23, 10, tzinfo=UTC), 3),
        ("Mon 10:00", datetime(2026, 11, 23, 10, tzinfo=UTC), 4),
        ("Tue 00:30", datetime(2026, 11, 24, 0, 30, tzinfo=UTC), 3),
        ("Sat 00:30", datetime(2026, 11, 28, 0, 30, tzinfo=UTC), 3),
        ("Fri 22:00", datetime(2026, 11, 27, 22, tzinfo=UTC), 4),
    ):
        ours_due = first_response_due(moment, severity, DEFAULT_POLICY)
        their_due = btd_seed_policy()(moment, severity)
        print(
            f"  {label} {moment:%Y-%m-%d %H:%M}Z SEV{severity}: "
            f"{ours_due:%a %Y-%m-%d %H:%M}Z vs {their_due:%a %Y-%m-%d %H:%M}Z"
        )


if __name__ == "__main__":
    main()
