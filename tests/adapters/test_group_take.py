"""Takes run as one batch (the group commit) answer and store what they would one after another.

sidecar.queue.sqlite_store decides a batch's answers in Python from one read
of the claims; this checks it against the same takes run one per transaction
(the path a lone webhook takes), on real SQLite files.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.queue.backend import open_backend
from sidecar.queue.huey_inside import ReadyJob
from sidecar.queue.sqlite_store import SqliteStore, _Take
from sidecar.queue.store import Pending, Taken

T0 = 1_000_000.0
TTL = 10.0


@contextmanager
def store() -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as scratch:
        backend = open_backend(f"sqlite:///{Path(scratch) / 'queue.db'}")
        assert isinstance(backend.store, SqliteStore)
        try:
            yield backend.store
        finally:
            backend.store.close()
            backend.urgent_huey.storage.close()


def state(
    store: SqliteStore,
) -> tuple[list[tuple[str, float]], list[tuple[bytes, int]]]:
    storage = store._storage  # the file's own tables, as stored
    claims = storage.sql("select key, at from sidecar_claim order by key", results=True)
    tasks = storage.sql("select data, priority from task order by id", results=True)
    return [tuple(row) for row in claims], [(bytes(d), int(p)) for d, p in tasks]


keys = st.sampled_from(["zendesk:a", "zendesk:b", "replay:a", "replay:b", "replay:c"])
takes = st.builds(
    _Take,
    keys=st.lists(keys, max_size=3),
    pending=st.none()
    | st.builds(
        Pending,
        key=st.sampled_from(["pending:1", "pending:2", "pending:urgent:1"]),
        ttl=st.just(TTL),
        take=st.booleans(),
    ),
    job=st.none()
    | st.builds(
        ReadyJob,
        queue=st.just("sidecar"),
        data=st.binary(max_size=4),
        priority=st.integers(0, 2),
    ),
    now=st.floats(T0, T0 + 3 * TTL),
)
stored_before = st.dictionaries(
    st.sampled_from(["zendesk:a", "replay:b", "pending:1", "pending:2"]),
    st.floats(T0 - 2 * TTL, T0 + TTL),
    max_size=3,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=stored_before, batch=st.lists(takes, min_size=1, max_size=8))
def test_a_batch_answers_and_stores_as_its_takes_one_by_one(
    before: dict[str, float], batch: list[_Take]
) -> None:
    with store() as one_by_one, store() as grouped:
        for each in (one_by_one, grouped):
            for key, at in before.items():
                each._storage.sql(
                    "insert into sidecar_claim (key, at) values (?, ?)",
                    (key, at),
                    commit=True,
                )
        alone = [one_by_one._take_batch([take])[0] for take in batch]
        together = grouped._take_batch(batch)
        assert together == alone
        assert state(grouped) == state(one_by_one)


def test_a_duplicate_in_a_batch_leaves_no_claim_and_the_next_take_still_claims() -> (
    None
):
    with store() as grouped:
        batch = [
            _Take(
                ["zendesk:a"],
                Pending("pending:1", TTL, True),
                ReadyJob("sidecar", b"1"),
                T0,
            ),
            _Take(["zendesk:a", "replay:x"], None, ReadyJob("sidecar", b"2"), T0),
            _Take(
                ["replay:x"],
                Pending("pending:1", TTL, True),
                ReadyJob("sidecar", b"3"),
                T0,
            ),
        ]
        answers = [taken for taken, _ in grouped._take_batch(batch)]
        assert answers == [Taken.ENQUEUE, Taken.DUPLICATE, Taken.COLLAPSED]
        claims, tasks = state(grouped)
        assert dict(claims) == {"zendesk:a": T0, "replay:x": T0, "pending:1": T0}
        assert tasks == [(b"1", 0)]
