"""Storms of SEV 1 tickets: pages go out at once, Zendesk writes keep to the share.

In-process (tests/inprocess.py): the real app and worker lanes on threads,
against the strict fake Zendesk and PagerDuty over HTTP on 127.0.0.1. The
budget window is scaled from 60 s to 2 s (the fake's rate-limit windows with
it). No echo webhooks: the trigger `sidecar zendesk setup` creates has the
"Current user is not <API user>" condition, so our own writes fire none.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.config import Secret
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    FAST_POLICY,
    ROUTING_KEY,
    SEVERITY_FIELD,
    SEVERITY_PLACEHOLDER,
    define_fields,
)
from tests.e2e.test_budget_burst import max_in_window
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk
from tests.inprocess import Sidecar, running_sidecar
from tests.support import wait_for

pytestmark = [pytest.mark.e2e]

WINDOW = 2.0  # seconds: Zendesk's 60 s window scaled 30 times (as test_budget_burst)
UPDATES = 20  # our ticket-update share per window
REQUESTS = 200
# The governor counts a write when it sends it, the fake when it arrives (see
# test_budget_burst). In one process the gap is thread scheduling; a bench run
# at a load average of 17 on 2 cores saw 21 in a 1.75 s window once, so the
# windows checked are 0.4 s shorter (the old code put 54-60 writes in one).
ARRIVAL_JITTER = 0.4
PAGE_WITHIN = 5.0  # seconds from the webhook to PagerDuty's receipt of the trigger
# A storm of 30 on the worker's two urgent threads: "within seconds" (measured
# 0.3-4.0 s at p99 at a load average of 15-21 on 2 cores; docs/benchmarks.md).
STORM_PAGE_WITHIN = 10.0


class PageClock:
    """Stamp when each ticket's first trigger reaches the fake PagerDuty (polled)."""

    def __init__(self, pagerduty: FakePagerDuty) -> None:
        self._pagerduty = pagerduty
        self.first: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.01):
            now = time.monotonic()
            for event in self._pagerduty.triggers():
                self.first.setdefault(event["dedup_key"], now)

    @contextlib.contextmanager
    def running(self) -> Iterator[PageClock]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def sidecar_config(
    tmp_path: Path, zendesk: FakeZendesk, pagerduty: FakePagerDuty, **overrides: Any
) -> Any:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_POLICY)
    values: dict[str, Any] = {
        "webhook_secret": Secret("storm-secret"),
        "queue_url": f"sqlite:///{tmp_path / 'queue.db'}",
        "severity_field_id": SEVERITY_FIELD,
        "due_at_field_id": DUE_AT_FIELD,
        "policy_file": str(policy),
        "pagerduty_url": pagerduty.url,
        "pagerduty_routing_key": Secret(ROUTING_KEY),
        "retry_base_seconds": 0.2,
        "budget_window_seconds": WINDOW,
        "budget_updates": UPDATES,
        "budget_requests": REQUESTS,
        **overrides,
    }
    return zendesk.config(**values)


def trigger_body(zendesk: FakeZendesk, ticket_id: int) -> dict[str, str]:
    """The body `sidecar zendesk setup`'s trigger sends, as Zendesk renders it."""
    return {
        "ticket_id": str(ticket_id),
        "event": "ticket.changed",
        "updated_at": zendesk.ticket(ticket_id).updated_at,
        "organization_id": zendesk.render_trigger_body(
            "{{ticket.organization.id}}", ticket_id
        ),
        "severity": zendesk.render_trigger_body(SEVERITY_PLACEHOLDER, ticket_id),
    }


def send_storm(
    sidecar: Sidecar, zendesk: FakeZendesk, tickets: list[int]
) -> dict[str, float]:
    """Deliver one webhook per ticket; return when each was sent, by dedup key."""
    sent: dict[str, float] = {}
    for tid in tickets:
        sent[f"zendesk-{sidecar.config.zendesk_subdomain}-ticket-{tid}"] = (
            time.monotonic()
        )
        assert (
            sidecar.deliver(trigger_body(zendesk, tid), invocation_id=f"storm-{tid}")
            == 202
        )
    return sent


def latencies(sent: dict[str, float], paged: dict[str, float]) -> list[float]:
    return sorted(paged[key] - sent[key] for key in sent if key in paged)


def describe(values: list[float]) -> str:
    p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
    return f"p50 {statistics.median(values):.2f} s, p99 {p99:.2f} s, max {max(values):.2f} s"


def converged(zendesk: FakeZendesk, tickets: list[int]) -> bool:
    return all(
        {"oncall_paged", "sla_pending"} <= zendesk.ticket(t).tags
        and zendesk.ticket(t).custom_fields.get(DUE_AT_FIELD)
        for t in tickets
    )


