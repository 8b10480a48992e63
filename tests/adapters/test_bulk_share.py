"""Backfill and replay leave live work its share of the Zendesk budget (issue 19, item 4).

Bulk work (the budget's ``bulk`` lane: backfill, replay) may use at most
``Shares.bulk`` of the ordinary part of each pool per window, and none while
live ordinary work of the same process waits for the pool. On the real stores
(SQLite file, Redis) with a clock the test moves; the property test runs on
pyrate-limiter's in-memory bucket (the same sliding-window contract).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrate_limiter import InMemoryBucket, Rate

from sidecar.config import Config
from sidecar.errors import BudgetWait, ConfigError
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.budget import (
    BULK,
    NORMAL,
    URGENT,
    YIELD_SECONDS,
    Budget,
    Shares,
    shares_from,
    sqlite_buckets,
)

# 10 updates a window: 2 reserved, 8 ordinary, of which bulk work may use 4.
SHARES = Shares(requests=100, updates=10, window_seconds=60, reserve=0.2, bulk=0.5)


def taken(budget: Budget, work: str, *, update: bool = True) -> bool:
    try:
        budget.take(update=update, work=work)
    except BudgetWait:
        return False
    return True


def test_the_parts_of_the_default_share() -> None:
    """Defaults: 30 updates a minute, 24 of them ordinary, 12 of those for bulk work."""
    shares = Shares()
    assert (shares.limit("updates"), shares.ordinary_limit("updates")) == (30, 24)
    assert shares.bulk_limit("updates") == 12
    assert shares.bulk_limit("requests") == 140
    assert Shares(updates=1, bulk=0.1).bulk_limit("updates") == 1  # never nothing


def test_bulk_work_stops_at_its_part_live_work_goes_on(queue: JobQueue) -> None:
    """A backfill gets 4 of the 8 ordinary updates; live work still gets the other 4."""
    budget = queue.budget(SHARES)
    assert [taken(budget, BULK) for _ in range(5)] == [True] * 4 + [False]
    assert [taken(budget, NORMAL) for _ in range(5)] == [True] * 4 + [False]
    assert taken(budget, URGENT) and taken(budget, URGENT)  # the reserve
    assert budget.bulk_usage()["updates"] == (4, 4)
    assert budget.usage()["updates"] == (10, 10)


def test_a_bulk_wait_says_it_is_bulk(queue: JobQueue) -> None:
    """The worker labels the wait with the kind of work (sidecar_zendesk_budget_waits)."""
    budget = queue.budget(SHARES)
    for _ in range(4):
        budget.take(update=True, work=BULK)
    with pytest.raises(BudgetWait) as waited:
        budget.take(update=True, work=BULK)
    assert (waited.value.pool, waited.value.lane) == ("updates", BULK)
    assert 0 < (waited.value.retry_after or 0) <= 60


def clocked(tmp_path: Path, shares: Shares = SHARES) -> tuple[Budget, list[int]]:
    now = [1_000_000]
    budget = Budget(
        shares, bucket=sqlite_buckets(str(tmp_path / "b.db")), clock=lambda: now[0]
    )
    return budget, now


def test_bulk_work_yields_to_live_work_that_waits(tmp_path: Path) -> None:
    """Live work refused at the ordinary part: bulk work waits until live work had its turn."""
    budget, now = clocked(
        tmp_path, Shares(requests=100, updates=4, window_seconds=1, reserve=0, bulk=0.5)
    )
    assert taken(budget, NORMAL) and taken(budget, NORMAL)
    assert taken(budget, BULK) and taken(budget, BULK)
    assert not taken(budget, NORMAL)  # live work now waits for the window
    now[0] += 1001  # the window has passed: the pool is free again...
    with pytest.raises(BudgetWait) as bulk_wait:
        budget.take(update=True, work=BULK)  # ...but its next places are live work's
    assert 0 < (bulk_wait.value.retry_after or 0) <= YIELD_SECONDS
    assert taken(budget, NORMAL, update=False)  # reads are another pool
    assert taken(budget, NORMAL)  # the live job, back from the queue
    now[0] += int(YIELD_SECONDS * 1000) + 1
    assert taken(budget, BULK)  # live work no longer waits


def test_bulk_work_yields_to_urgent_work_that_waits(tmp_path: Path) -> None:
    budget, now = clocked(
        tmp_path, Shares(requests=100, updates=2, window_seconds=1, reserve=0.5)
    )
    assert taken(budget, URGENT) and taken(budget, URGENT)
    assert not taken(budget, URGENT)
    now[0] += 1001
    assert not taken(budget, BULK) and not taken(budget, NORMAL)
    assert taken(budget, URGENT)


def test_bulk_work_alone_never_passes_its_part_across_windows(tmp_path: Path) -> None:
    """A long backfill with nothing live: 4 of every window's 10 updates, window after window."""
    budget, now = clocked(tmp_path)
    per_window = []
    for _ in range(3):
        per_window.append(sum(taken(budget, BULK) for _ in range(20)))
        now[0] += 60_001
    assert per_window == [4, 4, 4]


