"""Tests for sidecar.tasks.queue and the worker's retry/dead-letter semantics.

Each test runs against SQLite (tmp_path) and the real Redis server
(SIDECAR_TEST_REDIS_URL, a queue name of its own per test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sidecar.config import Config
from sidecar.errors import (
    AuthFailed,
    ConfigError,
    NotFound,
    QueueUnavailable,
    RateLimited,
    Rejected,
    Transient,
)
from sidecar.tasks.jobs import Handlers, Lane
from sidecar.tasks.queue import CLAIM_TTL_SECONDS, JobQueue
from sidecar.tasks.worker import MAX_ATTEMPTS, Runner, retry_delay, serve_jobs


def handle_with(queue: JobQueue, handlers: Callable[[], Handlers]) -> Runner:
    """Run this process's jobs with ``handlers()`` (what `sidecar worker`'s wiring does)."""
    return serve_jobs(queue, handlers)


def run_next(
    queue: JobQueue, handler: Callable[[int], None], *, later: bool = True
) -> None:
    """Run one job here, urgent lane first; with ``later`` act a day ahead so retry delays are due."""
    handle_with(queue, lambda: {"reconcile": handler, "escalate": handler})
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1 if later else 0)
    for lane in (Lane.URGENT, Lane.NORMAL):
        huey = queue.lane_huey(lane)
        for task in huey.read_schedule(now):
            huey.enqueue(task)
    for lane in (Lane.URGENT, Lane.NORMAL):
        huey = queue.lane_huey(lane)
        task = huey.dequeue()
        if task is not None:
            huey.execute(task, timestamp=now)
            return
    raise AssertionError("no job to run")


def test_enqueue_and_depth(queue: JobQueue) -> None:
    """Enqueued jobs count in depth; eta jobs wait in the schedule, not the queue."""
    queue.enqueue_reconcile(1)
    queue.enqueue_reconcile(2, eta=datetime.now(UTC) + timedelta(hours=1))
    assert (queue.depth(), queue.scheduled()) == (1, 1)
    seen: list[int] = []
    run_next(queue, seen.append, later=False)
    assert seen == [1]
    assert (queue.depth(), queue.scheduled()) == (0, 1)


def test_submit_is_deduplicated(queue: JobQueue) -> None:
    """A dedup key enqueues once; a second submit returns False."""
    assert queue.submit_reconcile(7, dedup_key="zendesk:a") is True
    assert queue.submit_reconcile(7, dedup_key="zendesk:a") is False
    assert queue.submit_reconcile(7, dedup_key="zendesk:b") is True
    assert queue.submit_reconcile(7, dedup_key=None) is True
    # Accepted changes to one ticket collapse into the reconcile still waiting.
    assert queue.depth() == 1


def test_an_urgent_submit_never_collapses_into_an_ordinary_wait(
    queue: JobQueue,
) -> None:
    """A SEV 1/2 event goes to the urgent lane even while an ordinary reconcile waits."""
    assert queue.submit_reconcile(7, dedup_key="zendesk:a") is True
    assert queue.submit_reconcile(7, dedup_key="zendesk:b", lane=Lane.URGENT) is True
    assert queue.submit_reconcile(7, dedup_key="zendesk:c", lane=Lane.URGENT) is True
    assert queue.submit_reconcile(7, dedup_key="zendesk:d") is True
    # One waiting reconcile per lane; later events of each lane collapse into it.
    assert queue.lane_huey(Lane.NORMAL).pending_count() == 1
    assert queue.lane_huey(Lane.URGENT).pending_count() == 1
    ran: list[tuple[int, dict[str, object]]] = []
    # The urgent lane's job runs first, and its handler hears it is urgent.
    run_next(queue, lambda t, **kw: ran.append((t, kw)), later=False)
    assert ran == [(7, {"urgent": True})]
    assert queue.lane_huey(Lane.URGENT).pending_count() == 0
    # It freed its lane's claim only: the next urgent event needs a job of its own.
    assert queue.submit_reconcile(7, dedup_key="zendesk:e", lane=Lane.URGENT) is True
    assert queue.lane_huey(Lane.URGENT).pending_count() == 1
    assert queue.submit_reconcile(7, dedup_key="zendesk:f") is True
    assert queue.lane_huey(Lane.NORMAL).pending_count() == 1


def test_submit_with_a_replay_key_needs_both_keys_free(queue: JobQueue) -> None:
    """A held replay key makes the submit a duplicate and claims nothing else."""
    assert queue.submit_reconcile(7, dedup_key="inv:1", replay_key="signed:x") is True
    assert queue.submit_reconcile(7, dedup_key="inv:2", replay_key="signed:x") is False
    assert queue.submit_reconcile(7, dedup_key=None, replay_key="signed:x") is False
    # inv:2 was rolled back with the failed submit: a fresh signature may use it.
    assert queue.submit_reconcile(7, dedup_key="inv:2", replay_key="signed:y") is True
    assert queue.submit_reconcile(7, dedup_key="inv:1", replay_key="signed:z") is False
    assert queue.depth() == 1  # the two accepted changes share the waiting reconcile


def test_claim_and_release(queue: JobQueue) -> None:
    """claim() is put-if-empty; release() makes the key claimable again."""
    assert queue.claim("page:1") is True
    assert queue.claim("page:1") is False
    queue.release("page:1")
    assert queue.claim("page:1") is True


def test_flags_are_shared_across_instances(queue: JobQueue, queue_url: str) -> None:
    """A flag set through one JobQueue is read through another on the same URL."""
    other = JobQueue.from_url(queue_url)
    queue.set_flag("org_changed:5", "2025-01-01T00:00:00+00:00")
    assert other.get_flag("org_changed:5") == "2025-01-01T00:00:00+00:00"
    other.set_flag("org_changed:5", None)
    assert queue.get_flag("org_changed:5") is None
    other.close()


def test_handler_runs_with_ticket_id(queue: JobQueue) -> None:
    """The worker calls the handler with the job's ticket id."""
    seen: list[int] = []
    queue.enqueue_reconcile(42)
    run_next(queue, seen.append)
    assert seen == [42]


