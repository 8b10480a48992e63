"""The dashboard's counters: pages by action, and job outcomes summed across processes.

``sidecar_pages_total{action}`` counts what the escalate job sent to PagerDuty
and recorded on the ticket, once each. ``sidecar_jobs_total`` and
``sidecar_pages_total`` are plain counters, so prometheus_client's
multiprocess mode sums them over gunicorn workers and the worker process: the
last test increments them in two separate processes sharing one directory and
reads the sum, as the web's /metrics does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from sidecar.metrics import JOB_OUTCOMES
from tests.unit.test_reconciler import (
    FakePager,
    FakeScheduler,
    FakeZendesk,
    reconciler,
    ticket,
)


def pages(action: str) -> float:
    value = REGISTRY.get_sample_value("sidecar_pages_total", {"action": action})
    assert value is not None  # both actions are exported from the start
    return value


def test_a_page_counts_once_with_its_record() -> None:
    """The trigger counts when recorded; a retry of the job after success counts nothing."""
    zendesk, pager = FakeZendesk(ticket("sev_1")), FakePager()
    before = pages("trigger"), pages("resolve")
    rec = reconciler(zendesk, FakeScheduler(), pager)
    rec.escalate(42)
    rec.escalate(42)  # finds oncall_paged: pages no one
    assert len(pager.triggers) == 1
    assert (pages("trigger"), pages("resolve")) == (before[0] + 1, before[1])


def test_a_conflict_on_the_record_still_counts_one_page() -> None:
    zendesk, pager = FakeZendesk(ticket("sev_1")), FakePager()
    zendesk.conflicts_left = 2
    before = pages("trigger")
    reconciler(zendesk, FakeScheduler(), pager).escalate(42)
    assert pages("trigger") == before + 1


def test_resolves_count_whether_or_not_the_ticket_can_be_written() -> None:
    """A solved ticket's resolve is recorded and counted; a closed one's is counted without a write."""
    before = pages("resolve")
    for status in ("solved", "closed"):
        paged = ticket("sev_1", status=status, tags=frozenset({"oncall_paged"}))
        reconciler(FakeZendesk(paged), FakeScheduler(), FakePager()).escalate(42)
    assert pages("resolve") == before + 2


def test_no_page_needed_counts_nothing() -> None:
    before = pages("trigger"), pages("resolve")
    reconciler(FakeZendesk(ticket("sev_3")), FakeScheduler(), FakePager()).escalate(42)
    assert (pages("trigger"), pages("resolve")) == before


_COUNT_IN_A_PROCESS = """
import sys
from sidecar.metrics import count_job, count_page
for _ in range(int(sys.argv[1])):
    count_job("reconcile", "done")
    count_job("escalate", "retry")
    count_page("trigger")
"""


def test_counters_add_up_across_processes(tmp_path: Path) -> None:
    """Two processes sharing PROMETHEUS_MULTIPROC_DIR: the collector reads the sum of both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for times in (3, 4):
        subprocess.run(
            [sys.executable, "-c", _COUNT_IN_A_PROCESS, str(times)],
            env=env,
            check=True,
            timeout=60,
        )
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]

    def value(name: str, labels: dict[str, str]) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("sidecar_jobs_total", {"job": "reconcile", "outcome": "done"}) == 7
    assert value("sidecar_jobs_total", {"job": "escalate", "outcome": "retried"}) == 7
    assert value("sidecar_pages_total", {"action": "trigger"}) == 7
    # Every job x outcome is exported from the start, at zero.
    assert (
        value("sidecar_jobs_total", {"job": "refresh_org", "outcome": "dropped"}) == 0
    )
    assert set(JOB_OUTCOMES.values()) == {
        "done", "dropped", "retried", "throttled", "dead_lettered", "budget_wait"
    }  # fmt: skip


def test_an_empty_file_left_by_a_killed_process_does_not_fail_the_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus_client creates a process's .db file before sizing it
    (prometheus/client_python#1199): a process killed in between leaves a
    0-byte file, and its collector then fails every scrape for good. Ours
    skips it and still serves every other process's counts."""
    from sidecar.metrics import render

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-c", _COUNT_IN_A_PROCESS, "2"],
        env=env,
        check=True,
        timeout=60,
    )
    (tmp_path / "counter_999999.db").write_bytes(b"")  # killed while creating it
    (tmp_path / "gauge_livesum_999999.db").write_bytes(b"\0\0")  # or while sizing it
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body, _ = render(CollectorRegistry())
    assert 'sidecar_pages_total{action="trigger"} 2.0' in body.decode()