def test_the_setting(tmp_path: Path) -> None:
    """SIDECAR_ZENDESK_BUDGET_BULK: a fraction of the ordinary share, more than 0, at most 1."""
    assert Config.from_env({}).budget_bulk == 0.5
    config = Config.from_env({"SIDECAR_ZENDESK_BUDGET_BULK": "0.25"})
    assert shares_from(config).bulk == 0.25
    for bad in ("0", "1.5", "-0.1"):
        with pytest.raises(ConfigError, match="SIDECAR_ZENDESK_BUDGET_BULK"):
            Config.from_env({"SIDECAR_ZENDESK_BUDGET_BULK": bad})


def memory_buckets(name: str, limit: int, window_ms: int) -> InMemoryBucket:
    return InMemoryBucket([Rate(limit, window_ms)])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([BULK, NORMAL, URGENT]), min_size=1, max_size=60),
    st.integers(min_value=2, max_value=30),
    st.sampled_from([0.1, 0.25, 0.5, 1.0]),
)
def test_in_any_one_window_live_work_keeps_its_part(
    calls: list[str], updates: int, bulk: float
) -> None:
    """Whatever order bulk, live and urgent calls come in, within one window:
    bulk gets at most its part, and live work is refused only once it had the
    rest of the ordinary part, or the whole share is spent."""
    shares = Shares(requests=1000, updates=updates, window_seconds=60, bulk=bulk)
    budget = Budget(shares, bucket=memory_buckets, clock=lambda: 5_000_000)
    got = dict.fromkeys((BULK, NORMAL, URGENT), 0)
    for work in calls:
        if taken(budget, work):
            got[work] += 1
        elif work == NORMAL:
            ordinary_left = shares.ordinary_limit("updates") - got[NORMAL] - got[BULK]
            assert ordinary_left <= 0 or sum(got.values()) >= updates, got
    assert got[BULK] <= shares.bulk_limit("updates")
    assert got[BULK] + got[NORMAL] <= shares.ordinary_limit("updates")
    assert sum(got.values()) <= updates


def test_metrics_show_what_bulk_work_used_of_its_part(tmp_path: Path) -> None:
    """/metrics: sidecar_zendesk_budget_bulk_used / _allowed beside the whole share's gauges."""
    from sidecar.app import create_app
    from sidecar.config import Secret

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    config = Config(
        webhook_secret=Secret("x"), queue_url=url, budget_updates=10, budget_bulk=0.25
    )
    queue = JobQueue.from_url(url)
    try:
        budget = queue.budget(shares_from(config))
        budget.take(update=True, work=BULK)
        budget.take(update=True, work=NORMAL)
        body = create_app(config).test_client().get("/metrics").get_data(as_text=True)
    finally:
        queue.close()
    lines = set(body.splitlines())
    assert 'sidecar_zendesk_budget_bulk_used{pool="updates"} 1.0' in lines
    assert (
        'sidecar_zendesk_budget_bulk_allowed{pool="updates"} 2.0' in lines
    )  # 8 x 0.25
    assert 'sidecar_zendesk_budget_used{pool="updates"} 2.0' in lines