def test_transient_error_is_retried_with_backoff(queue: JobQueue) -> None:
    """A Transient failure reschedules the job with the backoff delay."""

    def flaky(ticket_id: int) -> None:
        raise Transient("zendesk 503", service="zendesk", status=503)

    queue.enqueue_reconcile(5)
    before = time.time()
    run_next(queue, flaky)
    assert (queue.depth(), queue.scheduled()) == (0, 1)
    (task,) = queue.huey.scheduled()
    assert task.kwargs["attempt"] == 2
    eta = task.eta.replace(tzinfo=UTC).timestamp()
    assert before + retry_delay(1) - 1 <= eta <= time.time() + retry_delay(1) + 1


def test_retry_after_is_honoured(queue: JobQueue) -> None:
    """A RateLimited error waits at least its retry_after."""

    def limited(ticket_id: int) -> None:
        raise RateLimited("429", service="zendesk", status=429, retry_after=120)

    queue.enqueue_reconcile(5)
    run_next(queue, limited)
    (task,) = queue.huey.scheduled()
    assert task.eta.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(seconds=110)


def test_rate_limits_use_no_attempt(queue: JobQueue) -> None:
    """A storm of 429s longer than MAX_ATTEMPTS dead-letters nothing: a 429 asks to wait."""
    calls: list[int] = []

    def limited(ticket_id: int) -> None:
        calls.append(ticket_id)
        raise RateLimited("429", service="zendesk", status=429, retry_after=1)

    queue.enqueue_escalate(5)
    for _ in range(MAX_ATTEMPTS + 4):
        run_next(queue, limited)
    assert len(calls) == MAX_ATTEMPTS + 4
    assert queue.failed_jobs() == []
    (task,) = queue.lane_huey(Lane.URGENT).scheduled()
    assert task.kwargs.get("attempt", 1) == 1 and task.kwargs["first_failure"]


def test_rate_limits_count_again_after_an_hour(queue: JobQueue) -> None:
    """After an hour of failing, 429s use attempts again, so nothing retries forever."""

    def limited(ticket_id: int) -> None:
        raise RateLimited("429", service="zendesk", status=429, retry_after=1)

    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    queue.huey.enqueue(
        queue.tasks.reconcile.s(6, attempt=MAX_ATTEMPTS, first_failure=long_ago)
    )
    run_next(queue, limited)
    assert [job.ticket_id for job in queue.failed_jobs()] == [6]


