"""The order the suite's units are handed to xdist processes (tests/conftest.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import LONG_TESTS, expected_seconds, ranked

weights = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.sampled_from([0.0, 0.0, 1.0, 5.0, 30.0]),
    max_size=30,
)


@given(weights, st.integers(1, 10))
def test_every_unit_is_handed_out_once(weight: dict[str, float], workers: int) -> None:
    units = list(weight)
    assert sorted(ranked(units, weight, workers)) == sorted(units)


@given(weights, st.integers(1, 10))
def test_long_units_come_heaviest_first_and_quick_ones_keep_their_order(
    weight: dict[str, float], workers: int
) -> None:
    order = ranked(list(weight), weight, workers)
    long_units = [u for u in order if weight[u] > 0]
    assert [weight[u] for u in long_units] == sorted(
        (weight[u] for u in long_units), reverse=True
    )
    assert [u for u in order if weight[u] == 0] == [u for u in weight if weight[u] == 0]


@given(weights, st.integers(1, 10))
def test_each_process_second_unit_is_quick_while_quick_units_last(
    weight: dict[str, float], workers: int
) -> None:
    """Units workers..2*workers-1 (each process's second) are quick when there are enough."""
    order = ranked(list(weight), weight, workers)
    long_count = sum(1 for w in weight.values() if w > 0)
    quick_count = len(weight) - long_count
    second = order[workers : 2 * workers] if long_count > workers else []
    assert all(weight[u] == 0 for u in second[:quick_count])
    assert (
        order[: min(workers, long_count)]
        == [u for u in order if weight[u] > 0][: min(workers, long_count)]
    )


def test_the_longest_prefix_decides_a_tests_seconds() -> None:
    nodeid = "tests/faults/test_fault_suite.py::test_hostile_upstream_loses_nothing"
    assert (
        expected_seconds(nodeid)
        == LONG_TESTS["tests/faults/test_fault_suite.py::test_hostile_upstream"]
    )
    assert (
        expected_seconds("tests/faults/test_fault_suite.py::test_burst")
        == (LONG_TESTS["tests/faults/test_fault_suite.py::"])
    )
    assert expected_seconds("tests/unit/test_plan.py::test_anything") == 0.0
