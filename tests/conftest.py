"""Settings for the whole test suite, and the order its long tests start in."""

from __future__ import annotations

import pytest
from hypothesis import settings

# Hypothesis' per-example deadline is a timing assertion: on a loaded 2-core CI
# machine it fails correct code. Performance is measured in bench/, not here.
settings.register_profile("sidecar", deadline=None)
settings.load_profile("sidecar")

# Tests that take long by nature, with their seconds on the 2-core machine
# (docs/benchmarks.md "The suite's time"): leases that must lapse after a
# SIGKILL, real processes, brute-force oracles. Parametrized variants count
# each. They start first, longest first, so that no long test begins when the
# rest of the suite is done (xdist hands out work in collection order; pyproject
# turns off its reordering by group size). A prefix matches a test's node id;
# list a module with a module-scoped fixture whole ("path::") or as an
# xdist_group, so that its tests stay together and the fixture is built once.
LONG_TESTS: dict[str, float] = {
    "tests/e2e/test_contract_fidelity.py::test_an_organization_with_1500": 39,
    "tests/e2e/test_budget_burst.py::test_a_burst_keeps_to_the_share": 35,
    "tests/faults/test_fault_suite.py::test_hostile_upstream": 31,
    "tests/e2e/test_crash_timers.py::test_sev1_tickets_sharing": 28,
    "tests/faults/test_fault_suite.py::": 18,
    "tests/unit/sla/test_schedule_properties.py::test_add_matches_brute_force": 18,
    "tests/faults/test_fault_suite.py::test_slow_clients_leave": 13,
    "tests/e2e/test_crash_paging.py::": 11,
    "tests/unit/sla/test_schedule_properties.py::test_between_matches_brute": 10,
    "tests/e2e/test_ingest.py::test_serve_runs_web_and_worker": 10,
    "tests/e2e/test_urgent_storm.py::": 7,
    "tests/unit/test_deploy.py::test_promtool_accepts": 7,
    "tests/e2e/test_reconcile.py::test_untouched_ticket_flips": 8,
    "tests/e2e/test_reconcile.py::test_rate_limit_storm": 6,
    "tests/adapters/test_queue_outage.py::test_a_worker_waits_for_a_closed": 8,
    "tests/adapters/test_cli_bulk.py::test_backfill_1500_tickets": 5,
    "tests/adapters/test_bulk_budget.py::": 7,
    "tests/e2e/test_slow_clients.py::": 5,
    "tests/e2e/test_crash_timers.py::": 6,
    "tests/e2e/test_metrics.py::": 6,
    "tests/e2e/test_dashboard_metrics.py::": 7,
    "tests/e2e/test_report.py::": 5,
    "tests/e2e/test_backfill_share.py::": 6,
    "tests/e2e/test_api_budget.py::test_a_timer_flip_costs": 6,
    "tests/e2e/test_page_from_ticket.py::test_sigkill_during": 5,
    "tests/unit/sla/test_schedule_properties.py::test_segments_sum": 5,
    "tests/unit/sla/test_holiday_calendars.py::test_calendars_feed": 5,
    "tests/e2e/test_oncall.py::test_pagerduty_down_delays": 5,
    "tests/adapters/test_api_budget.py::test_processes_racing": 5,
    "tests/e2e/test_ingest.py::": 4,
    "tests/unit/sla/test_metrics_oracle.py::": 4,
    "tests/e2e/test_lanes.py::": 4,
    "tests/contract/test_funnel.py::": 4,
}


def expected_seconds(nodeid: str) -> float:
    """The longest LONG_TESTS prefix of ``nodeid`` gives its seconds; others ~0."""
    matches = [prefix for prefix in LONG_TESTS if nodeid.startswith(prefix)]
    return LONG_TESTS[max(matches, key=len)] if matches else 0.0


def _unit(item: pytest.Item) -> str:
    """What xdist hands out as one piece: an xdist_group, or a single test."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return "@" + str(mark.args[0] if mark.args else mark.kwargs.get("name"))
    return item.nodeid


def ranked(units: list[str], weight: dict[str, float], workers: int) -> list[str]:
    """``units`` in the order xdist should hand them out.

    The long units (weight > 0) first, heaviest first (ties in their given
    order), the others in their given order. Each xdist process is given its
    first two units at once, so units ``workers`` to ``2 * workers - 1`` are
    quick ones: otherwise a long unit would wait behind another long one while
    other processes had nothing to do.
    """
    position = {unit: n for n, unit in enumerate(units)}
    long_units = sorted(
        (u for u in units if weight.get(u, 0.0) > 0),
        key=lambda u: (-weight[u], position[u]),
    )
    quick_units = [u for u in units if weight.get(u, 0.0) <= 0]
    fillers, rest = quick_units[:workers], quick_units[workers:]
    return long_units[:workers] + fillers + long_units[workers:] + rest


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Put the long tests first (see ``ranked``); a unit's tests keep their order."""
    weight: dict[str, float] = {}
    for item in items:
        unit = _unit(item)
        weight[unit] = weight.get(unit, 0.0) + expected_seconds(item.nodeid)
    units = list(dict.fromkeys(map(_unit, items)))
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    rank = {unit: n for n, unit in enumerate(ranked(units, weight, workers))}
    items.sort(key=lambda item: rank[_unit(item)])
