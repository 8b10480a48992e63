"""Prometheus counters and histograms of every process, and their exposition.

Under gunicorn the counters and histograms are summed over all workers: the
gunicorn master (``sidecar.gunicorn_conf``) and ``sidecar serve`` give their
processes a shared ``PROMETHEUS_MULTIPROC_DIR`` (``sidecar.metrics_dir``), and
``sidecar serve`` puts the queue worker's metrics there too. A worker in its own
container serves its own /metrics instead (SIDECAR_WORKER_METRICS_LISTEN). The
queue gauges come from the shared queue, so any web worker reports the same
values, and the worker never reports them (no double counting). Those gauges and
the worker's own /metrics live in ``sidecar.scrape``: they read the queue, and
this module sits below it (the adapters count their calls here).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sidecar import metrics_dir

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
# PagerDuty's V3 webhooks (POST /webhooks/pagerduty), apart from Zendesk's: an
# alert on Zendesk's traffic must not be fed by PagerDuty's.
PAGERDUTY_OUTCOMES = (
    "queued",
    "duplicate",
    "ignored",
    "noted",
    "unauthorized",
    "bad_request",
    "too_large",
    "queue_unavailable",
)
PAGERDUTY_REQUESTS = Counter(
    "sidecar_pagerduty_webhook_requests",
    "PagerDuty webhook requests by outcome.",
    ["outcome"],
)
for _outcome in PAGERDUTY_OUTCOMES:
    PAGERDUTY_REQUESTS.labels(_outcome)
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
# lane="urgent": SEV 1/2 writes (due times, page markers) waiting: a storm
# outran the share (their pages went out already; PagerDuty is not Zendesk).
# lane="bulk": backfill and replay at their ceiling (expected while they run);
# lane="normal" rising with them: live work waits for the share beside them.
BUDGET_WAITS = Counter(
    "sidecar_zendesk_budget_waits",
    "Jobs put back in the queue to wait for the Zendesk budget, by pool and lane.",
    ["pool", "lane"],
)
for _pool in ("requests", "updates"):
    for _lane in ("normal", "urgent", "bulk"):
        BUDGET_WAITS.labels(_pool, _lane)

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
    "Job attempts by job (reconcile, escalate, refresh_org, slack_create, slack_comment, slack_sync, pagerduty_event) and outcome.",
    ["job", "outcome"],
)
# Every job x outcome is exported from the start, at zero, in every process that
# counts. The names are the queue's job names (sidecar.tasks.jobs.JOBS, SLACK_JOBS and ONCALL_JOBS; a test
# keeps the two equal): this module sits below the application and cannot import them.
JOB_NAMES = (
    "reconcile",
    "escalate",
    "refresh_org",
    "slack_create",
    "slack_comment",
    "slack_sync",
    "pagerduty_event",
)
for _job in JOB_NAMES:
    for _label in JOB_OUTCOMES.values():
        JOB_ATTEMPTS.labels(_job, _label)


# 429 answers by upstream service: a job tried again later, no attempt used
# (issue 17: a page PagerDuty throttles waits minutes; this is how to see it).
THROTTLED = Counter(
    "sidecar_upstream_throttled",
    "HTTP 429 answers that put a job back to wait, by upstream service.",
    ["service"],
)
for _service in ("zendesk", "pagerduty", "slack"):
    THROTTLED.labels(_service)


# Slack posts (thread replies, an organization's on-call notice) that did not
# go out because the bot is not a member of the channel (issue 17).
SLACK_NOT_IN_CHANNEL = Counter(
    "sidecar_slack_not_in_channel",
    "Slack posts not delivered because the bot is not in the channel, by kind.",
    ["kind"],
)
for _kind in ("org_notice", "thread"):
    SLACK_NOT_IN_CHANNEL.labels(_kind)


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

    def __init__(
        self,
        usage: Callable[[], dict[str, tuple[int, int]]],
        bulk_usage: Callable[[], dict[str, tuple[int, int]]] | None = None,
    ) -> None:
        self._usage = usage
        self._bulk_usage = bulk_usage

    def collect(self) -> Iterator[Metric]:
        try:
            usage = self._usage()
            bulk = self._bulk_usage() if self._bulk_usage is not None else {}
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
        if not bulk:
            return
        # Backfill and replay (the bulk lane): their part of the ordinary share.
        bulk_used = GaugeMetricFamily(
            "sidecar_zendesk_budget_bulk_used",
            "Zendesk calls backfill and replay made in the current budget window, by pool.",
            labels=["pool"],
        )
        bulk_allowed = GaugeMetricFamily(
            "sidecar_zendesk_budget_bulk_allowed",
            "Zendesk calls backfill and replay may make per budget window, by pool "
            "(SIDECAR_ZENDESK_BUDGET_BULK of the ordinary share).",
            labels=["pool"],
        )
        for pool, (count, limit) in sorted(bulk.items()):
            bulk_used.add_metric([pool], count)
            bulk_allowed.add_metric([pool], limit)
        yield bulk_used
        yield bulk_allowed


# A process's file starts with an 8-byte header (bytes used, padding).
_HEADER_BYTES = 8


class ProcessFilesCollector:
    """Every process's counters, as MultiProcessCollector reads them, minus unsized files.

    prometheus_client creates a process's ``.db`` file and sizes it afterwards;
    a scrape in between, or a process SIGKILLed in between (its 0-byte file
    then stays for good), makes ``MultiProcessCollector.collect`` raise and
    every scrape answer 500 (prometheus/client_python#1199, open; fix proposed
    in #1206/#1207). A file shorter than its header holds no value yet: it is
    left out, and the rest merged with the library's own public ``merge``.
    """

    def __init__(self, path: str) -> None:
        self._path = path

    def collect(self) -> Iterable[Metric]:
        files = [str(file) for file in Path(self._path).glob("*.db") if _sized(file)]
        return MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-any-return,no-untyped-call]  # unannotated upstream


def _sized(file: Path) -> bool:
    try:
        return file.stat().st_size >= _HEADER_BYTES
    except FileNotFoundError:  # its process ended and the file was removed
        return False


def render(queue_registry: CollectorRegistry) -> tuple[bytes, str]:
    """Return the exposition text of this process (or all workers) plus the queue."""
    if metrics_dir.enabled(os.environ):
        registry = CollectorRegistry()
        registry.register(ProcessFilesCollector(os.environ[metrics_dir.ENV]))
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(
        queue_registry
    ), CONTENT_TYPE_LATEST
