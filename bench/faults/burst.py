"""burst: 5,000 signed events for 1,000 tickets, duplicates and shuffled order.

gunicorn (WEB_CONCURRENCY=2) and one `sidecar worker --workers 4` on a SQLite
queue, against the strict fakes with one-second rate-limit windows. Figures:
ingest rate, drain time (first delivery sent until every ticket carries what it
should and no job waits), Zendesk API calls per ticket, lost, double writes.

:func:`run_burst` is the skeleton the crash, scale-out and hostile-upstream
scenarios reuse: they change the processes, the upstreams or what happens while
the burst is sent (``during``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.faults.harness import (
    Ingest,
    Result,
    Service,
    World,
    api_figures,
    environment,
    fakes,
    open_queue,
    result_from,
    send,
    wait_until_right,
    worker_figures,
)
from sidecar.tasks.queue import JobQueue


@dataclass(frozen=True)
class Scale:
    """How big a run is, and how long it may take to come right."""

    tickets: int
    events: int
    deadline: float  # seconds from the first delivery until "lost" is counted


QUICK = Scale(tickets=100, events=500, deadline=60.0)
FULL = Scale(tickets=1000, events=5000, deadline=300.0)
SETTLE_SECONDS = 2.0  # after coming right: late jobs must not undo it
VERDICT_PATIENCE = 30.0  # then how long a flip caught mid-way may take to land


@dataclass
class Run:
    """What a scenario's hooks can see and add to while the burst runs."""

    world: World
    service: Service
    queue: JobQueue
    started: float = 0.0  # time.monotonic() of the first delivery
    answered: int = 0  # deliveries answered so far
    figures: dict[str, Any] = field(default_factory=dict)
    sending_done: threading.Event = field(default_factory=threading.Event)


Hook = Callable[[Run], None]


def run_burst(
    name: str,
    quick: bool,
    *,
    scale: Scale | None = None,
    queue_url: str | None = None,
    webs: int = 1,
    web_concurrency: int = 2,
    workers: int = 1,
    worker_threads: int = 4,
    zendesk_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    before: Hook | None = None,
    during: Hook | None = None,
) -> Result:
    """Send the burst to a running service; return the figures and the final check.

    ``before(run)`` runs once the service is up, just before the first
    delivery; ``during(run)`` runs in its own thread from the first delivery
    on, and the drain is measured once it has returned.
    """
    scale = scale or (QUICK if quick else FULL)
    with (
        tempfile.TemporaryDirectory(prefix=f"sidecar-fault-{name}-") as tmp,
        fakes(zendesk_options=zendesk_options) as (zendesk, pagerduty),
    ):
        world = World(zendesk, pagerduty)
        settings = environment(Path(tmp), world, queue_url=queue_url, **(env or {}))
        # The tickets are created after the sweep's cursor, as on a running
        # deployment: the minute sweep sees them (and our writes) too.
        queue = open_queue(settings, started=datetime.now(UTC))
        world.populate(scale.tickets)
        secret = settings["SIDECAR_WEBHOOK_SECRET"]
        deliveries = world.deliveries(scale.events, secret=secret)
        with Service(
            settings,
            Path(tmp),
            webs=webs,
            web_concurrency=web_concurrency,
            workers=workers,
            worker_threads=worker_threads,
        ) as service:
            world.connect(service.urls, secret)
            run = Run(world, service, queue)
            if before is not None:
                before(run)
            run.started = time.monotonic()
            helper = None
            if during is not None:
                helper = threading.Thread(target=during, args=(run,), daemon=True)
                helper.start()

            def progress(count: int) -> None:
                run.answered = count

            ingest = send(deliveries, service.urls, progress=progress)
            ingest.duplicates = sum(d.duplicate for d in deliveries)
            run.sending_done.set()
            if helper is not None:
                helper.join()
            drained = wait_until_right(
                world, queue, started=run.started, deadline=scale.deadline
            )
            time.sleep(SETTLE_SECONDS)
            # A ticket caught mid-flip (its timer due, its write waiting for the
            # budget) is not lost: give late flips a while before the verdict.
            wait_until_right(
                world, queue, started=time.monotonic(), deadline=VERDICT_PATIENCE
            )
            verdict = world.check()
            figures = {
                **_ingest_figures(ingest, world),
                "drain": f"{drained:.1f} s" if drained is not None else "not drained",
                **run.figures,
                **api_figures(world),
                **_fault_figures(world),
                **worker_figures(service, queue),
            }
        queue.close()
    load = f"{scale.events} events / {scale.tickets} tickets"
    return result_from(name, quick, load, figures, world, verdict)


def _ingest_figures(ingest: Ingest, world: World) -> dict[str, Any]:
    answers = ", ".join(f"{s}: {n}" for s, n in sorted(ingest.statuses.items()))
    echoes = ", ".join(f"{s}: {n}" for s, n in sorted(world.echo_statuses.items()))
    return {
        "ingest": f"{ingest.rate:.0f} events/s ({answers}; resent {ingest.resent})",
        "duplicates sent": ingest.duplicates,
        "echoes": f"{sum(world.echo_statuses.values())} ({echoes})",
    }


def _fault_figures(world: World) -> dict[str, Any]:
    dealt = world.zendesk.chaos_counts()
    if not dealt:
        return {}
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(dealt.items()))
    return {"Zendesk faults dealt": shown}


def run(quick: bool) -> Result:
    """The burst scenario."""
    return run_burst("burst", quick)
