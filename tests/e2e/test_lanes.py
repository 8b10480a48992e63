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

        # The SEV 1 first (its reconcile reads in the normal lane), then the
        # hung tickets, which take every normal thread once it is free.
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
        def gave_up(e: dict[str, object]) -> bool:
            return e.get("ticket_id") in hung and "retrying" in str(e.get("msg"))

        wait_for(lambda: any(gave_up(e) for e in stack.serve.json_logs()), timeout=30)
        logs = stack.serve.json_logs()
        paged = first_log(
            logs, lambda e: e.get("msg") == "paged" and e.get("ticket_id") == sev1
        )
        assert paged < first_log(logs, gave_up)
        # The 503, then the page.
        assert pagerduty.request_count == 2 and len(pagerduty.triggers()) == 1
        escalations = [
            e for e in logs if e.get("job") == "escalate" and e.get("ticket_id") == sev1
        ]
        assert escalations and all(e.get("lane") == "urgent" for e in escalations)

        # Measured: SEV 1 read to its page's marker, while the hung reads held on.
        sev1_read = first(calls, lambda c: c.method == "GET" and c.path == sev1_path)
        print(
            f"\nSEV 1 read -> page marker: {calls[marker].at - calls[sev1_read].at:.2f} s "
            f"with {HUNG} normal threads hung on Zendesk reads"
        )
        zendesk.clear_faults()


def first_log(
    logs: list[dict[str, object]], match: Callable[[dict[str, object]], bool]
) -> int:
    """The index of the first log line ``match`` accepts; fails when there is none."""
    found = next((i for i, e in enumerate(logs) if match(e)), None)
    assert found is not None, "no such log line"
    return found
