"""Open SLA tickets by status, counted by Zendesk Search every few minutes for the dashboard.

The ticket is the record (the sidecar keeps no copy of ticket state), so the
number of unsolved tickets in each SLA status comes from Zendesk itself: one
Search count per status tag, ``type:ticket status<solved tags:<tag>`` sent to
``GET /api/v2/search/count`` (OAS CountSearchResults: "the number of items
matching the query rather than the items"; ``status<solved`` is the Search
page's own example for unsolved tickets). Four requests per sample.

A sample is taken at most once per ``interval`` across every worker process (a
claim in the queue store), by the worker that runs the minute sweep, after the
sweep. It is the lowest-priority Zendesk work there is: it runs in the bulk
lane of the API budget, only while less than half of the ordinary requests of
the current window are spent, and a refusal (BudgetWait) or an error skips the
round instead of waiting. A sample is stored whole (every status or none) with
the instant it was taken; the web's /metrics publishes it from the queue store
(sidecar.scrape.QueueCollector), so the dashboard shows its age. Search
indexes changes "up to a few minutes" late (Search page), so the counts lag
the tickets by that much.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sidecar.domain.plan import STATUS_TAGS
from sidecar.errors import BudgetWait, UpstreamError
from sidecar.zendesk.budget import BULK, Budget, lane

log = logging.getLogger("sidecar.open_counts")

# The queue-store flag holding the last sample, and the claim that spaces samples.
SAMPLE_FLAG = "sla_open_counts"
SAMPLE_CLAIM = "sla_open_counts_sampling"
DEFAULT_INTERVAL_SECONDS = 300
CLAIM_SLACK_SECONDS = 30.0
# Sample only while the current window has used less than this part of the
# ordinary requests: live work always comes first.
MAX_WINDOW_USE = 0.5


def status_query(tag: str) -> str:
    """The Search query for unsolved tickets carrying ``tag``."""
    return f"type:ticket status<solved tags:{tag}"


@dataclass(frozen=True)
class OpenCounts:
    """Unsolved tickets per SLA status (pending, at_risk, breached, met), as Search counted them."""

    counts: Mapping[str, int]
    sampled_at: float  # epoch seconds

    def to_json(self) -> str:
        return json.dumps({"counts": dict(self.counts), "sampled_at": self.sampled_at})

    @classmethod
    def from_json(cls, text: str | None) -> OpenCounts | None:
        """The stored sample, or None when there is none (or it is unreadable)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            counts = {str(k): int(v) for k, v in data["counts"].items()}
            return cls(counts=counts, sampled_at=float(data["sampled_at"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignoring an unreadable open-ticket sample in the queue store")
            return None


class SearchCounter(Protocol):
    """Zendesk's Search count (sidecar.zendesk.client.ZendeskClient)."""

    def count_search(self, query: str) -> int: ...


class SampleStore(Protocol):
    """The parts of the job queue a sample uses (sidecar.tasks.queue.JobQueue)."""

    def claim(self, key: str, *, ttl_seconds: float = ...) -> bool: ...
    def set_flag(self, name: str, value: str | None) -> None: ...


def sample_open_counts(
    *,
    zendesk: SearchCounter,
    store: SampleStore,
    budget: Budget | None,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    clock: Callable[[], float] = time.time,
) -> OpenCounts | None:
    """Count the unsolved tickets per SLA status and store the sample, when one is due.

    Returns the new sample, or None when none was taken (not due, budget busy,
    or Zendesk failed: the previous sample stays, with its older time).
    """
    if interval_seconds <= 0:
        return None
    # The claim lapses a little early, so the minute sweep that lands on the
    # interval takes it (sweeps start a few hundred ms apart, not exactly 60 s).
    ttl = max(1.0, interval_seconds - CLAIM_SLACK_SECONDS)
    if not store.claim(SAMPLE_CLAIM, ttl_seconds=ttl):
        return None
    if budget is not None and _window_busy(budget):
        log.info(
            "open-ticket counts skipped: the Zendesk budget is busy with live work"
        )
        return None
    counts: dict[str, int] = {}
    try:
        with lane(BULK):
            for status, tag in STATUS_TAGS.items():
                counts[status] = zendesk.count_search(status_query(tag))
    except BudgetWait:
        log.info("open-ticket counts skipped: no Zendesk budget left for them")
        return None
    except UpstreamError as exc:
        log.warning("open-ticket counts skipped: %s", exc)
        return None
    sample = OpenCounts(counts=counts, sampled_at=clock())
    store.set_flag(SAMPLE_FLAG, sample.to_json())
    return sample


def _window_busy(budget: Budget) -> bool:
    used, _ = budget.usage()["requests"]
    return used >= budget.shares.ordinary_limit("requests") * MAX_WINDOW_USE