def test_retries_are_bounded_then_dead_lettered(queue: JobQueue) -> None:
    """After MAX_ATTEMPTS failures the job is a dead letter with its history."""
    calls: list[int] = []

    def broken(ticket_id: int) -> None:
        calls.append(ticket_id)
        raise ValueError("unexpected payload shape")

    queue.enqueue_reconcile(9)
    for _ in range(MAX_ATTEMPTS):
        run_next(queue, broken)
    assert len(calls) == MAX_ATTEMPTS
    assert (queue.depth(), queue.scheduled()) == (0, 0)
    (job,) = queue.failed_jobs()
    assert (job.ticket_id, job.attempts) == (9, MAX_ATTEMPTS)
    assert job.error == "ValueError: unexpected payload shape"
    assert job.first_failure_at <= job.last_failure_at
    assert queue.dead_letters_total() == 1


def test_not_found_is_dropped(queue: JobQueue) -> None:
    """A deleted ticket is neither retried nor dead-lettered."""

    def gone(ticket_id: int) -> None:
        raise NotFound("ticket 3 not found", service="zendesk", status=404)

    queue.enqueue_reconcile(3)
    run_next(queue, gone)
    assert (queue.depth(), queue.scheduled(), queue.failed_jobs()) == (0, 0, [])


def test_rejected_is_dead_lettered_at_once(queue: JobQueue) -> None:
    """A Rejected error is not retried."""

    def rejected(ticket_id: int) -> None:
        raise Rejected("422 invalid field", service="zendesk", status=422)

    queue.enqueue_reconcile(4)
    run_next(queue, rejected)
    assert queue.scheduled() == 0
    assert [job.attempts for job in queue.failed_jobs()] == [1]
    assert queue.get_flag("zendesk_auth_failed") is None


def test_auth_failure_sets_flag(queue: JobQueue) -> None:
    """AuthFailed dead-letters the job and raises the zendesk_auth_failed flag."""

    def denied(ticket_id: int) -> None:
        raise AuthFailed("401", service="zendesk", status=401)

    queue.enqueue_reconcile(4)
    run_next(queue, denied)
    assert queue.get_flag("zendesk_auth_failed")
    assert len(queue.failed_jobs()) == 1


def test_retry_failed_requeues_once(queue: JobQueue) -> None:
    """`jobs retry ID` re-enqueues a dead letter and removes it; unknown ids fail."""

    def rejected(ticket_id: int) -> None:
        raise Rejected("nope", service="zendesk", status=400)

    queue.enqueue_reconcile(11)
    queue.enqueue_reconcile(12)
    run_next(queue, rejected)
    run_next(queue, rejected)
    first, _second = queue.failed_jobs()
    assert queue.retry_failed(first.job_id) is True
    assert queue.retry_failed(first.job_id) is False
    assert queue.retry_all_failed() == 1
    assert queue.failed_jobs() == []
    assert sorted(t.args[0] for t in queue.huey.pending()) == [11, 12]
    assert queue.dead_letters_total() == 2


def test_handler_is_built_once_per_process(queue: JobQueue) -> None:
    """The handler factory runs on the first job only."""
    built: list[int] = []

    def factory() -> Handlers:
        built.append(1)
        return {"reconcile": lambda ticket_id: None}

    handle_with(queue, factory)
    for ticket_id in (1, 2, 3):
        queue.enqueue_reconcile(ticket_id)
        queue.huey.execute(queue.huey.dequeue())
    assert built == [1]


