"""The fault suite (issue 9): the real service under faults, checked for lost work.

Usage: .venv/bin/python bench/fault_suite.py [SCENARIO ...] [--quick] [--record]

Scenarios (all but soak when none is named): burst, crash, scale-out, hostile,
slow-clients, soak (full mode only). Each prints one summary line; a full run
appends a dated row to docs/benchmarks.md ("Fault suite"), a quick one only
with --record. Exits 1 when a scenario lost work (a ticket without the SLA
fields and status tag it should carry, an entitled SEV 1/2 ticket without
exactly one page marker and one open incident, an incident opened twice, a
double write). The quick modes run in CI through tests/faults.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults.harness import Result, record  # noqa: E402

SCENARIOS = {
    "burst": "bench.faults.burst",
    "crash": "bench.faults.crash",
    "scale-out": "bench.faults.scale_out",
    "hostile": "bench.faults.hostile",
    "slow-clients": "bench.faults.slow_clients",
    "soak": "bench.faults.soak",
}
FULL_ONLY = {"soak"}


def run_scenario(name: str, *, quick: bool) -> Result:
    """Run one scenario and return its result (no printing, no recording)."""
    module = importlib.import_module(SCENARIOS[name])
    result: Result = module.run(quick)
    return result


def failed(result: Result) -> bool:
    """True when the scenario lost work (what the tests assert)."""
    return bool(
        result.lost or result.unpaged or result.double_incidents or result.double_writes
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []])
    parser.add_argument("--quick", action="store_true", help="the CI scale")
    parser.add_argument(
        "--record", action="store_true", help="append quick results too"
    )
    args = parser.parse_args()
    names = args.scenarios or [n for n in SCENARIOS if n not in FULL_ONLY]
    bad = False
    for name in names:
        if args.quick and name in FULL_ONLY:
            print(f"fault_suite {name}: full mode only, skipped")
            continue
        started = time.monotonic()
        result = run_scenario(name, quick=args.quick)
        print(f"{result.line()} [{time.monotonic() - started:.0f} s]", flush=True)
        for note in result.notes:
            print(f"  {note}")
        if args.record or not args.quick:
            record(result)
        bad = bad or failed(result)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
