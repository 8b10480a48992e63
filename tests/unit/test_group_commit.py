"""The group commit (sidecar.queue.group_commit): each writer gets its own answer, after its batch ran."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from sidecar.queue.group_commit import GroupCommit, Outcome


class Recorder:
    """A ``run`` that doubles each item, checks batches never overlap, and records what it 'committed'."""

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None):
        self.batches: list[list[int]] = []
        self.committed: set[int] = set()
        self.running = False
        self.fail_on = fail_on
        self.gate = gate

    def __call__(self, items: Sequence[int]) -> list[Outcome[int]]:
        assert not self.running, "two batches at once"
        self.running = True
        try:
            if self.gate is not None:
                self.gate.wait(5)  # let the other writers pile up behind the first
            self.batches.append(list(items))
            if self.fail_on in items:
                raise RuntimeError("disk full")
            outcomes: list[Outcome[int]] = [
                (None, ValueError(item)) if item < 0 else (item * 2, None)
                for item in items
            ]
            self.committed.update(items)  # "commit": only now may a writer answer
            return outcomes
        finally:
            self.running = False


def test_one_writer_alone_runs_a_batch_of_its_own() -> None:
    run = Recorder()
    group = GroupCommit(run)
    assert group.submit(3) == 6
    assert group.submit(4) == 8
    assert run.batches == [[3], [4]]


def test_writers_arriving_together_share_batches_and_each_gets_its_own_answer() -> None:
    gate = threading.Event()
    run = Recorder(gate=gate)
    group = GroupCommit(run)
    answers: dict[int, int] = {}
    after_commit: dict[int, bool] = {}

    def write(item: int) -> None:
        answers[item] = group.submit(item)
        after_commit[item] = item in run.committed

    threads = [threading.Thread(target=write, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert answers == {n: 2 * n for n in range(40)}
    assert all(after_commit.values())  # no answer before its batch committed
    assert sorted(item for batch in run.batches for item in batch) == list(range(40))
    assert len(run.batches) < 40  # they were grouped


def test_a_failed_batch_fails_every_writer_in_it_and_the_next_batch_runs() -> None:
    gate = threading.Event()
    run = Recorder(fail_on=0, gate=gate)
    group = GroupCommit(run)
    errors: dict[int, BaseException] = {}

    def write(item: int) -> None:
        try:
            group.submit(item)
        except RuntimeError as exc:
            errors[item] = exc

    first = threading.Thread(target=write, args=(0,))
    first.start()
    while not run.running:  # 0 leads and waits at the gate
        pass
    others = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
    for thread in others:
        thread.start()
    gate.set()
    for thread in (first, *others):
        thread.join(10)
    assert set(errors) == {0}  # 1 and 2 waited for the next batch
    assert group.submit(5) == 10  # the lead passed on; nothing is stuck


def test_one_writers_own_error_stays_its_own() -> None:
    group = GroupCommit(Recorder())
    with pytest.raises(ValueError):
        group.submit(-1)
    assert group.submit(1) == 2


def test_writes_handed_in_while_the_gate_is_held_join_the_batch() -> None:
    """The batch is taken once the gate (the other process's lock) is passed, not before."""
    held = threading.Lock()
    held.acquire()  # another process writes
    run = Recorder()
    group = GroupCommit(run, gate=lambda: held)
    answers: dict[int, int] = {}
    threads = [
        threading.Thread(target=lambda n=n: answers.update({n: group.submit(n)}))
        for n in range(5)
    ]
    for thread in threads:
        thread.start()
    # All five handed in; the first to come leads and waits at the gate.
    for _ in range(100):
        if len(group._waiting) == 5:
            break
        threading.Event().wait(0.01)
    held.release()
    for thread in threads:
        thread.join(5)
    assert answers == {n: 2 * n for n in range(5)}
    assert [sorted(batch) for batch in run.batches] == [[0, 1, 2, 3, 4]]


def test_a_gate_that_fails_fails_the_batch_and_nothing_runs() -> None:
    """A lock file that cannot be taken answers the writers with its error; the next batch runs."""
    run = Recorder()
    calls = 0

    def gate() -> threading.Lock:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("lock file gone")
        return threading.Lock()

    group = GroupCommit(run, gate=gate)
    with pytest.raises(OSError, match="lock file gone"):
        group.submit(1)
    assert run.batches == []
    assert group.submit(2) == 4
