"""Open SLA tickets by status: Zendesk Search counts, sampled by the worker, published by the web.

The real ZendeskClient against the strict fake Zendesk over HTTP (its Search
count follows OAS CountSearchResults), the real queue store and the real API
budget; /metrics is read through the web's queue collector.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.scrape import queue_registry
from sidecar.tasks.handler import build_handler
from sidecar.tasks.jobs import SWEEP
from sidecar.tasks.open_counts import (
    SAMPLE_FLAG,
    OpenCounts,
    sample_open_counts,
    status_query,
)
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.budget import Shares
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    q = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk(clock=lambda: NOW, search_index_lag_seconds=120) as fake:
        yield fake


def open_tickets(zd: FakeZendesk, now: datetime = NOW) -> None:
    """Two at risk, one breached, one pending, one met (unsolved); solved/closed ones do not count."""
    old = now - timedelta(hours=1)
    for status, tag in [
        ("open", "sla_at_risk"),
        ("pending", "sla_at_risk"),
        ("hold", "sla_breached"),
        ("new", "sla_pending"),
        ("open", "sla_met"),
        ("solved", "sla_breached"),
        ("closed", "sla_met"),
    ]:
        zd.add_ticket(status=status, tags=[tag, "vip"], created_at=old)
    # Created a minute ago: not yet indexed by Search (it lags minutes).
    zd.add_ticket(
        status="open", tags=["sla_at_risk"], created_at=now - timedelta(minutes=1)
    )


def published(queue: JobQueue) -> tuple[dict[str, float], float | None]:
    registry = queue_registry(queue)
    counts = {}
    for status in ("pending", "at_risk", "breached", "met"):
        value = registry.get_sample_value(
            "sidecar_sla_open_tickets", {"status": status}
        )
        if value is not None:
            counts[status] = value
    sampled = registry.get_sample_value(
        "sidecar_sla_open_tickets_sampled_timestamp_seconds"
    )
    return counts, sampled


def test_a_sample_counts_unsolved_tickets_per_status_and_web_publishes_it(
    zd: FakeZendesk, queue: JobQueue
) -> None:
    open_tickets(zd)
    with ZendeskClient.from_config(zd.config()) as client:
        sample = sample_open_counts(
            zendesk=client, store=queue, budget=None, clock=lambda: 1_714_565_000.0
        )
    expected = {"pending": 1, "at_risk": 2, "breached": 1, "met": 1}
    assert sample == OpenCounts(counts=expected, sampled_at=1_714_565_000.0)
    # One count query per status, each the documented endpoint with only `query`.
    calls = zd.calls("GET", "/api/v2/search/count")
    assert sorted(c.query["query"] for c in calls) == sorted(
        status_query(f"sla_{s}") for s in expected
    )
    assert all(set(c.query) == {"query"} for c in calls)
    assert published(queue) == (
        {k: float(v) for k, v in expected.items()},
        1_714_565_000.0,
    )


def test_nothing_is_published_before_the_first_sample(queue: JobQueue) -> None:
    """No sample yet: no made-up zeros on /metrics."""
    assert published(queue) == ({}, None)


def test_one_sample_per_interval_across_workers(
    zd: FakeZendesk, queue: JobQueue, tmp_path: Path
) -> None:
    """A second worker (another queue object on the same store) does not sample within the interval."""
    open_tickets(zd)
    other = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        with ZendeskClient.from_config(zd.config()) as client:
            assert sample_open_counts(zendesk=client, store=queue, budget=None)
            assert sample_open_counts(zendesk=client, store=other, budget=None) is None
            assert sample_open_counts(zendesk=client, store=queue, budget=None) is None
        assert len(zd.calls("GET", "/api/v2/search/count")) == 4
    finally:
        other.close()


def test_interval_zero_turns_sampling_off(zd: FakeZendesk, queue: JobQueue) -> None:
    with ZendeskClient.from_config(zd.config()) as client:
        assert (
            sample_open_counts(
                zendesk=client, store=queue, budget=None, interval_seconds=0
            )
            is None
        )
    assert zd.calls("GET", "/api/v2/search/count") == []


def test_a_busy_budget_window_skips_the_sample(
    zd: FakeZendesk, queue: JobQueue
) -> None:
    """Live work has used half of the ordinary requests: the counts wait for a quieter round."""
    budget = queue.budget(Shares(requests=10, updates=5, window_seconds=60))
    for _ in range(4):  # 4 of the 8 ordinary requests: half
        budget.take(update=False, urgent=False)
    with ZendeskClient.from_config(zd.config(), budget=budget) as client:
        assert sample_open_counts(zendesk=client, store=queue, budget=budget) is None
    assert zd.calls("GET", "/api/v2/search/count") == []


def test_a_budget_refusal_midway_stores_nothing(
    zd: FakeZendesk, queue: JobQueue
) -> None:
    """The counts spend through the budget; when it refuses, no partial sample is stored."""
    budget = queue.budget(
        Shares(requests=20, updates=5, window_seconds=60, reserve=0.9, bulk=1.0)
    )
    # 20 - 18 reserved = 2 ordinary requests, all of them open to bulk work (the
    # counts' lane): the third count is refused.
    with ZendeskClient.from_config(zd.config(), budget=budget) as client:
        assert sample_open_counts(zendesk=client, store=queue, budget=None) is None
    assert len(zd.calls("GET", "/api/v2/search/count")) == 2
    assert queue.get_flag(SAMPLE_FLAG) is None


def test_a_zendesk_failure_keeps_the_previous_sample(
    zd: FakeZendesk, queue: JobQueue
) -> None:
    """A 503 skips the round; /metrics keeps the last sample, whose timestamp shows its age."""
    open_tickets(zd)
    with ZendeskClient.from_config(zd.config()) as client:
        sample_open_counts(
            zendesk=client,
            store=queue,
            budget=None,
            clock=lambda: 1000.0,
            interval_seconds=60,
        )
        queue.release("sla_open_counts_sampling")  # the next interval
        zd.fail_next(1, 503, path_contains="/search/count")
        assert (
            sample_open_counts(
                zendesk=client, store=queue, budget=None, clock=lambda: 2000.0
            )
            is None
        )
    counts, sampled = published(queue)
    assert sampled == 1000.0 and counts["at_risk"] == 2


def test_an_unreadable_stored_sample_is_ignored(queue: JobQueue) -> None:
    queue.set_flag(SAMPLE_FLAG, "{not json")
    assert published(queue) == ({}, None)


def test_the_worker_samples_after_its_minute_sweep(tmp_path: Path) -> None:
    """The sweep job's handler (sidecar worker's wiring) reads the export, then samples the counts."""
    with FakeZendesk(
        search_index_lag_seconds=120
    ) as zd:  # the real clock: the sweep's export
        run_the_sweep_handler(zd, tmp_path)


def run_the_sweep_handler(zd: FakeZendesk, tmp_path: Path) -> None:
    open_tickets(zd, now=datetime.now(UTC))
    severity = zd.add_ticket_field(
        title="Issue Severity", type="tagger", options=[("SEV 1", "sev_1")]
    )
    due_at = zd.add_ticket_field(title="First response due")
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    config = zd.config(
        queue_url=url, severity_field_id=severity, due_at_field_id=due_at
    )
    queue = JobQueue.from_url(url)
    try:
        handlers = build_handler(config, queue=queue)
        handlers[SWEEP](0)
        handlers[SWEEP](0)  # the next minute: not due again
        assert zd.calls("GET", "/api/v2/incremental/tickets/cursor")
        assert len(zd.calls("GET", "/api/v2/search/count")) == 4
        counts, sampled = published(queue)
        assert counts == {"pending": 1.0, "at_risk": 2.0, "breached": 1.0, "met": 1.0}
        assert sampled is not None
    finally:
        queue.close()