def test_sidecar_budget_shows_the_bulk_part(tmp_path: Path) -> None:
    """`sidecar budget`, as an operator runs it during a backfill."""
    from click.testing import CliRunner

    from sidecar.cli import main

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = {"SIDECAR_QUEUE_URL": url, "SIDECAR_ZENDESK_BUDGET_UPDATES": "10"}
    queue = JobQueue.from_url(url)
    try:
        budget = queue.budget(shares_from(Config.from_env(env)))
        for _ in range(3):
            budget.take(update=True, work=BULK)
    finally:
        queue.close()
    result = CliRunner().invoke(main, ["budget"], env=env)
    assert result.exit_code == 0, result.output
    assert "backfill and replay: at most 50% of the rest" in result.output
    assert (
        "updates: 3 of 10 per 60 s (30%); backfill and replay 3 of their 4"
        in result.output
    )


def test_a_live_change_never_collapses_into_a_bulk_job_waiting_for_budget(
    queue: JobQueue,
) -> None:
    """A backfill's job waiting for its part of the budget is not the ticket's pending job:
    a webhook for that ticket gets a job of its own, which waits only for live work's part."""
    from sidecar.tasks.queue import Taken
    from tests.adapters.test_queue import run_next

    seen: list[dict[str, object]] = []

    def refused(ticket_id: int, **hint: object) -> None:
        seen.append(hint)
        raise BudgetWait("bulk part used", service="zendesk", retry_after=30, lane=BULK)

    queue.enqueue_reconcile(12, priority=-10, bulk=True)
    run_next(queue, refused, later=False)
    assert seen == [{"bulk": True}]  # the job ran as bulk work, and waits now
    (waiting,) = queue.huey.scheduled()
    assert waiting.kwargs.get("bulk") is True
    taken = queue.deliver_reconcile(12, dedup_key="zendesk:live-1")
    assert taken is Taken.ENQUEUE


def test_ensure_room_asks_without_counting(tmp_path: Path) -> None:
    """A bulk job asks about the updates pool before its reads: refused while its part is full,
    nothing counted either way; urgent work is never held by it."""
    budget, now = clocked(tmp_path)
    budget.ensure_room("updates", work=BULK)
    assert budget.bulk_usage()["updates"] == (0, 4)
    for _ in range(4):
        budget.take(update=True, work=BULK)
    with pytest.raises(BudgetWait) as waited:
        budget.ensure_room("updates", work=BULK)
    assert waited.value.lane == BULK and 0 < (waited.value.retry_after or 0) <= 60
    budget.ensure_room("updates", work=NORMAL)  # live work's part is free
    budget.ensure_room("updates", work=URGENT)
    assert budget.usage()["updates"] == (4, 10)
    now[0] += 60_001
    budget.ensure_room("updates", work=BULK)  # the window moved on


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([BULK, NORMAL, URGENT]), min_size=1, max_size=60),
    st.integers(min_value=2, max_value=30),
    st.sampled_from([0.1, 0.5, 1.0]),
)
def test_ensure_room_says_what_take_would_do(
    calls: list[str], updates: int, bulk: float
) -> None:
    """At one instant, in one thread: ensure_room refuses exactly when take would."""
    shares = Shares(requests=1000, updates=updates, window_seconds=60, bulk=bulk)
    budget = Budget(shares, bucket=memory_buckets, clock=lambda: 5_000_000)
    for work in calls:
        try:
            budget.ensure_room("updates", work=work)
            room = True
        except BudgetWait:
            room = False
        assert taken(budget, work) is room or work == URGENT
