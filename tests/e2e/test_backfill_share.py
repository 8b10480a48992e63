"""A backfill leaves live work its share of Zendesk's ticket updates (issue 19, item 4).

In-process (tests/inprocess.py): the real app and worker lanes on threads,
against the strict fake Zendesk over HTTP on 127.0.0.1, with the budget window
scaled from 60 s to 2 s (the fake's rate-limit windows with it). A replay of
120 SEV 3 tickets that all need a write (what `sidecar replay` and `sidecar
backfill` enqueue: sidecar.tasks.bulk) runs while live SEV 3 webhooks arrive
at the rate the live part of the share allows. Before the bulk part, the
backfill spent from the ordinary share like live work and took every place
of a window it could reach.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.config import Secret
from sidecar.tasks.bulk import replay
from tests.e2e.conftest import DUE_AT_FIELD, FAST_POLICY, SEVERITY_FIELD, define_fields
from tests.e2e.test_budget_burst import max_in_window
from tests.e2e.test_urgent_storm import ARRIVAL_JITTER, trigger_body
from tests.fake_zendesk import FakeZendesk
from tests.inprocess import running_sidecar
from tests.support import redis_queue_url, wait_for

pytestmark = [pytest.mark.e2e]

WINDOW = 2.0  # Zendesk's 60 s scaled 30 times (as test_urgent_storm)
UPDATES = 10  # our ticket-update share per window: 2 reserved, 8 ordinary
BULK = 4  # half the ordinary part (SIDECAR_ZENDESK_BUDGET_BULK's default)
LIVE = 8  # live SEV 3 webhooks, one per WINDOW / 4: the live part's rate
BACKFILL = 120  # far more than the run can write: the backfill never runs dry
# Webhook -> due time for a live SEV 3 with the backfill running: its part of
# the share has room in every window, so a window and the worker's tick.
LIVE_WITHIN = 2 * WINDOW + 1


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or SIDECAR_TEST_REDIS_URL with a queue name of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    with redis_queue_url() as url:
        yield url


def test_live_sev3_writes_keep_their_part_during_a_backfill(
    tmp_path: Path, queue_url: str
) -> None:
    with FakeZendesk(rate_window_seconds=WINDOW) as zendesk:
        define_fields(zendesk)
        # Entitled (the SLA applies); SEV 3 pages nothing: every job is ordinary work.
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )

        def sev3() -> int:
            return zendesk.add_ticket(
                organization_id=org, custom_fields={SEVERITY_FIELD: "sev_3"}
            )

        backfill = [sev3() for _ in range(BACKFILL)]
        live = [sev3() for _ in range(LIVE)]
        policy = tmp_path / "policy.toml"
        policy.write_text(FAST_POLICY)
        config = zendesk.config(
            webhook_secret=Secret("share-secret"),
            queue_url=queue_url,
            severity_field_id=SEVERITY_FIELD,
            due_at_field_id=DUE_AT_FIELD,
            policy_file=str(policy),
            retry_base_seconds=0.2,
            budget_window_seconds=WINDOW,
            budget_updates=UPDATES,
            budget_requests=400,
        )
        written: dict[int, float] = {}

        def due_time_written(ticket_id: int) -> bool:
            if ticket_id not in written and zendesk.ticket(ticket_id).custom_fields.get(
                DUE_AT_FIELD
            ):
                written[ticket_id] = time.monotonic()
            return ticket_id in written

        with running_sidecar(config) as sidecar:
            zendesk.reset_calls()
            replay(backfill, sidecar.queue)  # as `sidecar replay --ticket ...` does
            # The backfill has the budget to itself for a window first.
            wait_for(lambda: len(zendesk.calls(method="PUT")) >= BULK, timeout=10)
            time.sleep(WINDOW)
            sent: dict[int, float] = {}
            for i, tid in enumerate(live):
                sent[tid] = time.monotonic()
                body = trigger_body(zendesk, tid)
                assert sidecar.deliver(body, invocation_id=f"live-{tid}") == 202
                while time.monotonic() < sent[live[0]] + (i + 1) * WINDOW / 4:
                    for t in live:
                        due_time_written(t)
                    time.sleep(0.02)
            wait_for(
                lambda: all([due_time_written(t) for t in live]),
                timeout=LIVE_WITHIN + 10,
                interval=0.02,
            )
        puts = zendesk.calls(method="PUT")
        live_paths = {f"/tickets/{t}.json" for t in live}
        bulk_puts = [
            c.at for c in puts if not any(c.path.endswith(p) for p in live_paths)
        ]
        took = sorted(written[t] - sent[t] for t in live)
        # A bulk job waits for its part of the updates before it reads: the
        # backfill's reads follow its writes, not its waits.
        backfill_paths = {f"/tickets/{t}" for t in backfill}
        bulk_reads = sum(
            1
            for c in zendesk.calls(method="GET")
            if any(
                c.path.endswith(p) or f"{p}/" in c.path or f"{p}." in c.path
                for p in backfill_paths
            )
        )
        backfilled = sum(
            1 for t in backfill if zendesk.ticket(t).custom_fields.get(DUE_AT_FIELD)
        )
        print(
            f"\nlive SEV 3 during a backfill: webhook -> due time median "
            f"{statistics.median(took):.2f} s, max {max(took):.2f} s; backfill "
            f"wrote {backfilled}/{BACKFILL} after {bulk_reads} reads, busiest window of its writes "
            f"{max_in_window(bulk_puts, WINDOW - ARRIVAL_JITTER)} (bulk part {BULK}); "
            f"all writes busiest {max_in_window([c.at for c in puts], WINDOW - ARRIVAL_JITTER)}"
            f" (share {UPDATES})"
        )
        assert backfilled < BACKFILL, "the backfill ran dry: nothing competed"
        # Measured: 12-18 reads for 12 written tickets; 174-177 when each
        # refused write cost its job a read again.
        assert bulk_reads <= 3 * backfilled + 16, (bulk_reads, backfilled)
        assert max_in_window(bulk_puts, WINDOW - ARRIVAL_JITTER) <= BULK
        assert max(took) <= LIVE_WITHIN, "a live SEV 3 write waited behind the backfill"
        assert zendesk.errors == []
