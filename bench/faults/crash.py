"""crash: the burst while the worker is SIGKILLed and restarted, once mid-page.

The worker (`sidecar worker`, separate from gunicorn) is SIGKILLed three times
while it works through the burst (after 15 %, 40 % and 65 % of the expected
ticket writes), each time restarted at once, and then once more inside an
escalate job: PagerDuty answers in 3 s, a fresh SEV 1 ticket is announced, and
the kill lands while its trigger is in flight. A SIGKILL loses the jobs that
were running (Huey removed them from the queue when they started): the
escalation's lease brings a lost page back, a later event or the sweep a lost
reconcile. Figures: lost, unpaged, incidents opened twice (FakePagerDuty's
incidents by dedup key), and what the kills cost.
"""

from __future__ import annotations

import time

from bench.faults.burst import Run, run_burst
from bench.faults.harness import Result, send_one

KILL_AT = (0.15, 0.40, 0.65)  # shares of the expected writes
PAGER_SLOW_SECONDS = 3.0


def _expected_writes(run: Run) -> int:
    return sum(1 for s in run.world.tickets.values() if s.entitled and s.severity)


def _kill_and_restart(run: Run) -> None:
    run.service.kill_worker()
    time.sleep(0.2)
    run.service.restart_worker()


def _crash(run: Run) -> None:
    world, service = run.world, run.service
    expected = _expected_writes(run)
    timed = 0
    for share in KILL_AT:
        deadline = time.monotonic() + 60
        while world.writes < share * expected and time.monotonic() < deadline:
            time.sleep(0.02)
        _kill_and_restart(run)
        timed += 1
    # Once more inside an escalate job: PagerDuty slow, a fresh SEV 1 announced.
    run.sending_done.wait()
    spec = world.add_ticket(entitled=True, severity=1)
    world.pagerduty.delay(PAGER_SLOW_SECONDS)
    before = world.pagerduty.request_count
    send_one(service.urls, world, spec.id)
    deadline = time.monotonic() + 30
    while world.pagerduty.request_count <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    mid_page = world.pagerduty.request_count > before
    service.kill_worker()  # the trigger is held by PagerDuty: we are mid-call
    world.pagerduty.delay(0)
    time.sleep(0.2)
    service.restart_worker()
    run.figures["kills"] = (
        f"{service.kills} ({timed} during the burst, "
        f"{'1 during a PagerDuty call' if mid_page else '1 missed the page call'})"
    )


def run(quick: bool) -> Result:
    """The crash scenario."""
    return run_burst("crash", quick, during=_crash)
