"""End to end: the dashboard's job, page and queue-age metrics through real `sidecar serve`.

`sidecar serve` runs gunicorn and the worker with one multiprocess directory,
so the web's /metrics shows the worker's counters: a SEV 1 ticket's reconcile
and escalate jobs and its page appear there, and the queue age returns to 0
once the queue has drained.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Stack, running_stack
from tests.support import http, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Real `sidecar serve`: the web's /metrics sums the worker process's counters."""
    with running_stack(tmp_path, processes=True) as running:
        yield running


def scrape(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, _, body = http("GET", stack.serve.url + "/metrics")
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


LANES = ("normal", "urgent")


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float],
    name: str,
    **labels: str,
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_page_and_its_jobs_show_on_the_web_metrics(stack: Stack) -> None:
    tid = stack.ticket(severity="sev_1", subject="Pushes fail")
    stack.notify(tid)
    wait_for(lambda: "oncall_paged" in stack.zendesk.ticket(tid).tags, timeout=20)
    samples = wait_for(
        lambda: (
            s
            if value(s := scrape(stack), "sidecar_pages_total", action="trigger") >= 1
            and value(s, "sidecar_jobs_total", job="escalate", outcome="done") >= 1
            else None
        ),
        timeout=10,
    )
    assert value(samples, "sidecar_pages_total", action="trigger") == 1
    assert value(samples, "sidecar_pages_total", action="resolve") == 0
    assert value(samples, "sidecar_jobs_total", job="reconcile", outcome="done") >= 1
    assert (
        value(samples, "sidecar_jobs_total", job="reconcile", outcome="dead_lettered")
        == 0
    )

    # The echoes of our writes drain; then no job waits in either lane.
    def drained() -> bool:
        now = scrape(stack)
        for lane in LANES:  # published for both lanes, idle or not
            assert ("sidecar_queue_age_seconds", frozenset({("lane", lane)})) in now
        ages = [value(now, "sidecar_queue_age_seconds", lane=lane) for lane in LANES]
        return ages == [0.0, 0.0] and value(now, "sidecar_queue_depth") == 0

    wait_for(drained, timeout=15)
