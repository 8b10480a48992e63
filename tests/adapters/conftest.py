"""Fixtures shared by the adapter tests: the queue on both of its stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.tasks.queue import JobQueue
from tests.support import redis_queue_url


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or SIDECAR_TEST_REDIS_URL with a queue name of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    with redis_queue_url() as url:
        yield url


@pytest.fixture
def queue(queue_url: str) -> Iterator[JobQueue]:
    """A JobQueue on SQLite or on Redis (its own keys, deleted after the test).

    A module that needs one store only defines its own ``queue``.
    """
    q = JobQueue.from_url(queue_url)
    yield q
    q.close()
