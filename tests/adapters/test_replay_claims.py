"""The replay claim (``signed:<sha256 of timestamp + body>``) lives an hour, not the 7 days of a delivery's.

It only has to outlive the window in which the signature's timestamp is
accepted (SIDECAR_WEBHOOK_TOLERANCE either way, at most 30 minutes): an older
copy fails the signature check before it reaches the queue. At the 7 days of
the event-id claim it cost ~1.8 GB of Redis at a steady 20 webhooks/s
(docs/benchmarks.md, Redis memory).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import redis

from sidecar.config import Config
from sidecar.errors import ConfigError
from sidecar.queue.store import (
    CLAIM_TTL_SECONDS,
    REPLAY_CLAIM_PREFIX,
    REPLAY_CLAIM_SECONDS,
)
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.events import replay_key
from tests.support import REDIS_TEST_URL, redis_queue_url


def test_the_webhooks_replay_key_is_the_claim_the_store_shortens() -> None:
    assert replay_key(b"{}", timestamp="2026-12-07T00:00:00Z").startswith(
        REPLAY_CLAIM_PREFIX
    )
    assert REPLAY_CLAIM_SECONDS < CLAIM_TTL_SECONDS


def test_on_redis_the_replay_claim_expires_within_the_hour() -> None:
    with redis_queue_url() as url:
        queue = JobQueue.from_url(url)
        try:
            queue.deliver_reconcile(1, dedup_key="zendesk:e1", replay_key="signed:ab")
            conn = redis.Redis.from_url(REDIS_TEST_URL)
            name = url.rsplit("queue=", 1)[1]
            signed = conn.ttl(f"sidecar.claim.{name}.signed:ab")
            event = conn.ttl(f"sidecar.claim.{name}.zendesk:e1")
            assert 0 < signed <= REPLAY_CLAIM_SECONDS
            assert event > REPLAY_CLAIM_SECONDS
        finally:
            queue.close()


def test_on_sqlite_the_hourly_pruning_drops_replay_claims_past_the_hour(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    queue = JobQueue.from_url(f"sqlite:///{path}")
    try:
        queue.deliver_reconcile(1, dedup_key="zendesk:e1", replay_key="signed:ab")
        removed = queue.prune_claims(now=time.time() + REPLAY_CLAIM_SECONDS + 60)
        assert removed == 1
        with sqlite3.connect(path) as db:
            keys = {row[0] for row in db.execute("select key from sidecar_claim")}
        assert "zendesk:e1" in keys and "signed:ab" not in keys
    finally:
        queue.close()


def test_a_tolerance_the_replay_claim_would_not_cover_is_refused() -> None:
    limit = REPLAY_CLAIM_SECONDS // 2
    assert Config.from_env({"SIDECAR_WEBHOOK_TOLERANCE": str(limit)})
    with pytest.raises(ConfigError, match="SIDECAR_WEBHOOK_TOLERANCE"):
        Config.from_env({"SIDECAR_WEBHOOK_TOLERANCE": str(limit + 1)})
