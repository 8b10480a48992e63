"""Each assumption sidecar.queue.huey_inside makes about Huey, pinned against the installed version.

The queue reaches inside Huey at two steps (the scheduler's tick, a worker's
take) to make them single writes. These tests fail when a Huey release moves
what those writes rely on: its table and key names, the consumer's loop, the
order in which ``execute`` reschedules a retry.
"""

from __future__ import annotations

import inspect
import time
from datetime import UTC, datetime, timedelta

import huey
import huey.consumer
from huey.api import Huey
from huey.exceptions import RetryTask

from sidecar.queue.huey_inside import (
    LanesConsumer,
    SidecarRedisHuey,
    SidecarSqliteHuey,
    change_kwargs,
    due_at,
    register_task,
)
from sidecar.tasks.queue import JobQueue


def test_the_installed_huey_is_the_version_these_tests_cover() -> None:
    """pyproject.toml pins huey to the minor version pinned here."""
    assert huey.__version__.startswith("3.5."), huey.__version__


def test_the_consumer_enqueues_only_what_read_schedule_returns() -> None:
    """Scheduler.loop enqueues read_schedule's list: returning [] after our move enqueues nothing twice."""
    source = inspect.getsource(huey.consumer.Scheduler.loop)
    assert "self.huey.read_schedule(now)" in source
    assert "self.huey.enqueue(task)" in source


def test_a_worker_takes_with_dequeue_and_runs_with_execute_and_polls_when_not_blocking() -> (
    None
):
    """Worker.loop: dequeue(), then execute(task) in the same thread; sleeps when storage.blocking is False."""
    source = inspect.getsource(huey.consumer.Worker.loop)
    assert source.index("self.huey.dequeue()") < source.index("self.huey.execute(task")
    assert "not self.huey.storage.blocking" in source


def test_huey_keeps_the_private_helpers_we_call() -> None:
    """_emit(signal, task) and _get_timestamp() exist with the signatures used."""
    assert list(inspect.signature(Huey._emit).parameters)[:3] == [
        "self",
        "signal",
        "task",
    ]
    assert callable(Huey._get_timestamp)


def test_due_jobs_move_to_the_ready_queue_in_the_tick(queue: JobQueue) -> None:
    """read_schedule returns nothing and leaves every due job ready (Huey's table/key names hold)."""
    for ticket_id in range(1, 6):
        queue.enqueue_reconcile(ticket_id, eta=datetime.now(UTC) - timedelta(seconds=1))
    queue.enqueue_reconcile(9, eta=datetime.now(UTC) + timedelta(hours=1))
    assert (queue.depth(), queue.scheduled()) == (0, 6)
    assert queue.huey.read_schedule() == []
    assert (queue.depth(), queue.scheduled()) == (5, 1)
    assert [job.subject_id for job in queue.pending_jobs()] == [1, 2, 3, 4, 5]


def test_a_taken_job_is_in_flight_until_huey_has_put_it_where_it_goes_next(
    queue: JobQueue,
) -> None:
    """dequeue writes the in-flight record; a retry is back in the schedule before execute drops it."""
    huey_ = queue.huey
    assert isinstance(huey_, SidecarSqliteHuey | SidecarRedisHuey)
    seen: list[tuple[int, int]] = []

    def flaky(ticket_id: int, task: object) -> None:
        # Inside the run: the job is recorded, so a SIGKILL here loses nothing.
        seen.append((queue.depth(), len(queue.held_inflight())))
        raise RetryTask(delay=3600)

    task_wrapper = huey_.task(context=True, retries=1, name="pin_flaky")(flaky)
    huey_.enqueue(task_wrapper.s(1))
    task = huey_.dequeue()
    assert queue.held_inflight() and queue.depth() == 0
    # A worker that died here: the record lapses and the job comes back.
    huey_.execute(task)
    assert seen == [(0, 1)]
    assert queue.held_inflight() == [] and queue.scheduled() == 1
    assert _stored_records(queue) == []


def test_huey_reschedules_a_retry_inside_execute() -> None:
    """Huey._execute requeues a RetryTask before it returns (our record is dropped after)."""
    source = inspect.getsource(Huey._execute)
    assert "except RetryTask" in source and "self._requeue_task(" in source


def _stored_records(queue: JobQueue) -> list[tuple[str, bytes]]:
    """Every in-flight record in the store, taken as if all had lapsed."""
    return queue._inflight.take_lapsed(time.time() + 3600)  # type: ignore[attr-defined]


def test_a_dead_workers_taken_job_comes_back(queue: JobQueue) -> None:
    """The record dequeue wrote is the one recover_inflight brings back once lapsed."""
    queue.enqueue_reconcile(4)
    task = queue.huey.dequeue()
    assert task is not None and queue.depth() == 0
    # The worker died: nothing renews the record; lapse it.
    queue.renew_inflight(queue.held_inflight(), seconds=-1)
    assert queue.recover_inflight() == 1
    assert [job.subject_id for job in queue.pending_jobs()] == [4]


def test_periodic_and_escalate_jobs_take_no_record(queue: JobQueue) -> None:
    """The sweep and a page (its lease covers it) are dropped from in flight when they start."""
    queue.enqueue_escalate(5)
    task = queue.urgent_huey.dequeue()
    assert task is not None
    ran: list[int] = []
    queue.run_jobs_with(_Recorder(ran))
    queue.urgent_huey.execute(task)
    assert ran == [5] and queue.held_inflight() == []
    assert _stored_records(queue) == []


class _Recorder:
    def __init__(self, ran: list[int]) -> None:
        self.ran = ran

    def run(self, job: str, subject_id: int, **_: object) -> None:
        self.ran.append(subject_id)

    def sweep(self, now: datetime) -> None:
        pass


