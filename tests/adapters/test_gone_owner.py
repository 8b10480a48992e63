"""A restarted worker takes its killed predecessor's jobs at once (SQLite and real Redis).

In-flight records and escalation leases name their owner (``host:pid:boot``,
sidecar.queue.inflight). A record whose owner ran on this host and runs no more
is taken in the next watchdog round, not after its 20 s lapse: measured on
tests/e2e/test_crash_timers.py, a SIGKILL during every job kind went from
20.3-20.4 s to 0.3 s until every kind ran again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.queue import inflight, redis_store, sqlite_store
from sidecar.queue.inflight import owner_gone, this_host, this_owner
from sidecar.tasks.jobs import escalation_lease
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.worker import recover_escalations


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _dead_owner() -> str:
    return f"{this_host()}:{_dead_pid()}:0123456789ab"


def test_who_is_gone() -> None:
    host = this_host()
    assert not owner_gone(this_owner())
    assert owner_gone(_dead_owner())
    # This pid's earlier life (a container's first process gets the same pid).
    assert owner_gone(f"{host}:{os.getpid()}:not-this-boot")
    # A running process, and any process of another host: not judged gone.
    assert not owner_gone(f"{host}:{os.getppid()}:x")
    assert not owner_gone(f"elsewhere.example:{_dead_pid()}:x")
    # The same host name in another PID namespace (a container sharing it).
    other_namespace = f"{socket.gethostname()}/1:{_dead_pid()}:x"
    assert this_host() == socket.gethostname() or not owner_gone(other_namespace)


@given(st.text(max_size=40))
def test_an_unreadable_owner_is_never_gone(owner: str) -> None:
    if owner.count(":") >= 2 and owner.rsplit(":", 2)[1].isdigit():
        return  # readable: judged by the rules above
    assert not owner_gone(owner)


def test_a_gone_workers_job_comes_back_at_once(queue: JobQueue) -> None:
    queue.enqueue_reconcile(3)
    task = queue.huey.dequeue()  # taken and recorded by this (live) process
    assert task is not None
    assert queue.recover_inflight() == 0  # its owner runs: left alone
    data = queue.huey.serialize_task(task)
    # The same record, owned by a worker of this host that was killed.
    queue._inflight.hold(str(task.id), "normal", data, 9e12, owner=_dead_owner())
    queue.huey.taking.drop(str(task.id))
    assert queue.recover_inflight() == 1  # long before its lapse
    assert queue.recover_inflight() == 0  # once
    (again,) = queue.huey.pending()
    assert (again.id, again.args) == (task.id, (3,))


def test_a_gone_workers_escalation_is_enqueued_again_at_once(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _dead_owner()
    with monkeypatch.context() as patch:
        for module in (sqlite_store, redis_store):
            patch.setattr(module, "this_owner", lambda: dead)
        assert queue.hold_escalation(8)  # a worker paging, then SIGKILLed
    assert not queue.hold_escalation(8)  # its lease is live for 20 s...
    assert recover_escalations(queue) == 1  # ...but its holder is gone
    (job,) = queue.urgent_huey.pending()
    assert (job.name.rsplit(".", 1)[-1], job.args) == ("escalate", (8,))
    assert recover_escalations(queue) == 0  # the lease is this process's now
    assert not queue.hold_escalation(8)
    queue.end_lease(escalation_lease(8))


def test_a_gone_holders_escalation_waiting_in_the_queue_is_not_doubled(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web process that submitted a page and then exited: its job still waits."""
    dead = _dead_owner()
    with monkeypatch.context() as patch:
        for module in (sqlite_store, redis_store):
            patch.setattr(module, "this_owner", lambda: dead)
        assert queue.submit_escalate(8)
    assert recover_escalations(queue) == 0
    assert len(queue.urgent_huey.pending()) == 1


def test_owner_is_recomputed_in_a_forked_child() -> None:
    assert inflight.this_owner().split(":")[1] == str(os.getpid())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own pid and boot
        os.write(write, inflight.this_owner().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 200).decode()
    assert child.split(":")[1] == str(pid) and child != this_owner()
    assert owner_gone(child)