def test_a_storm_of_sev1_pages_at_once_and_keeps_writes_within_the_share(
    tmp_path: Path,
) -> None:
    """30 SEV 1 tickets at once: all paged within seconds; no window holds more than the share."""
    with (
        FakeZendesk(rate_window_seconds=WINDOW) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        define_fields(zendesk)
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        tickets = [
            zendesk.add_ticket(
                organization_id=org, custom_fields={SEVERITY_FIELD: "sev_1"}
            )
            for _ in range(30)
        ]
        config = sidecar_config(tmp_path, zendesk, pagerduty)
        with (
            running_sidecar(config) as sidecar,
            PageClock(pagerduty).running() as clock,
        ):
            zendesk.reset_calls()
            sent = send_storm(sidecar, zendesk, tickets)
            wait_for(lambda: len(clock.first) == len(tickets), timeout=20)
            wait_for(lambda: converged(zendesk, tickets), timeout=30, interval=0.2)
        puts = [c.at for c in zendesk.calls(method="PUT")]
        busiest = max_in_window(puts, WINDOW - ARRIVAL_JITTER)
        paged = latencies(sent, clock.first)
        print(
            f"\nstorm: 30 SEV 1 paged after {describe(paged)}; {len(puts)} writes, "
            f"busiest {WINDOW - ARRIVAL_JITTER:g} s window {busiest} (share {UPDATES})"
        )
        assert busiest <= UPDATES, "urgent writes went past the update share"
        assert max(paged) <= STORM_PAGE_WITHIN
        assert len(pagerduty.incidents()) == len(tickets)
        assert zendesk.errors == []


def test_a_hostile_zendesk_during_a_sev1_burst_does_not_hold_back_pages(
    tmp_path: Path,
) -> None:
    """429s (with and without Retry-After), 503s and hung reads: every page within 5 s, once."""
    with (
        FakeZendesk(rate_window_seconds=WINDOW) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        define_fields(zendesk)
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        warm = zendesk.add_ticket(
            organization_id=org, custom_fields={SEVERITY_FIELD: "sev_3"}
        )
        tickets = [
            zendesk.add_ticket(
                organization_id=org, custom_fields={SEVERITY_FIELD: "sev_1"}
            )
            for _ in range(12)
        ]
        config = sidecar_config(tmp_path, zendesk, pagerduty)
        with (
            running_sidecar(config) as sidecar,
            PageClock(pagerduty).running() as clock,
        ):
            # The organization is in the worker's cache from an earlier ticket.
            assert (
                sidecar.deliver(trigger_body(zendesk, warm), invocation_id="warm")
                == 202
            )
            wait_for(lambda: "sla_pending" in zendesk.ticket(warm).tags)
            # Each ticket's reads and writes fail, four ways, until Zendesk recovers.
            for i, tid in enumerate(tickets):
                path = f"/tickets/{tid}.json"
                if i % 4 == 0:
                    zendesk.delay(30.0, path_contains=path)  # a hung read
                elif i % 4 == 1:
                    zendesk.fail_next(10**6, 429, retry_after=2, path_contains=path)
                elif i % 4 == 2:
                    zendesk.fail_next(10**6, 429, path_contains=path)  # no Retry-After
                else:
                    zendesk.fail_next(10**6, 503, path_contains=path)
            sent = send_storm(sidecar, zendesk, tickets)
            with contextlib.suppress(TimeoutError):
                wait_for(
                    lambda: len(clock.first) == len(tickets), timeout=PAGE_WITHIN + 1
                )
            paged = latencies(sent, clock.first)
            recovered = time.monotonic()
            zendesk.clear_faults()
            # (patience x3: on a loaded machine the retries after recovery take a while)
            wait_for(lambda: converged(zendesk, tickets), timeout=20, interval=0.2)
            took = time.monotonic() - recovered
        print(
            f"\nhostile: {len(paged)}/12 SEV 1 paged within {PAGE_WITHIN:g} s"
            + (f" ({describe(paged)})" if paged else "")
            + f"; converged {took:.1f} s after Zendesk recovered"
        )
        assert len(paged) == len(tickets), "a page waited on Zendesk"
        assert max(paged) <= PAGE_WITHIN
        # Each incident opened once, still open, recorded once on its ticket.
        incidents = pagerduty.incidents()
        assert len(incidents) == len(tickets)
        assert {i.dedup_key for i in incidents} == set(sent)
        assert all(i.open for i in incidents)
        for tid in tickets:
            notes = [c for c in zendesk.comments(tid) if not c.public]
            assert len(notes) == 1, notes
        assert zendesk.errors == []
