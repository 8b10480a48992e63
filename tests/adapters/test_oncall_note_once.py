"""PagerDuty's note reaches the ticket once, even when its job is killed right after the write.

The real client against the fake Zendesk (List Comments sorted ``-created_at``
with cursor pagination, as the OAS documents it) and the real SQLite queue
store. Before, a worker killed between the ticket write and clearing the
pending lines wrote the same note a second time when its job came back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sidecar.domain.oncall import ACKNOWLEDGED, IncidentEvent
from sidecar.tasks.oncall_back import OncallBack, OncallStates
from sidecar.tasks.queue import JobQueue
from sidecar.zendesk.client import ZendeskClient
from tests.fake_zendesk import FakeZendesk


class Killed(BaseException):
    """The SIGKILL: no handler runs."""


class KilledOnNextMemo:
    """The queue, whose next memo write is the process's last act once armed."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self.armed = False

    def get_memo(self, key: str) -> str | None:
        return self._queue.get_memo(key)

    def set_memo(self, key: str, value: str, *, ttl_seconds: float) -> None:
        if self.armed:
            self.armed = False
            raise Killed
        self._queue.set_memo(key, value, ttl_seconds=ttl_seconds)

    def claim(self, key: str, *, ttl_seconds: float = 60.0) -> bool:
        return self._queue.claim(key, ttl_seconds=ttl_seconds)

    def release(self, key: str) -> None:
        self._queue.release(key)


class ArmingClient(ZendeskClient):
    """The real client; after its next ticket write the memo write kills the job."""

    store: KilledOnNextMemo | None = None

    def update_ticket(self, update):  # type: ignore[no-untyped-def]
        version = super().update_ticket(update)
        if self.store is not None:
            self.store.armed, self.store = True, None
        return version


ACK = IncidentEvent(
    event_id="e-ack",
    event_type=ACKNOWLEDGED,
    occurred_at="2026-12-07T14:03:00Z",
    agent="Dana",
    incident_id="PINC1",
    incident_number=7,
)


def test_a_job_killed_after_its_write_leaves_one_note(tmp_path: Path) -> None:
    queue = JobQueue.from_url(f"sqlite:///{tmp_path / 'queue.db'}")
    store = KilledOnNextMemo(queue)
    with FakeZendesk() as zd:
        ticket = zd.add_ticket()
        client = ArmingClient.from_config(zd.config())
        assert isinstance(client, ArmingClient)
        client.store = store
        back = OncallBack(
            zendesk=lambda: client, states=OncallStates(store, account="acme")
        )
        with pytest.raises(Killed):
            back.apply(ticket, ACK)
        back.apply(ticket, ACK)  # back from its in-flight record
        later = replace(
            ACK,
            event_id="e-ack2",
            occurred_at=datetime(2026, 12, 7, 15, tzinfo=UTC).isoformat(),
        )
        back.apply(ticket, later)
        notes = [c.body for c in zd.comments(ticket) if not c.public]
        calls = [(c.method, c.path, c.query.get("sort")) for c in zd.calls()]
    queue.close()
    acked = [n for n in notes if "On-call acknowledged: Dana at 2026-12-07 14:03" in n]
    assert len(acked) == 1, notes
    assert len(notes) == 2  # the later acknowledge writes its own line only
    # One comment read, by the recovering run, newest first.
    reads = [c for c in calls if c[1].endswith("/comments.json")]
    assert reads == [("GET", f"/api/v2/tickets/{ticket}/comments.json", "-created_at")]
