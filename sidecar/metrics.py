"""Prometheus metrics of the web process, and the queue gauges read at scrape time.

Under gunicorn the counters and histograms are summed over all workers: the
gunicorn master (``sidecar.gunicorn_conf``) and ``sidecar serve`` give their
processes a shared ``PROMETHEUS_MULTIPROC_DIR`` (``sidecar.metrics_dir``), and
``sidecar serve`` puts the queue worker's metrics there too. A worker in its own
container serves its own /metrics instead (SIDECAR_WORKER_METRICS_LISTEN). The
queue gauges come from the shared queue, so any web worker reports the same
values, and the worker never reports them (no double counting).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sidecar import metrics_dir
from sidecar.errors import ConfigError, QueueUnavailable
from sidecar.tasks.jobs import JOBS
from sidecar.tasks.open_counts import SAMPLE_FLAG, OpenCounts

if TYPE_CHECKING:
    from sidecar.tasks.queue import JobQueue

OUTCOMES = (
    "queued",
    "collapsed",  # accepted; a waiting reconcile of the ticket covers it
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

# First-response outcomes as the reconciler records them on tickets (issue 13):
# what the worker did, not a copy of ticket state. A ticket counts when a write
# of ours adds its sla_met or sla_breached tag (a breach at the due time counts
# then, not again when the late reply is recorded).
SLA_OUTCOME_TAGS = {"sla_met": "met", "sla_breached": "breached"}
SLA_OUTCOMES = Counter(
    "sidecar_sla_outcomes",
    "First-response outcomes recorded on tickets (sla_met/sla_breached written), by severity.",
    ["outcome", "severity"],
)
for _outcome in SLA_OUTCOME_TAGS.values():
    for _severity in range(1, 6):
        SLA_OUTCOMES.labels(_outcome, str(_severity))


def count_sla_outcomes(tags_added: Iterable[str], severity: int | None) -> None:
    """Count the outcomes a successful ticket write just recorded."""
    if severity is None:
        return
    for tag in tags_added:
        outcome = SLA_OUTCOME_TAGS.get(tag)
        if outcome is not None:
            SLA_OUTCOMES.labels(outcome, str(severity)).inc()


# Zendesk calls by endpoint (ids replaced by {id}) and outcome (HTTP status,
# "timeout", "connection"): what the API budget is spent on (issue 10).
ZENDESK_CALLS = Counter(
    "sidecar_zendesk_calls",
    "Zendesk API calls by method, endpoint and outcome (HTTP status or timeout/connection).",
    ["method", "endpoint", "outcome"],
)
ZENDESK_CALL_SECONDS = Histogram(
    "sidecar_zendesk_call_seconds",
    "Duration of Zendesk API calls, by method.",
    ["method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Jobs put back in the queue because our share of the budget was used (not failures).
BUDGET_WAITS = Counter(
    "sidecar_zendesk_budget_waits",
    "Jobs put back in the queue to wait for the Zendesk budget, by pool.",
    ["pool"],
)
for _pool in ("requests", "updates"):
    BUDGET_WAITS.labels(_pool)

# How each attempt of a job ended (the worker's Runner counts it; issue 14):
# done, dropped (nothing to do), retried (failed, tried again later),
# throttled (a 429: tried again later without using an attempt),
# dead_lettered, budget_wait (put back to wait for the Zendesk budget: not run).
JOB_OUTCOMES = {
    "done": "done",
    "dropped": "dropped",
    "retry": "retried",
    "throttled": "throttled",
    "dead_lettered": "dead_lettered",
    "wait_for_budget": "budget_wait",
}
JOB_ATTEMPTS = Counter(
    "sidecar_jobs",
    "Job attempts by job (reconcile, escalate, refresh_org) and outcome.",
    ["job", "outcome"],
)
for _job in JOBS:
    for _label in JOB_OUTCOMES.values():
        JOB_ATTEMPTS.labels(_job, _label)


def count_job(job: str, outcome: str) -> None:
    """Count one attempt of ``job`` that ended in ``outcome`` (a worker Outcome value)."""
    JOB_ATTEMPTS.labels(job, JOB_OUTCOMES.get(outcome, outcome)).inc()


# PagerDuty events the escalate job sent and recorded on the ticket (each page
# once: the record is what stops it from being sent again).
PAGE_ACTIONS = ("trigger", "resolve")
PAGES = Counter(
    "sidecar_pages",
    "PagerDuty events sent and recorded on their ticket, by action (trigger, resolve).",
    ["action"],
)
for _action in PAGE_ACTIONS:
    PAGES.labels(_action)


MISMATCH_FIELDS = ("severity", "organization")
SLACK_TICKET_MISMATCHES = Counter(
    "sidecar_slack_ticket_mismatches",
    "Tickets from Slack whose create answer lacks the severity or organization sent.",
    ["field"],
)
for _field in MISMATCH_FIELDS:
    SLACK_TICKET_MISMATCHES.labels(_field)


def count_slack_mismatch(field: str) -> None:
    """Count one Slack ticket Zendesk created without what was sent for ``field``."""
    SLACK_TICKET_MISMATCHES.labels(field).inc()


def count_page(action: str) -> None:
    """Count one page (``trigger``) or one resolve the escalate job recorded."""
    PAGES.labels(action).inc()


def count_zendesk_call(
    method: str, endpoint: str, outcome: str, seconds: float
) -> None:
    """Count one Zendesk call (the client calls this after every exchange)."""
    ZENDESK_CALLS.labels(method, endpoint, outcome).inc()
    ZENDESK_CALL_SECONDS.labels(method).observe(seconds)


class BudgetCollector(Collector):
    """Read the deployment-wide Zendesk budget's use at scrape time (sidecar.zendesk.budget)."""

    def __init__(self, usage: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self._usage = usage

    def collect(self) -> Iterator[Metric]:
        try:
            usage = self._usage()
        except Exception:  # the store may be down; /metrics still answers
            return
        used = GaugeMetricFamily(
            "sidecar_zendesk_budget_used",
            "Zendesk calls the whole deployment made in the current budget window, by pool.",
            labels=["pool"],
        )
        allowed = GaugeMetricFamily(
            "sidecar_zendesk_budget_allowed",
            "Zendesk calls allowed per budget window (our share), by pool.",
            labels=["pool"],
        )
        for pool, (count, limit) in sorted(usage.items()):
            used.add_metric([pool], count)
            allowed.add_metric([pool], limit)
        yield used
        yield allowed


# Services whose refusal of our credentials is kept as a flag in the queue store
# (``<service>_auth_failed``, set by the worker, cleared by a job that gets through).
AUTH_SERVICES = ("zendesk", "pagerduty")


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
    """How long the oldest ready job of each lane has waited (sidecar.tasks.ready)."""
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


def render(queue_registry: CollectorRegistry) -> tuple[bytes, str]:
    """Return the exposition text of this process (or all workers) plus the queue."""
    if metrics_dir.enabled(os.environ):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
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
