"""A page PagerDuty throttles waits as PagerDuty asks, stays queued, and the operator sees it.

PagerDuty's guidance for a 429 from the Events API ("Events API Rate Limits":
the event is not ingested; "retrying 3 times with each request being 30
seconds apart"; "Events API v2 Overview", API Limits: "retry on a 429
response code, preferably with a backoff of a few minutes"). The 429s here are
the fake's own throttle (120 events a minute per routing key, no Retry-After,
as documented) or injected ones with a Retry-After; every page goes through
the real PagerDutyPager and the worker's Runner on a real queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sidecar.config import Config, Secret
from sidecar.errors import Backoff, RateLimited
from sidecar.oncall.pagerduty import THROTTLE_BACKOFF, PagerDutyPager, decipher
from sidecar.tasks.jobs import URGENT_BASE_DELAY_SECONDS, Lane
from sidecar.tasks.queue import JobQueue
from tests.adapters.test_queue import run_next
from tests.fake_pagerduty import FakePagerDuty

KEY = "R0UTINGKEY000000000000000000DEFA"
TRIGGER: dict[str, Any] = dict(
    dedup_key="zendesk-acme-ticket-5",
    summary="[SEV 1] Acme: everything is down",
    severity="critical",
    source="zendesk:acme",
    custom_details={"sev": 1},
    links=[],
)


class Clock:
    """The fake's rate-limit clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakePagerDuty]:
    # One event a minute: the second page of a minute is throttled (429).
    with FakePagerDuty(routing_keys={KEY}, events_per_window=1, rate_clock=clock) as f:
        yield f


@pytest.fixture
def pager(fake: FakePagerDuty) -> Iterator[PagerDutyPager]:
    p = PagerDutyPager.from_config(
        Config(pagerduty_url=fake.url, pagerduty_routing_key=Secret(KEY))
    )
    yield p
    p.close()


def page(pager: PagerDutyPager) -> Any:
    return lambda ticket_id: pager.trigger(**TRIGGER)


def scheduled_in(queue: JobQueue, lane: Lane) -> float:
    """Seconds from now until the one retry waiting in ``lane`` is due."""
    (task,) = queue.lane_huey(lane).scheduled()
    return float((task.eta.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds())


def throttled(service: str) -> float:
    value = REGISTRY.get_sample_value(
        "sidecar_upstream_throttled_total", {"service": service}
    )
    assert value is not None
    return value


def test_a_throttled_page_is_tried_again_after_30_seconds_not_5(
    queue: JobQueue,
    fake: FakePagerDuty,
    pager: PagerDutyPager,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 429 without Retry-After: the page waits 30 s (PagerDuty's spacing), visibly, with no attempt used."""
    # Another ticket's page fills the minute's window.
    pager.trigger(**{**TRIGGER, "dedup_key": "zendesk-acme-ticket-4"})
    before = throttled("pagerduty")
    queue.enqueue_escalate(5)
    with caplog.at_level(logging.INFO, logger="sidecar"):
        run_next(queue, page(pager), later=False)
    assert fake.request_count == 2 and len(fake.triggers()) == 1
    assert 28 <= scheduled_in(queue, Lane.URGENT) <= 31
    (task,) = queue.lane_huey(Lane.URGENT).scheduled()
    assert task.kwargs.get("attempt", 1) == 1 and queue.failed_jobs() == []
    assert throttled("pagerduty") == before + 1
    (record,) = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "pagerduty" in record.getMessage() and "30.0 s" in record.getMessage()


def test_after_three_tries_the_page_waits_minutes(
    queue: JobQueue, fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A page throttled for 90 s and more waits 3 minutes between tries ("a backoff of a few minutes")."""
    pager.trigger(**{**TRIGGER, "dedup_key": "zendesk-acme-ticket-4"})
    since = (datetime.now(UTC) - timedelta(seconds=95)).isoformat(timespec="seconds")
    queue.urgent_huey.enqueue(queue.urgent_tasks.escalate.s(5, first_failure=since))
    run_next(queue, page(pager), later=False)
    assert 175 <= scheduled_in(queue, Lane.URGENT) <= 181


def test_retry_after_from_pagerduty_is_honoured(
    queue: JobQueue, fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """If PagerDuty ever sends Retry-After (it documents none), that wait wins."""
    fake.fail_next(1, 429, retry_after=45)
    queue.enqueue_escalate(5)
    run_next(queue, page(pager), later=False)
    assert 43 <= scheduled_in(queue, Lane.URGENT) <= 46


def test_a_page_that_fails_otherwise_is_retried_within_seconds(
    queue: JobQueue, fake: FakePagerDuty, pager: PagerDutyPager
) -> None:
    """A 503 is not throttling: the page is tried again after the urgent lane's 1 s, then 2 s.

    Issue 19: with the ordinary backoff (5, 10, 20, 40, 80 s) a page came 201 s
    after its webhook.
    """
    fake.fail_next(2, 503)
    queue.enqueue_escalate(5)
    run_next(queue, page(pager), later=False)
    assert URGENT_BASE_DELAY_SECONDS - 1 <= scheduled_in(queue, Lane.URGENT) <= 1.5
    run_next(queue, page(pager))
    assert 1 <= scheduled_in(queue, Lane.URGENT) <= 2.5
    run_next(queue, page(pager))
    assert [t["dedup_key"] for t in fake.triggers()] == ["zendesk-acme-ticket-5"]


def test_a_throttling_storm_loses_no_page(
    queue: JobQueue, fake: FakePagerDuty, pager: PagerDutyPager, clock: Clock
) -> None:
    """A dozen 429s in a row: the page stays queued (no dead letter), then goes out once PagerDuty takes it."""
    pager.trigger(**{**TRIGGER, "dedup_key": "zendesk-acme-ticket-4"})
    queue.enqueue_escalate(5)
    for _ in range(12):
        run_next(queue, page(pager))
    assert len(fake.triggers()) == 1 and queue.failed_jobs() == []
    clock.now += 61  # the window moves on
    run_next(queue, page(pager))
    assert [t["dedup_key"] for t in fake.triggers()][-1] == "zendesk-acme-ticket-5"
    assert queue.lane_huey(Lane.URGENT).scheduled() == []
    assert queue.failed_jobs() == []


def test_decipher_gives_a_429_pagerdutys_backoff() -> None:
    """The one place that reads PagerDuty's answers: 429 → RateLimited with PagerDuty's backoff; Retry-After read in any case."""
    error = decipher("trigger", 429, {}, "", host="events.pagerduty.com")
    assert isinstance(error, RateLimited) and error.retryable
    assert error.backoff == THROTTLE_BACKOFF and error.retry_after is None
    assert error.delay(throttled_for=0, default=5) == 30
    assert error.delay(throttled_for=89, default=5) == 30
    assert error.delay(throttled_for=90, default=5) == 180
    told = decipher("trigger", 429, {"Retry-After": "45"}, "", host="h")
    assert told.retry_after == 45 and told.delay(throttled_for=500, default=5) == 45


def test_other_services_keep_their_own_rate_limit_waits() -> None:
    """Without a backoff of its own, a 429 waits Retry-After or the worker's default."""
    plain = RateLimited("429", service="zendesk", status=429)
    assert plain.delay(throttled_for=1000, default=5) == 5
    assert Backoff(first=1, tries=2, then=9).delay(throttled_for=2) == 9
