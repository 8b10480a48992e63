"""Group commit: writes that threads of one process hand in at once share one transaction.

Under gunicorn's threads every accepted webhook was a SQLite transaction of
its own: its thread took the storage's lock, the file's write lock (waiting in
SQLite's busy handler while the other worker process held it), wrote its pages
to the WAL and committed, while the other threads queued behind the lock
(issue 19). Here the first thread to arrive leads: it takes every write
handed in meanwhile, runs them in one transaction (the caller's ``run``,
which answers each as if it ran alone after the ones before it) and hands
each its own result after the commit; the threads that arrived while it
wrote wait, and the first of them leads the next batch. One thread alone pays nothing more than before (a batch
of one, run by itself); under load the transaction, its locks and its WAL pages
are shared.

The durability promise holds: a writer gets its result only after the
transaction holding its write committed, and an error of that transaction
(or of the commit) is raised in every writer of the batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Outcome of one write in a batch: its result, or the exception it raised.
Outcome = tuple[R | None, BaseException | None]


class _Slot(Generic[T, R]):
    """One handed-in write: its item, its outcome, and the lock its thread waits on."""

    __slots__ = ("item", "outcome", "wake")

    def __init__(self, item: T) -> None:
        self.item = item
        self.outcome: Outcome[R] | None = None
        # Held from the start: released once to wake the thread (cheaper than an Event).
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupCommit(Generic[T, R]):
    """Run ``run(items)`` for the items threads hand in, a batch per transaction.

    ``run`` gets the batch's items in arrival order and returns one outcome
    per item; it commits before returning. If it raises, every item of the
    batch raises that. Thread-safe; batches never overlap. ``gate``, when
    given, is held around taking and running each batch (a lock shared with
    other processes); if entering it fails, the batch fails with that error.
    """

    def __init__(
        self,
        run: Callable[[Sequence[T]], Sequence[Outcome[R]]],
        max_batch: int = 64,
        gate: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self._run = run
        self._gate = gate or contextlib.nullcontext
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Slot[T, R]] = []
        self._leading = False

    def _take_waiting(self) -> list[_Slot[T, R]]:
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
        return batch

    def submit(self, item: T) -> R:
        """Hand in ``item``; return its result once the transaction holding it committed."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.wake.acquire()  # an outcome, or the lead
        if slot.outcome is None:  # woken without one: lead the next batch
            self._lead()
        assert slot.outcome is not None
        result, error = slot.outcome
        if error is not None:
            raise error
        return result  # type: ignore[return-value]  # R when there is no error

    def _lead(self) -> None:
        """Run one batch (this thread's write is in it), then pass the lead on.

        The batch is taken once the gate is passed (the writers' lock file of
        sidecar.queue.sqlite_store), so writes handed in while another process
        held it join this batch instead of waiting for the next.
        """
        batch: list[_Slot[T, R]] | None = None
        try:
            with self._gate():
                batch = self._take_waiting()
                outcomes = list(self._run([slot.item for slot in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError("group commit: one outcome per item expected")
        except BaseException as exc:  # every writer of the batch sees it
            if batch is None:  # the gate failed: the batch is what waits now
                batch = self._take_waiting()
            outcomes = [(None, exc)] * len(batch)
        with self._lock:
            # The next thread that waits leads; none waiting: the next to come does.
            successor = self._waiting[0] if self._waiting else None
            if successor is None:
                self._leading = False
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            if slot.wake.locked():
                slot.wake.release()
        if successor is not None:
            successor.wake.release()


class WriterLock:
    """A lock file the writing processes of one SQLite file take in turn (``flock``).

    SQLite makes a writer that finds the file locked poll: its busy handler
    sleeps 1, 2, 5, 10 ... 100 ms between tries, so under load the waiting
    process misses the moment the other commits, and its threads queue behind
    the sleeping one (p99 of accepted webhooks, issue 19). A blocked ``flock``
    wakes when the lock is let go. Taken in this process's own open of the
    file (a lock taken on a descriptor inherited across fork would be shared).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
