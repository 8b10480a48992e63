"""The retry policies of the two lanes (sidecar.tasks.jobs.retry_policy)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sidecar.tasks.jobs import (
    BASE_DELAY_SECONDS,
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    URGENT_MAX_DELAY_SECONDS,
    Lane,
    retry_delay,
    retry_policy,
)

bases = st.floats(min_value=0.01, max_value=120.0)
attempts = st.integers(min_value=1, max_value=200)


def test_the_two_sequences() -> None:
    """Ordinary: 5, 10, 20, 40, 80 s …; urgent: 1, 2, 4, 8 … 30 s."""
    ordinary, urgent = retry_policy(Lane.NORMAL), retry_policy(Lane.URGENT)
    assert [ordinary.delay(n) for n in range(1, 6)] == [5, 10, 20, 40, 80]
    assert [urgent.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert ordinary.attempts == MAX_ATTEMPTS and urgent.attempts == 27
    assert (ordinary.span(), urgent.span()) == (635, 661)
    assert retry_delay(3) == ordinary.delay(3) == 20


@given(bases, attempts)
def test_urgent_never_waits_longer_than_ordinary(base: float, attempt: int) -> None:
    urgent = retry_policy(Lane.URGENT, base=base)
    ordinary = retry_policy(Lane.NORMAL, base=base)
    assert urgent.delay(attempt) <= ordinary.delay(attempt)
    assert urgent.delay(attempt) <= URGENT_MAX_DELAY_SECONDS
    assert ordinary.delay(attempt) <= MAX_DELAY_SECONDS


@given(bases)
def test_urgent_gives_up_no_sooner_and_not_much_later(base: float) -> None:
    urgent = retry_policy(Lane.URGENT, base=base)
    ordinary = retry_policy(Lane.NORMAL, base=base)
    assert urgent.attempts >= MAX_ATTEMPTS
    assert urgent.span() >= ordinary.span()
    # The fewest attempts that do: one fewer would not span it.
    if urgent.attempts > MAX_ATTEMPTS:
        assert urgent.span() - urgent.delay(urgent.attempts - 1) < ordinary.span()


@given(bases, attempts, st.floats(min_value=0.001, max_value=10_000.0))
def test_retry_after_is_a_floor_in_both_lanes(
    base: float, attempt: int, retry_after: float
) -> None:
    for lane in Lane:
        policy = retry_policy(lane, base=base)
        delay = policy.delay(attempt, retry_after=retry_after)
        assert delay >= min(retry_after, MAX_DELAY_SECONDS)
        assert delay <= max(policy.cap, min(retry_after, MAX_DELAY_SECONDS))


def test_a_faster_configured_base_speeds_up_pages_too() -> None:
    assert retry_policy(Lane.URGENT, base=0.1).delay(1) == 0.1
    assert retry_policy(Lane.URGENT, base=BASE_DELAY_SECONDS * 6).delay(1) == 1
