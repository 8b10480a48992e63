"""Prometheus metrics of the web process, and the queue gauges read at scrape time.

Under gunicorn with several workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory (``sidecar serve`` does): counters and histograms are then summed over
all workers. The queue gauges come from the shared queue, so any worker reports
the same values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sidecar.errors import QueueUnavailable

if TYPE_CHECKING:
    from sidecar.tasks.queue import JobQueue

OUTCOMES = (
    "queued",
    "duplicate",
    "ignored",
    "org_invalidated",
    "unauthorized",
    "bad_request",
    "unsupported_media_type",
    "too_large",
    "queue_unavailable",
    "error",
)
REQUESTS = Counter(
    "sidecar_webhook_requests",
    "Webhook requests by outcome.",
    ["outcome"],
)
for _outcome in OUTCOMES:
    REQUESTS.labels(_outcome)
ENQUEUE_SECONDS = Histogram(
    "sidecar_enqueue_seconds",
    "Time to durably enqueue a reconcile job (dedup claim included).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


class QueueCollector(Collector):
    """Read queue depth and dead letters from the shared queue at scrape time."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def collect(self) -> Iterator[Metric]:
        try:
            values = (
                self._queue.depth(),
                self._queue.scheduled(),
                len(self._queue.failed_jobs()),
                self._queue.dead_letters_total(),
            )
        except QueueUnavailable:
            yield GaugeMetricFamily("sidecar_queue_up", "Queue reachable.", value=0)
            return
        yield GaugeMetricFamily("sidecar_queue_up", "Queue reachable.", value=1)
        yield GaugeMetricFamily(
            "sidecar_queue_depth", "Reconcile jobs ready to run.", value=values[0]
        )
        yield GaugeMetricFamily(
            "sidecar_queue_scheduled",
            "Jobs waiting for an eta (timers, retry delays).",
            value=values[1],
        )
        yield GaugeMetricFamily(
            "sidecar_dead_letter_jobs",
            "Dead-lettered jobs waiting for `sidecar jobs retry`.",
            value=values[2],
        )
        yield CounterMetricFamily(
            "sidecar_dead_lettered",
            "Jobs ever dead-lettered.",
            value=values[3],
        )


def render(queue_registry: CollectorRegistry) -> tuple[bytes, str]:
    """Return the exposition text of this process (or all workers) plus the queue."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(
        queue_registry
    ), CONTENT_TYPE_LATEST


def queue_registry(queue: JobQueue) -> CollectorRegistry:
    """Return a registry holding only the queue collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(queue))
    return registry
