"""hostile upstream: Zendesk failing a quarter of the calls, PagerDuty down then slow.

FakeZendesk's chaos mode answers 20 % of requests 429 with ``Retry-After: 1``
(the rate-limit window is one second here), 5 % 503, and holds 2 % for 30 s
(past the client's 10 s read timeout: a hang). FakePagerDuty answers 503 to
everything for the first minute (quick: 5 s) of the burst, then takes 2 s per
event. Figures: drain time, retries, dead letters, lost.

The worker's retry base (SIDECAR_RETRY_BASE_SECONDS) is 1 s in the full mode,
so eight attempts span about two minutes and outlast the one-minute outage as
the production base (5 s, about ten minutes) does; the quick mode keeps the e2e
tests' 0.2 s (about 25 s) against its 5 s outage.
"""

from __future__ import annotations

import time

from bench.faults.burst import FULL, Run, Scale, run_burst
from bench.faults.harness import Result

THROTTLED, UNAVAILABLE, HANGS = 0.20, 0.05, 0.02
# Quick: fewer tickets than the other quick scenarios, since every 50th call
# holds a worker thread for the client's whole read timeout.
QUICK = Scale(tickets=40, events=200, deadline=90.0)
PAGER_SLOW_SECONDS = 2.0


def _pager_outage(seconds: float) -> object:
    def during(run: Run) -> None:
        pagerduty = run.world.pagerduty
        pagerduty.fail_for(seconds)
        time.sleep(seconds)
        pagerduty.delay(PAGER_SLOW_SECONDS)
        run.figures["PagerDuty"] = (
            f"down {seconds:.0f} s from the first delivery, then {PAGER_SLOW_SECONDS:.0f} s per event"
        )

    return during


def _chaos(run: Run) -> None:
    run.world.zendesk.chaos(
        throttled=THROTTLED, unavailable=UNAVAILABLE, hang=HANGS, retry_after=1, seed=7
    )


def run(quick: bool) -> Result:
    """The hostile-upstream scenario."""
    outage = 5.0 if quick else 60.0
    result = run_burst(
        "hostile",
        quick,
        scale=QUICK if quick else FULL,
        env={} if quick else {"SIDECAR_RETRY_BASE_SECONDS": "1"},
        before=_chaos,
        during=_pager_outage(outage),  # type: ignore[arg-type]
    )
    return result
