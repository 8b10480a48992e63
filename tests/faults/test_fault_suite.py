"""The fault suite's quick modes (bench/faults): nothing lost, nothing paged twice.

Each test runs one scenario at CI scale against the real processes and the
strict fakes and asserts only on correctness: no ticket lost, no entitled SEV
1/2 ticket unpaged, no incident opened twice, no double write. The figures
(ingest rate, drain time, calls per ticket) are printed, never asserted; run
``pytest -m faults -s`` to see them, and bench/fault_suite.py for the full mode.
"""

from __future__ import annotations

import pytest

from bench.fault_suite import run_scenario
from bench.faults.harness import Result

pytestmark = [pytest.mark.faults, pytest.mark.e2e]
# The heavy scenarios (these and tests/e2e/test_budget_burst.py) run in three
# xdist groups, one after another within each (pyproject: loadgroup): at most
# three at once, and no group much longer than the suite's longest single test.
HEAVY_1 = pytest.mark.xdist_group("heavy-1")
HEAVY_2 = pytest.mark.xdist_group("heavy-2")
HEAVY_3 = pytest.mark.xdist_group("heavy-3")


def _run(name: str) -> Result:
    result = run_scenario(name, quick=True)
    print(result.line())
    for note in result.notes:
        print(f"  {note}")
    return result


def _assert_nothing_lost(result: Result) -> None:
    assert result.lost == 0, result.notes
    assert result.unpaged == 0, result.notes
    assert result.double_incidents == 0
    assert result.double_writes == 0


@HEAVY_3
def test_burst_loses_nothing() -> None:
    """Duplicated, shuffled signed events: every ticket right, each write once."""
    _assert_nothing_lost(_run("burst"))


@HEAVY_3
def test_sigkilled_worker_loses_nothing() -> None:
    """The worker SIGKILLed during the burst and inside a page: one page each."""
    _assert_nothing_lost(_run("crash"))


@HEAVY_3
@pytest.mark.redis
def test_two_web_and_three_workers_on_redis_lose_nothing() -> None:
    """Scale-out on the real Redis: processes do not step on each other."""
    _assert_nothing_lost(_run("scale-out"))


@HEAVY_1
def test_hostile_upstream_loses_nothing() -> None:
    """Zendesk 429/503/hangs, PagerDuty down then slow: all comes right in the end."""
    _assert_nothing_lost(_run("hostile"))


@HEAVY_2
def test_slow_clients_leave_every_webhook_answered() -> None:
    """10 slow uploads: every normal webhook still answered 202 within 10 s."""
    result = _run("slow-clients")
    assert result.lost == 0, result.figures
