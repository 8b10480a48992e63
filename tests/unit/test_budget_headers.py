"""Zendesk's rate-limit headers in every spelling seen, read by the API budget.

The spellings and where each was seen are in docs/decisions.md, "Recorded Zendesk
answers". HTTP header names are case-insensitive (RFC 9110 §5.1).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.errors import BudgetWait
from sidecar.zendesk.budget import (
    Budget,
    Shares,
    account_headroom,
    endpoint_headroom,
)


class _Bucket:
    """An in-memory bucket that never refuses (only Zendesk's headers hold work here)."""

    def put(self, item: object) -> bool:
        return True

    def waiting(self, item: object) -> int:
        return 0

    def leak(self, current_timestamp: int | None = None) -> int:
        return 0

    def count(self) -> int:
        return 0


NOW_MS = 1_800_000_000_000


def _budget() -> Budget:
    return Budget(
        Shares(requests=100, updates=30, window_seconds=60),
        bucket=lambda name, limit, window: _Bucket(),
        clock=lambda: NOW_MS,
    )


# Each as recorded or documented (docs/decisions.md, "Recorded Zendesk answers").
ACCOUNT_SPELLINGS = [
    pytest.param(
        {
            "x-rate-limit": "700",
            "rate-limit": "700",
            "x-rate-limit-remaining": "20",
            "rate-limit-remaining": "20",
            "rate-limit-reset": "59",
        },
        id="recorded-2023-node-zendesk",
    ),
    pytest.param(
        {"rate-limit": "700", "rate-limit-remaining": "20", "rate-limit-reset": "59"},
        id="rate-limit-only",
    ),
    pytest.param(
        {
            "X-Rate-Limit": "700",
            "X-Rate-Limit-Remaining": "20",
            "ratelimit-limit": "700",
            "ratelimit-remaining": "20",
            "ratelimit-reset": "59",
        },
        id="documented",
    ),
    pytest.param(
        {
            "RateLimit-Limit": "700",
            "RateLimit-Remaining": "20",
            "RateLimit-Reset": "59",
        },
        id="capitalised",
    ),
    pytest.param(
        {
            "X-Rate-Limit": "700",
            "X-Rate-Limit-Remaining": "20",
            "X-Rate-Limit-Reset": "59",
        },
        id="x-rate-limit-family",
    ),
]


@pytest.mark.parametrize("headers", ACCOUNT_SPELLINGS)
def test_every_spelling_of_the_account_headers_gives_the_headroom(
    headers: dict[str, str],
) -> None:
    """Each spelling gives 20 of 700 remaining and a 59 s reset, not 1 s."""
    assert account_headroom(headers) == (20.0, 700.0, 59.0)


@pytest.mark.parametrize("headers", ACCOUNT_SPELLINGS)
def test_nearly_out_in_any_spelling_holds_ordinary_work_for_the_whole_reset(
    headers: dict[str, str],
) -> None:
    """20 of 700 left, resetting in 59 s: ordinary work waits 59 s (not 1 s)."""
    budget = _budget()
    budget.observe(headers, status=200)
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=False, urgent=False)
    assert waited.value.retry_after == pytest.approx(59.0)


UPDATE_SPELLINGS = [
    "Zendesk-RateLimit-tickets-update",
    "zendesk-ratelimit-tickets-update",
    "ZENDESK-RATELIMIT-TICKETS-UPDATE",
    "Zendesk-Rate-Limit-tickets-update",
    "X-Zendesk-RateLimit-tickets-update",
]
UPDATE_VALUES = [
    "total=100; remaining=4; resets=59",
    "total=100;remaining=4;resets=59",
    "Total=100; Remaining=4; Resets=59",
    "total=100, remaining=4, resets=59",
    " total = 100 ; remaining = 4 ; resets = 59 ",
]


@pytest.mark.parametrize("name", UPDATE_SPELLINGS)
@pytest.mark.parametrize("value", UPDATE_VALUES)
def test_every_spelling_of_the_ticket_update_header_holds_updates(
    name: str, value: str
) -> None:
    """`Zendesk-RateLimit-tickets-update` in any spelling: updates wait 59 s, reads go."""
    assert endpoint_headroom({name: value}, "tickets-update") == (4.0, 100.0, 59.0)
    budget = _budget()
    budget.observe({name: value}, status=200)
    budget.take(update=False, urgent=False)
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=True, urgent=False)
    assert waited.value.retry_after == pytest.approx(59.0)


def test_a_429_waits_for_retry_after_even_when_the_account_headers_say_less() -> None:
    """A 429's Retry-After is a floor: headers with an earlier reset never shorten it."""
    budget = _budget()
    budget.observe(
        {
            "Retry-After": "45",
            "x-rate-limit": "700",
            "x-rate-limit-remaining": "0",
            "rate-limit-reset": "2",
        },
        status=429,
    )
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=False, urgent=False)
    assert waited.value.retry_after == pytest.approx(45.0)


def test_headers_without_a_reset_hold_for_the_window_not_one_second() -> None:
    """Nearly out and no reset given in any spelling: wait the share's window (60 s)."""
    budget = _budget()
    budget.observe({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "3"}, status=200)
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=False, urgent=False)
    assert waited.value.retry_after == pytest.approx(60.0)


def test_unrelated_or_malformed_headers_are_no_headroom() -> None:
    """Headers that say nothing readable leave the headroom unknown (None), never a guess."""
    assert account_headroom({}) is None
    assert (
        account_headroom({"x-rate-limit": "lots", "x-rate-limit-remaining": "9"})
        is None
    )
    assert (
        account_headroom({"x-rate-limit": "0", "x-rate-limit-remaining": "0"}) is None
    )
    assert endpoint_headroom({}, "tickets-update") is None
    assert (
        endpoint_headroom(
            {"zendesk-ratelimit-tickets-update": "remaining=4"}, "tickets-update"
        )
        is None
    )
    # Another endpoint's header is not the update headroom.
    assert (
        endpoint_headroom(
            {"zendesk-ratelimit-tickets-index": "total=100; remaining=1; resets=9"},
            "tickets-update",
        )
        is None
    )


@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "x-rate-limit",
                "rate-limit",
                "ratelimit-limit",
                "x-rate-limit-remaining",
                "rate-limit-remaining",
                "ratelimit-remaining",
                "rate-limit-reset",
                "ratelimit-reset",
                "retry-after",
                "zendesk-ratelimit-tickets-update",
            ]
        ).flatmap(lambda k: st.sampled_from([k, k.upper(), k.title()])),
        st.text(max_size=40),
        max_size=8,
    ),
    status=st.sampled_from([200, 429, None]),
)
def test_any_header_values_are_read_or_ignored_never_raise(
    headers: dict[str, str], status: int | None
) -> None:
    """Whatever the values, observe() holds for a finite, non-negative time or not at all."""
    budget = _budget()
    budget.observe(headers, status=status)
    for update in (False, True):
        try:
            budget.take(update=update, urgent=False)
        except BudgetWait as exc:
            assert exc.retry_after is not None and 0 < exc.retry_after < 10**7
