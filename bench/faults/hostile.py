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

from bench.faults.burst import Run, Scale, run_burst
from bench.faults.harness import Result

THROTTLED, UNAVAILABLE, HANGS = 0.20, 0.05, 0.02
# Smaller than the other scenarios: with a fifth of the calls answered 429, the
# budget holds ordinary work back for each Retry-After (as it should), so the
# deployment makes a few calls a second. Quick: about 40 s of draining.
QUICK = Scale(tickets=20, events=100, deadline=100.0)
FULL_HOSTILE = Scale(tickets=200, events=1000, deadline=900.0)
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
        scale=QUICK if quick else FULL_HOSTILE,
        env={} if quick else {"SIDECAR_RETRY_BASE_SECONDS": "1"},
        before=_chaos,
        during=_pager_outage(outage),  # type: ignore[arg-type]
    )
    return result