def test_the_priority_storage_keeps_the_member_shape_our_scripts_write() -> None:
    """PriorityRedisStorage: member = 8-byte big-endian µs prefix + task, score = -priority.

    Our submit, tick and take scripts (sidecar.queue.huey_inside,
    sidecar.queue.redis_store) write and read that shape; its own enqueue,
    dequeue and listing must agree with them.
    """
    from huey.storage import PriorityRedisStorage

    from sidecar.queue.huey_inside import REDIS_MEMBER_PREFIX, redis_member
    from tests.support import redis_queue_url

    enqueue = inspect.getsource(PriorityRedisStorage.enqueue)
    assert "struct.pack('>Q', int(time.time() * 1e6))" in enqueue
    assert "priority = 0 if priority is None else -priority" in enqueue
    assert "zadd(self.queue_key, {prefix + data: priority})" in enqueue
    assert "[8:]" in inspect.getsource(PriorityRedisStorage.enqueued_items)
    assert REDIS_MEMBER_PREFIX == 8
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        try:
            storage = queue.huey.storage
            assert isinstance(storage, PriorityRedisStorage)
            storage.enqueue(b"theirs", 3)
            mine = redis_member(b"mine")
            storage.conn.zadd(storage.queue_key, {mine: -5})  # priority 5
            assert storage.enqueued_items() == [b"mine", b"theirs"]
            assert storage.dequeue() == b"mine"
            assert storage.dequeue() == b"theirs"
        finally:
            queue.close()


def test_the_key_value_store_we_move_out_of_is_where_we_read_it() -> None:
    """The one-time move of flags and dead letters (sidecar.queue.sqlite_store,
    redis_store) reads Huey's ``kv`` and ``counter`` tables and its results and
    counters hashes by these names."""
    from huey.storage import RedisStorage, SqliteStorage

    assert (
        "create table if not exists kv (queue text not null, key text not null, value blob not null"
        in (SqliteStorage.table_kv)
    )
    assert (
        "create table if not exists counter (queue text not null, key text not null, value integer"
        in (SqliteStorage.table_counter)
    )
    init = inspect.getsource(RedisStorage.__init__)
    assert "self.result_key = 'huey.results.%s' % self.name" in init
    assert "self.counter_key = 'huey.counters.%s' % self.name" in init
    assert "hincrby(self.counter_key, key, amount)" in inspect.getsource(
        RedisStorage.incr
    )


# --- the application's reaches past Huey's public API (sidecar.queue.huey_inside) ---


def test_a_task_is_stored_under_the_module_register_task_names() -> None:
    """Huey names a task ``<fn.__module__>.<name>`` in its registry and its stored messages."""
    memory = huey.MemoryHuey("pins", immediate=False)

    def body(ticket_id: int, task: object = None) -> None:
        pass

    wrapper = register_task(
        memory, body, name="reconcile", module="sidecar.tasks.worker"
    )
    task = wrapper.s(7)
    message = memory.serializer.deserialize(memory.serialize_task(task))
    assert message.name == "sidecar.tasks.worker.reconcile"
    again = memory.deserialize_task(memory.serialize_task(task))
    assert again.name == task.name and again.args == (7,)


def test_a_changed_eta_and_kwargs_are_what_huey_stores() -> None:
    """add_schedule stores the task object's eta and kwargs as they are when it is called."""
    memory = huey.MemoryHuey("pins", immediate=False, utc=True)

    def body(ticket_id: int, task: object = None, **kwargs: object) -> None:
        pass

    wrapper = register_task(memory, body, name="reconcile", module="pins")
    task = wrapper.s(7, actor_id=5, attempt=1)
    eta = datetime(2030, 1, 1, 12, 0)
    memory.add_schedule(
        due_at(change_kwargs(task, put={"attempt": 2}, drop=["actor_id"]), eta)
    )
    (stored,) = memory.scheduled()
    assert stored.eta == eta and stored.kwargs == {"attempt": 2}


def test_a_retry_stores_the_kwargs_the_body_changed() -> None:
    """RetryTask from a body: Huey stores the same task object again (the worker's attempt count)."""
    memory = huey.MemoryHuey("pins", immediate=False, utc=True)

    def body(task: object = None, attempt: int = 1) -> None:
        change_kwargs(task, put={"attempt": attempt + 1})
        raise RetryTask(delay=60)

    wrapper = register_task(memory, body, name="job", module="pins")
    memory.enqueue(wrapper.s(attempt=1))
    memory.execute(memory.dequeue())
    (retried,) = memory.scheduled()
    assert retried.kwargs == {"attempt": 2}


def test_a_consumer_stops_through_its_stop_flag_and_shutdown_timeout() -> None:
    """LanesConsumer sets a sibling's stop_flag and shutdown_timeout; Consumer.stop reads both."""
    memory = huey.MemoryHuey("pins", immediate=False)
    consumer = memory.create_consumer(
        workers=1, worker_type="thread", shutdown_timeout=3
    )
    assert consumer.shutdown_timeout == 3 and callable(consumer.stop_flag.set)
    assert "self.shutdown_timeout" in inspect.getsource(huey.consumer.Consumer.stop)
    assert "stop_flag" in inspect.getsource(huey.consumer.Consumer.__init__)
    for name in ("start", "stop", "check_worker_health", "run"):
        assert callable(getattr(huey.consumer.Consumer, name)), name
    assert callable(Huey.notify_interrupted_tasks)
    assert issubclass(LanesConsumer, huey.consumer.Consumer)
