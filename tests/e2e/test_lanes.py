"""The urgent lane: a page never waits for a worker thread held by a slow Zendesk read.

Every worker process consumes two queues on the same storage: the normal one
(``--workers`` threads) and the urgent one (threads of its own), which carries
the escalate jobs (page + marker) and the timers of SEV 1/2 tickets of entitled
organizations. Here four tickets' reads hang (longer than the client's read
timeout, so each attempt holds a normal thread until it gives up) while a SEV 1
arrives, and PagerDuty answers the first trigger 503, so the page needs a
thread a second time, when every normal thread is held by a hung read.
With one shared pool of threads (the design before the lanes, where escalate
only jumped the queue by priority), that retry waited for a hung read to give
up; with the lanes it goes out first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.fake_zendesk import Call, WriteEvent
from tests.support import wait_for

pytestmark = pytest.mark.e2e

HUNG = 4  # = the normal lane's threads (`sidecar serve` runs `worker --workers 4`)
HANG_SECONDS = 30.0  # far past the client's 4 s read timeout


def no_echo(stack: Stack, event: WriteEvent) -> None:
    """An account whose trigger skips our own writes (keeps the logs to the point)."""


def first(calls: list[Call], match: Callable[[Call], bool]) -> int:
    """The index of the first call that ``match`` accepts (len(calls) when none)."""
    return next((i for i, c in enumerate(calls) if match(c)), len(calls))


def test_a_page_goes_out_while_every_normal_thread_hangs_on_zendesk(
    tmp_path: Path,
) -> None:
    """SEV 1 + a PagerDuty hiccup while 4 reads hang: paged before any hung read gave up."""
    with running_stack(tmp_path, echo=no_echo) as stack:
        zendesk, pagerduty = stack.zendesk, stack.pagerduty
        hung = [
            stack.ticket(severity="sev_3", org=stack.plain_org) for _ in range(HUNG)
        ]
        for tid in hung:
            zendesk.delay(
                HANG_SECONDS, path_contains=f"/tickets/{tid}.json", method="GET"
            )
        sev1 = stack.ticket(severity="sev_1")
        pagerduty.fail_next(
            1, 503
        )  # the page's first attempt fails: it needs a thread again

        # The SEV 1 first (the trigger body names its severity: it reads in
        # the urgent lane), then the hung tickets, which take every normal thread.
        assert stack.notify(sev1)[0] == 202
        for tid in hung:
            assert stack.notify(tid)[0] == 202

        wait_for(lambda: "oncall_paged" in zendesk.ticket(sev1).tags, timeout=30)
        calls = zendesk.calls()
        sev1_path = f"/api/v2/tickets/{sev1}.json"
        marker = max(
            i for i, c in enumerate(calls) if c.method == "PUT" and c.path == sev1_path
        )
        hung_paths = {f"/api/v2/tickets/{tid}.json" for tid in hung}
        hung_reads = [
            i for i, c in enumerate(calls) if c.method == "GET" and c.path in hung_paths
        ]
        # Every normal thread was held by a hung read before the marker was written…
        started = {calls[i].path for i in hung_reads if i < marker}
        assert started == hung_paths, "the hung reads were in flight"
        # …and none of them had given up yet: a hung ticket is read a second
        # time only after its first read timed out and freed its thread.
        seen: set[str] = set()
        second_read = len(calls)
        for i in hung_reads:
            if calls[i].path in seen:
                second_read = i
                break
            seen.add(calls[i].path)
        assert marker < second_read, "the page waited for a hung read to give up"

        # The worker says the same, in the order it happened (once a hung read gave up).
        logs = paged_before_a_hung_read_gave_up(stack, sev1, hung)
        # The 503 (the reconcile pages the moment it decides), then the page
        # from the escalate job, which needed an urgent thread to try again.
        assert pagerduty.request_count == 2 and len(pagerduty.triggers()) == 1
        left = first_log(
            logs,
            lambda e: (
                str(e.get("msg")).startswith("page left to the escalate job")
                and e.get("ticket_id") == sev1
            ),
        )
        assert left < first_log(
            logs, lambda e: e.get("msg") == "paged" and e.get("ticket_id") == sev1
        )

        # Measured: SEV 1 read to its page's marker, while the hung reads held on.
        sev1_read = first(calls, lambda c: c.method == "GET" and c.path == sev1_path)
        print(
            f"\nSEV 1 read -> page marker: {calls[marker].at - calls[sev1_read].at:.2f} s "
            f"with {HUNG} normal threads hung on Zendesk reads"
        )
        zendesk.clear_faults()


def test_a_new_sev_1_is_read_and_paged_while_every_normal_thread_hangs(
    tmp_path: Path,
) -> None:
    """A SEV 1 never seen before, after 4 reads hang: paged before any hung read gave up.

    Nothing is known of the ticket but what its webhook says: the severity the
    trigger body renders (`sidecar zendesk setup` puts it there) sends its
    reconcile, read included, to the urgent lane. Before that hint, the read
    waited for a normal thread, that is, for a hung read to time out.
    """
    with running_stack(tmp_path, echo=no_echo) as stack:
        zendesk = stack.zendesk
        hung = [
            stack.ticket(severity="sev_3", org=stack.plain_org) for _ in range(HUNG)
        ]
        hung_paths = {f"/api/v2/tickets/{tid}.json" for tid in hung}
        for tid in hung:
            zendesk.delay(
                HANG_SECONDS, path_contains=f"/tickets/{tid}.json", method="GET"
            )
            assert stack.notify(tid)[0] == 202

        def reads_in_flight() -> set[str]:
            return {c.path for c in zendesk.calls() if c.method == "GET"} & hung_paths

        wait_for(lambda: reads_in_flight() == hung_paths, timeout=30)
        sev1 = stack.ticket(severity="sev_1")
        assert stack.notify(sev1)[0] == 202

        wait_for(lambda: "oncall_paged" in zendesk.ticket(sev1).tags, timeout=30)

        paged_before_a_hung_read_gave_up(stack, sev1, hung)
        assert len(stack.pagerduty.triggers()) == 1
        zendesk.clear_faults()


def test_the_receiver_learns_which_organizations_are_not_entitled(
    tmp_path: Path,
) -> None:
    """A SEV 1 of an organization a reconcile found not entitled waits in the normal lane.

    The urgent lane's threads are for entitled work: the first SEV 1 webhook of
    an unknown organization is read there (its entitlement is only known after
    the read), later ones of an organization known to be plain are not.
    """
    with running_stack(tmp_path, echo=no_echo) as stack:
        plain = [stack.ticket(severity="sev_1", org=stack.plain_org) for _ in range(2)]
        entitled = stack.ticket(severity="sev_1")

        def lane_of(ticket_id: int) -> object:
            assert stack.notify(ticket_id)[0] == 202
            wait_for(lambda: stack.reconciles(ticket_id), timeout=30)
            (queued,) = [
                e
                for e in stack.serve.json_logs()
                if e.get("msg") == "webhook queued" and e.get("ticket_id") == ticket_id
            ]
            return queued.get("lane")

        assert lane_of(plain[0]) == "urgent"  # nothing known of its organization yet
        assert lane_of(plain[1]) == "normal"  # a reconcile found it not entitled
        assert lane_of(entitled) == "urgent"
        # The lane is only where the read waited: the entitled SEV 1 alone pages.
        wait_for(
            lambda: "oncall_paged" in stack.zendesk.ticket(entitled).tags, timeout=30
        )
        (trigger,) = stack.pagerduty.triggers()
        assert trigger["dedup_key"].endswith(f"-{entitled}")


def paged_before_a_hung_read_gave_up(
    stack: Stack, sev1: int, hung: list[int]
) -> list[dict[str, object]]:
    """Wait until a hung read gave up; check the SEV 1 was paged before. Returns the log."""

    def gave_up(e: dict[str, object]) -> bool:
        return e.get("ticket_id") in hung and "retrying" in str(e.get("msg"))

    wait_for(lambda: any(gave_up(e) for e in stack.serve.json_logs()), timeout=30)
    logs = stack.serve.json_logs()
    paged = first_log(
        logs, lambda e: e.get("msg") == "paged" and e.get("ticket_id") == sev1
    )
    assert paged < first_log(logs, gave_up), "the page waited for a normal thread"
    return logs


def first_log(
    logs: list[dict[str, object]], match: Callable[[dict[str, object]], bool]
) -> int:
    """The index of the first log line ``match`` accepts; fails when there is none."""
    found = next((i for i, e in enumerate(logs) if match(e)), None)
    assert found is not None, "no such log line"
    return found
