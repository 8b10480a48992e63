"""Fixtures for the webhook receiver: an app on a real SQLite queue in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sidecar.app import create_app
from sidecar.config import Config, Secret
from sidecar.tasks.queue import JobQueue
from tests.support import TEST_SECRET


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[JobQueue]:
    """A real SQLite JobQueue in a temporary directory."""
    q = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


@pytest.fixture
def app(queue: JobQueue) -> Flask:
    """The web app wired to that queue."""
    return create_app(Config(webhook_secret=Secret(TEST_SECRET)), queue=queue)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client."""
    return app.test_client()
