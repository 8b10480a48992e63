"""`sidecar jobs`, `replay` and `backfill` against FakeZendesk over HTTP and a real SQLite queue."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.tasks.bulk import BACKFILL_PRIORITY, REPLAY_PRIORITY, BackfillFilter
from sidecar.tasks.queue import JobQueue
from tests.fake_zendesk import FakeZendesk
from tests.support import sidecar_env

SEVERITY_FIELD, DUE_AT_FIELD = 360001, 360002


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        yield fake


def environment(tmp_path: Path, zendesk: FakeZendesk) -> dict[str, str]:
    return sidecar_env(
        tmp_path,
        **zendesk.env(),
        SIDECAR_SEVERITY_FIELD_ID=str(SEVERITY_FIELD),
        SIDECAR_DUE_AT_FIELD_ID=str(DUE_AT_FIELD),
    )


def make_queue(env: dict[str, str]) -> JobQueue:
    """The service's queue, as `sidecar serve` would have created it."""
    return JobQueue.from_url(env["SIDECAR_QUEUE_URL"])


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def reconciles(queue: JobQueue) -> Counter[int]:
    return Counter(
        job.subject_id for job in queue.pending_jobs() if job.task == "reconcile"
    )


# --- jobs ----------------------------------------------------------------------


def test_queue_commands_refuse_to_create_a_queue(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """Run where no queue exists, every queue command says so and creates nothing."""
    env = environment(tmp_path, zendesk)
    for args in (
        ["jobs", "pending"],
        ["jobs", "scheduled"],
        ["jobs", "failed"],
        ["jobs", "retry", "--all"],
        ["replay", "--ticket", "1"],
        ["backfill"],
    ):
        result = run(env, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "no queue at" in result.output and "SIDECAR_QUEUE_URL" in result.output
    assert not (tmp_path / "queue.db").exists()


def test_jobs_pending_and_scheduled_name_the_queue(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """pending lists ready jobs, scheduled lists timers with their time; both name the queue."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    queue.enqueue_reconcile(7)
    queue.enqueue_escalate(8)
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    queue.enqueue_reconcile(9, eta=at)
    pending = run(env, "jobs", "pending")
    assert pending.exit_code == 0, pending.output
    lines = pending.output.splitlines()
    assert lines[0] == f"queue: sqlite {tmp_path / 'queue.db'}"
    assert any("reconcile ticket 7" in line for line in lines)
    assert any("escalate ticket 8" in line for line in lines)
    assert lines[-1] == "2 pending jobs: 1 escalate, 1 reconcile"
    scheduled = run(env, "jobs", "scheduled")
    assert "reconcile ticket 9  at 2030-01-02T03:04:05Z" in scheduled.output
    assert scheduled.output.splitlines()[-1] == "1 scheduled job: 1 reconcile"
    failed = run(env, "jobs", "failed")
    assert failed.output.splitlines() == [
        f"queue: sqlite {tmp_path / 'queue.db'}",
        "no failed jobs",
    ]


# --- replay ----------------------------------------------------------------------


def test_replay_tickets_enqueues_each_once_below_live_traffic(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """--ticket ids are enqueued once each, at replay priority."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    result = run(env, "replay", "--ticket", "5", "--ticket", "6", "--ticket", "5")
    assert result.exit_code == 0, result.output
    assert "enqueued 2 reconciles: 5 6" in result.output
    assert reconciles(queue) == Counter({5: 1, 6: 1})
    assert {job.priority for job in queue.pending_jobs()} == {REPLAY_PRIORITY}


def test_replay_a_time_range(tmp_path: Path, zendesk: FakeZendesk) -> None:
    """--since/--until enqueue the tickets with an SLA whose last change lies in the range."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    sev = {SEVERITY_FIELD: "sev_2"}
    before = zendesk.add_ticket(created_at=base, custom_fields=sev)
    inside = [
        zendesk.add_ticket(created_at=base + timedelta(hours=h), custom_fields=sev)
        for h in (1, 2)
    ]
    no_sla = zendesk.add_ticket(created_at=base + timedelta(hours=1, minutes=30))
    after = zendesk.add_ticket(created_at=base + timedelta(hours=4), custom_fields=sev)
    since = (base + timedelta(minutes=30)).isoformat()
    until = (base + timedelta(hours=3)).isoformat()
    dry = run(env, "replay", "--since", since, "--until", until, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would enqueue 2 reconciles: {inside[0]} {inside[1]}" in dry.output
    assert reconciles(queue) == Counter()
    result = run(env, "replay", "--since", since, "--until", until)
    assert result.exit_code == 0, result.output
    assert reconciles(queue) == Counter(inside)
    assert not {before, no_sla, after} & set(reconciles(queue))


def test_replay_needs_tickets_or_a_range(tmp_path: Path, zendesk: FakeZendesk) -> None:
    """Neither or both of --ticket and --since is a usage error; a bad time is named."""
    env = environment(tmp_path, zendesk)
    make_queue(env)
    assert run(env, "replay").exit_code == 2
    assert run(env, "replay", "--ticket", "1", "--since", "2026-01-01").exit_code == 2
    bad = run(env, "replay", "--since", "yesterday")
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output


# --- backfill ----------------------------------------------------------------------


def add_tickets(zendesk: FakeZendesk, n: int) -> list[int]:
    created = datetime(2026, 11, 2, tzinfo=UTC)
    ids = []
    for i in range(n):
        status = ("new", "open", "pending", "hold")[i % 4]
        ids.append(
            zendesk.add_ticket(
                status=status,
                created_at=created + timedelta(minutes=i),
                custom_fields={SEVERITY_FIELD: f"sev_{i % 5 + 1}"},
            )
        )
    return ids


def test_backfill_filters_and_dry_run_writes_nothing(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """--status/--since narrow the tickets; --dry-run counts and leaves the queue empty."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    ids = add_tickets(zendesk, 30)
    solved = zendesk.add_ticket(
        status="solved", custom_fields={SEVERITY_FIELD: "sev_1"}
    )
    plain = zendesk.add_ticket(status="open")  # no severity: nothing to reconcile
    dry = run(env, "backfill", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "backfill done: 1 page, 32 tickets read, would enqueue 30" in dry.output
    assert reconciles(queue) == Counter()
    assert queue.get_flag("backfill:" + BackfillFilter().key()) is None
    narrow = run(env, "backfill", "--status", "open,hold", "--since", "2026-11-02")
    assert narrow.exit_code == 0, narrow.output
    expected = [t for i, t in enumerate(ids) if i % 4 in (1, 3)]
    assert reconciles(queue) == Counter(expected)
    assert solved not in reconciles(queue) and plain not in reconciles(queue)
    assert {job.priority for job in queue.pending_jobs()} == {BACKFILL_PRIORITY}
    bad = run(env, "backfill", "--status", "opne")
    assert bad.exit_code == 2 and "unknown status opne" in bad.output


def test_backfill_1500_tickets_resumes_after_sigint_without_redoing_pages(
    tmp_path: Path, zendesk: FakeZendesk
) -> None:
    """Ctrl-C stops after a page; the rerun resumes at the next page; every ticket is enqueued once."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    ids = add_tickets(zendesk, 1500)
    zendesk.delay(0.3, path_contains="/api/v2/tickets")  # slow pages: time to interrupt
    command = [sys.executable, "-c", "from sidecar.cli import main; main()", "backfill"]
    first = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None
    lines = []
    for line in first.stdout:
        lines.append(line)
        if line.startswith("page 4:"):
            first.send_signal(signal.SIGINT)
            break
    rest, _ = first.communicate(timeout=30)
    assert first.returncode == 130, "".join(lines) + rest
    assert "run the same command again to resume" in rest
    stopped_at = int(rest.split("backfill stopped after page ")[1].split()[0])
    assert 4 <= stopped_at < 15
    assert sum(reconciles(queue).values()) == stopped_at * 100

    zendesk.clear_faults()
    second = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"resuming after page {stopped_at}" in second.stdout
    assert "backfill done: 15 pages, 1500 tickets read, enqueued 1500" in second.stdout
    assert reconciles(queue) == Counter(ids)  # each exactly once
    # No page was read twice: every cursor (and the first page) was asked for once.
    listed = zendesk.calls("GET", "/api/v2/tickets")
    cursors = [call.query.get("page[after]") for call in listed]
    assert len(cursors) == 15 and len(set(cursors)) == 15
    # Finished: the resume state is gone, so a new run starts over.
    again = run(env, "backfill", "--dry-run")
    assert "resuming" not in again.output


def test_backfill_waits_out_a_rate_limit(tmp_path: Path, zendesk: FakeZendesk) -> None:
    """A 429 on a page is waited out (Retry-After) and the page read again."""
    env = environment(tmp_path, zendesk)
    queue = make_queue(env)
    ids = add_tickets(zendesk, 3)
    zendesk.fail_next(1, 429, retry_after=1, path_contains="/api/v2/tickets")
    started = time.monotonic()
    result = run(env, "backfill")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1
    assert reconciles(queue) == Counter(ids)
