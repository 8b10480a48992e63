"""What /metrics reads from the shared queue at scrape time, and the worker's own /metrics.

Above the application layer: the gauges read the queue (``sidecar.tasks``), while
the counters they sit beside (``sidecar.metrics``) are written by the layers below.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.tasks.jobs import AUTH_SERVICES
from sidecar.tasks.open_counts import SAMPLE_FLAG, OpenCounts

if TYPE_CHECKING:
    from sidecar.tasks.queue import JobQueue


class QueueCollector(Collector):
    """Read queue depth and dead letters from the shared queue at scrape time."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def collect(self) -> Iterator[Metric]:
        try:
            values = (
                self._queue.depth(),
                self._queue.scheduled(),
                self._queue.failed_count(),
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
        auth = GaugeMetricFamily(
            "sidecar_upstream_auth_failed",
            "1 while a service refuses our credentials (401/403), until a job gets through.",
            labels=["service"],
        )
        for service in AUTH_SERVICES:
            try:
                failed = self._queue.get_flag(f"{service}_auth_failed") is not None
            except QueueUnavailable:
                return
            auth.add_metric([service], 1 if failed else 0)
        yield auth
        yield from _queue_age(self._queue)
        yield from _open_ticket_counts(self._queue)


def _queue_age(queue: JobQueue) -> Iterator[Metric]:
    """How long the oldest ready job of each lane has waited (sidecar.queue.ready)."""
    try:
        oldest = queue.oldest_ready()
    except QueueUnavailable:
        return
    now = time.time()
    age = GaugeMetricFamily(
        "sidecar_queue_age_seconds",
        "Seconds the oldest ready job of the lane has waited to run (0 when none is ready).",
        labels=["lane"],
    )
    for lane, since in sorted(oldest.items(), key=lambda item: item[0].value):
        age.add_metric([lane.value], 0.0 if since is None else max(0.0, now - since))
    yield age


def _open_ticket_counts(queue: JobQueue) -> Iterator[Metric]:
    """The last Search sample of unsolved tickets per SLA status (sidecar.tasks.open_counts)."""
    try:
        sample = OpenCounts.from_json(queue.get_flag(SAMPLE_FLAG))
    except QueueUnavailable:
        return
    if sample is None:  # nothing sampled yet (or sampling off): no made-up zeros
        return
    counts = GaugeMetricFamily(
        "sidecar_sla_open_tickets",
        "Unsolved tickets per SLA status tag, counted by Zendesk Search "
        "(lags minutes; see sidecar_sla_open_tickets_sampled_timestamp_seconds).",
        labels=["status"],
    )
    for status, count in sorted(sample.counts.items()):
        counts.add_metric([status], count)
    yield counts
    yield GaugeMetricFamily(
        "sidecar_sla_open_tickets_sampled_timestamp_seconds",
        "When sidecar_sla_open_tickets was counted (Unix time).",
        value=sample.sampled_at,
    )


def queue_registry(queue: JobQueue) -> CollectorRegistry:
    """Return a registry holding only the queue collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(queue))
    return registry


def serve_worker_metrics(listen: str) -> None:
    """Serve this process's metrics on ``[HOST:]PORT`` (a thread; the worker's /metrics).

    Only this process's own values: the queue gauges come from the web's /metrics.
    """
    host, _, port_text = listen.rpartition(":")
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError(port_text)
    except ValueError:
        raise ConfigError(
            f"SIDECAR_WORKER_METRICS_LISTEN={listen!r}: expected [HOST:]PORT, e.g. 9100"
        ) from None
    host = host.strip("[]") or "0.0.0.0"
    try:
        start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        raise ConfigError(
            f"SIDECAR_WORKER_METRICS_LISTEN={listen}: cannot listen ({exc.strerror})"
        ) from None
