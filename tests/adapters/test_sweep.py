"""Tests for sidecar.tasks.sweep against a fake Zendesk over HTTP and a real SQLite queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.domain.plan import Fields
from sidecar.errors import Transient
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.sweep import CURSOR_FLAG, sweep
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk

FIELDS = Fields(severity=1, due_at=2, due_date=3)
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """A fake Zendesk whose export shows changes at once (no one-minute lag)."""
    with FakeZendesk(export_lag_seconds=0, export_page_size=2) as fake:
        yield fake


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    """A real SQLite queue."""
    q = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


def queued_ticket_ids(queue: JobQueue) -> list[int]:
    """Drain the queue and return the ticket ids of its reconcile jobs."""
    ids = []
    while (task := queue.huey.dequeue()) is not None:
        ids.append(task.args[0])
    return sorted(ids)


def run(zendesk: FakeZendesk, queue: JobQueue) -> int:
    client = ZendeskClient.from_config(zendesk.config())
    return sweep(zendesk=client, queue=queue, fields=FIELDS, clock=lambda: NOW)


def test_first_sweep_looks_back_one_hour_and_skips_tickets_without_sla(
    zendesk: FakeZendesk, queue: JobQueue
) -> None:
    """The first run reads the last hour and enqueues only tickets that have or had an SLA."""
    old = zendesk.add_ticket(
        created_at=NOW - timedelta(hours=2), custom_fields={1: "sev_1"}
    )
    recent = zendesk.add_ticket(
        created_at=NOW - timedelta(minutes=5), custom_fields={1: "sev_3"}
    )
    marked = zendesk.add_ticket(
        created_at=NOW - timedelta(minutes=4), tags=["sla_pending"]
    )
    zendesk.add_ticket(created_at=NOW - timedelta(minutes=3))  # no severity, no marks
    assert run(zendesk, queue) == 2
    assert queued_ticket_ids(queue) == sorted([recent, marked])
    assert old not in queued_ticket_ids(queue)
    first = zendesk.calls(path_contains="/incremental/")[0]
    assert first.query == {
        "start_time": str(int((NOW - timedelta(hours=1)).timestamp()))
    }


def test_cursor_resumes_where_the_last_sweep_ended(
    zendesk: FakeZendesk, queue: JobQueue
) -> None:
    """A later sweep reads from the stored cursor and sees only what changed since."""
    a = zendesk.add_ticket(
        created_at=NOW - timedelta(minutes=5), custom_fields={1: "sev_2"}
    )
    run(zendesk, queue)
    queued_ticket_ids(queue)
    assert queue.get_flag(CURSOR_FLAG)
    assert run(zendesk, queue) == 0
    b = zendesk.add_ticket(created_at=NOW, custom_fields={1: "sev_4"})
    assert run(zendesk, queue) == 1
    assert queued_ticket_ids(queue) == [b]
    assert a != b
    assert "cursor" in zendesk.calls(path_contains="/incremental/")[-1].query


def test_follows_pages_within_one_run(zendesk: FakeZendesk, queue: JobQueue) -> None:
    """Five changed tickets on pages of two are all enqueued by one sweep."""
    ids = [
        zendesk.add_ticket(
            created_at=NOW - timedelta(minutes=10 - i), custom_fields={1: "sev_3"}
        )
        for i in range(5)
    ]
    assert run(zendesk, queue) == 5
    assert queued_ticket_ids(queue) == sorted(ids)
    assert len(zendesk.calls(path_contains="/incremental/")) == 3


def test_a_failed_page_keeps_the_cursor_for_the_next_run(
    zendesk: FakeZendesk, queue: JobQueue
) -> None:
    """When Zendesk fails mid-sweep, the next run starts from the last page that was enqueued."""
    ids = [
        zendesk.add_ticket(
            created_at=NOW - timedelta(minutes=10 - i), custom_fields={1: "sev_3"}
        )
        for i in range(4)
    ]
    zendesk.fail_next(1, 503, path_contains="/incremental/")
    with pytest.raises(Transient):
        run(zendesk, queue)
    assert queue.get_flag(CURSOR_FLAG) is None
    assert run(zendesk, queue) == 4
    assert queued_ticket_ids(queue) == sorted(ids)