def test_prune_drops_only_old_claims(tmp_path: Path) -> None:
    """SQLite claims older than the dedup window are pruned."""
    queue = JobQueue.from_url(f"sqlite:///{tmp_path / 'q.db'}")
    queue.claim("old")
    later = time.time() + CLAIM_TTL_SECONDS + 10
    queue.claim("new")
    assert queue.prune_claims(now=time.time()) == 0
    assert queue.prune_claims(now=later) == 2
    assert queue.claim("old") is True
    queue.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://db/x", "expected sqlite:///path/queue.db or redis://"),
        ("sqlite://relative.db", "expected sqlite:///path/queue.db"),
        ("redis://:hunter2@host:notaport/0", "SIDECAR_QUEUE_URL=redis://:\\*\\*\\*@"),
        ("redis://host:6379/db", "expected redis://host:port/db"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    """from_url names the URL (without its password) and what is expected."""
    with pytest.raises(ConfigError, match=message) as caught:
        JobQueue.from_url(url)
    assert "hunter2" not in str(caught.value)


def test_default_url_is_sqlite_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no URL the queue is sidecar-queue.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    queue = JobQueue.from_url(Config().queue_url)
    queue.enqueue_reconcile(1)
    assert (tmp_path / "sidecar-queue.db").exists()
    queue.close()


def test_unreachable_redis_is_queue_unavailable() -> None:
    """A Redis that does not answer raises QueueUnavailable (the web answers 503)."""
    from tests.support import free_port

    queue = JobQueue.from_url(f"redis://127.0.0.1:{free_port()}/15")
    with pytest.raises(QueueUnavailable, match="ConnectionError"):
        queue.ping()
    with pytest.raises(QueueUnavailable):
        queue.submit_reconcile(1, dedup_key="k")


def test_escalate_jobs_dead_letter_and_retry_as_escalate(queue: JobQueue) -> None:
    """A failed escalate job is listed as escalate and its retry runs escalate again."""
    ran: list[str] = []

    def rejected(ticket_id: int) -> None:
        raise Rejected("invalid routing key", service="pagerduty", status=400)

    handle_with(
        queue,
        lambda: {"reconcile": lambda t: ran.append("reconcile"), "escalate": rejected},
    )
    queue.enqueue_escalate(5)
    assert queue.huey.dequeue() is None, "a page waits in the urgent lane only"
    huey = queue.urgent_huey
    huey.execute(huey.dequeue())
    (job,) = queue.failed_jobs()
    assert (job.task, job.ticket_id) == ("escalate", 5)
    assert queue.get_flag("zendesk_auth_failed") is None  # not a Zendesk failure
    assert queue.retry_failed(job.job_id)
    handle_with(
        queue,
        lambda: {
            "reconcile": lambda t: ran.append("reconcile"),
            "escalate": lambda t: ran.append("escalate"),
        },
    )
    huey.execute(huey.dequeue())  # the retried page is back in the urgent lane
    assert ran == ["escalate"]


def test_a_successful_job_clears_the_auth_flag(queue: JobQueue) -> None:
    """Once a job gets through to Zendesk again, /readyz's auth flag is cleared."""
    queue.set_flag("zendesk_auth_failed", "2026-11-27T00:00:00+00:00")
    queue.enqueue_reconcile(6)
    run_next(queue, lambda ticket_id: None)
    assert queue.get_flag("zendesk_auth_failed") is None


def test_timer_job_is_scheduled_and_frees_its_claim(queue: JobQueue) -> None:
    """A timed reconcile waits in the schedule (not the queue) and releases its wake claim when it runs."""
    assert queue.claim("wake:acme:7:2026-11-27T21:00:00Z")
    due = datetime.now(UTC) + timedelta(seconds=30)
    queue.enqueue_reconcile(7, eta=due, wake_key="wake:acme:7:2026-11-27T21:00:00Z")
    assert (queue.depth(), queue.scheduled()) == (0, 1)
    seen: list[int] = []
    run_next(queue, seen.append)
    assert seen == [7]
    assert queue.claim("wake:acme:7:2026-11-27T21:00:00Z")


def test_one_sweep_per_minute_across_workers(queue: JobQueue) -> None:
    """Two workers' schedulers firing in the same minute run the sweep once; a failing sweep is logged, not raised."""
    runs: list[int] = []
    runner = handle_with(queue, lambda: {"sweep": runs.append})
    minute = datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC)
    runner.sweep(minute)
    runner.sweep(minute.replace(second=50))
    assert runs == [0]

    def broken(_: int) -> None:
        raise Transient("export 503", service="zendesk", status=503)

    runner = handle_with(queue, lambda: {"sweep": broken})
    runner.sweep(minute + timedelta(minutes=1))  # does not raise


def test_claim_with_a_lifetime_can_be_taken_again_after_it(queue: JobQueue) -> None:
    """A claim is held for its lifetime and can be claimed again once that has passed."""
    assert queue.claim("page:acme:1", ttl_seconds=3600)
    assert not queue.claim("page:acme:1", ttl_seconds=3600)
    assert queue.claim("page:acme:2", ttl_seconds=1)
    time.sleep(1.1)
    assert queue.claim("page:acme:2", ttl_seconds=1)
