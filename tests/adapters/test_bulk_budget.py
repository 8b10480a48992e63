"""Backfill and replay spend through the deployment's Zendesk budget, in the bulk lane.

The budget (sidecar.zendesk.budget, issue 10) is counted in the service's
queue store; with a one-second window and a share of 5 requests (4 for
ordinary work: 20 % is the reserve; 2 of those for bulk work, half by
default: issue 19), a 1,500-ticket backfill must never put more than 2 list
requests in any one-second window, and must still finish.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.tasks.queue import JobQueue
from tests.fake_zendesk import FakeZendesk
from tests.support import sidecar_env

SEVERITY_FIELD, DUE_AT_FIELD = 360001, 360002
SHARE, WINDOW = 5, 1.0
ORDINARY = SHARE - round(SHARE * 0.2)  # the reserve is for SEV 1/2 work only
# Between the budget's count and the request's arrival: 50 ms on an idle
# machine, 0.3 s seen at a load average of 20 on 2 cores.
ARRIVAL_JITTER = 0.35
BULK = int(
    ORDINARY * 0.5
)  # SIDECAR_ZENDESK_BUDGET_BULK's default: live work keeps the rest


class TimedZendesk(FakeZendesk):
    """FakeZendesk that notes when each List Tickets request arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.list_times: list[float] = []

    def _handle(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> Any:
        if method == "GET" and target.startswith("/api/v2/tickets.json"):
            with self._lock:
                self.list_times.append(time.time())
        return super()._handle(method, target, headers, raw)


@pytest.fixture
def zendesk() -> Iterator[TimedZendesk]:
    with TimedZendesk() as fake:
        yield fake


def most_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for u in ordered if t - window < u <= t) for t in ordered)


def test_backfill_never_exceeds_the_bulk_share(
    tmp_path: Path, zendesk: TimedZendesk
) -> None:
    """1,500 tickets at 2 requests a second: every ticket enqueued, the bulk part never exceeded."""
    env = sidecar_env(
        tmp_path,
        **zendesk.env(),
        SIDECAR_SEVERITY_FIELD_ID=str(SEVERITY_FIELD),
        SIDECAR_DUE_AT_FIELD_ID=str(DUE_AT_FIELD),
        SIDECAR_ZENDESK_BUDGET_REQUESTS=str(SHARE),
        SIDECAR_ZENDESK_BUDGET_WINDOW=str(WINDOW),
    )
    queue = JobQueue.from_url(env["SIDECAR_QUEUE_URL"])
    try:
        ids = [
            zendesk.add_ticket(status="open", custom_fields={SEVERITY_FIELD: "sev_3"})
            for _ in range(1500)
        ]
        result = CliRunner().invoke(main, ["backfill"], env=env)
        assert result.exit_code == 0, result.output
        assert (
            "backfill done: 15 pages, 1500 tickets read, enqueued 1500" in result.output
        )
        enqueued = Counter(
            job.subject_id for job in queue.pending_jobs() if job.task == "reconcile"
        )
        assert enqueued == Counter(ids)
        assert len(zendesk.list_times) == 15
        # The budget's clock and the fake's are the same wall clock; allow for
        # the time between the budget's count and the request's arrival.
        assert most_in_any_window(zendesk.list_times, WINDOW - ARRIVAL_JITTER) <= BULK
        # 15 requests at 2 a second cannot all fit in the first windows.
        assert zendesk.list_times[-1] - zendesk.list_times[0] >= 6 * WINDOW
    finally:
        queue.close()
