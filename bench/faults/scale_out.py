"""scale-out: 2 web processes and 3 workers on the real Redis, the same burst.

Two gunicorn instances (one web process each, deliveries round robin over both)
and three `sidecar worker --workers 4` processes share a queue on the Redis
server of SIDECAR_TEST_REDIS_URL (tests/support.py ``redis_queue_url``: a queue
name of its own, only its keys deleted afterwards). Figures as for the burst;
lost, double writes and incidents opened twice show whether the processes
stepped on each other (claims, leases, safe updates).
"""

from __future__ import annotations

from bench.faults.burst import run_burst
from bench.faults.harness import Result
from tests.support import redis_queue_url


def run(quick: bool) -> Result:
    """The scale-out scenario (skipped, as a pytest skip, when no Redis answers)."""
    with redis_queue_url() as url:
        return run_burst(
            "scale-out",
            quick,
            queue_url=url,
            webs=2,
            web_concurrency=1,
            workers=3,
        )
