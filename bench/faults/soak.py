"""soak (full mode only): 20 events/s for 10 minutes; RSS growth of web and worker.

gunicorn (WEB_CONCURRENCY=2) and one `sidecar worker --workers 4` on a SQLite
queue. A new ticket arrives every second (the MIX of the burst, some answered
or raised by an agent), and signed deliveries go out at 20 per second, paced,
spread over the 300 newest tickets, one in ten a replay of a recent delivery;
every write fires its echo. Every new ticket's first delivery announces it. Resident memory (VmRSS from /proc) of the web
processes (the gunicorn master and its workers together) and of the worker is
sampled every 5 s; growth is the last sample against the one after the first
minute (imports, caches and pools warm), and must stay under 10 %.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.faults.harness import (
    Result,
    Service,
    World,
    _post,
    api_figures,
    environment,
    fakes,
    open_queue,
    result_from,
    rss_kib,
    signed_headers,
    wait_until_right,
    worker_figures,
)

RATE = 20  # deliveries per second
SECONDS = 600
WARM_UP = 60.0  # the RSS baseline is taken after this many seconds
SAMPLE_EVERY = 5.0
RECENT = 300  # deliveries go to the newest tickets
REPLAY_SHARE = 0.1
FIRST_TICKETS = 100


def run(quick: bool) -> Result:
    """The soak scenario; there is no quick mode."""
    if quick:
        raise ValueError("soak has no quick mode")
    return run_soak(SECONDS)


def run_soak(seconds: float) -> Result:
    """Soak the service for ``seconds``; return RSS growth and the final check."""
    rng = random.Random(20)
    with (
        tempfile.TemporaryDirectory(prefix="sidecar-fault-soak-") as tmp,
        fakes() as (zendesk, pagerduty),
    ):
        world = World(zendesk, pagerduty)
        settings = environment(Path(tmp), world)
        queue = open_queue(settings, started=datetime.now(UTC))
        world.populate(FIRST_TICKETS)
        secret = settings["SIDECAR_WEBHOOK_SECRET"]
        with Service(settings, Path(tmp)) as service:
            world.connect(service.urls, secret)
            samples: list[tuple[float, int, int]] = []
            statuses: Counter[int] = Counter()
            recent: deque[tuple[bytes, dict[str, str]]] = deque(maxlen=200)
            seen: Counter[int] = Counter()
            lock = threading.Lock()

            def deliver(tid: int) -> None:
                with lock:
                    replay = recent and rng.random() < REPLAY_SHARE
                    body, headers = rng.choice(recent) if replay else (b"", {})
                    seen[tid] += 1
                    change = seen[tid] == 2
                if not replay:
                    spec = world.tickets[tid]
                    action = world.action(spec) if change else None
                    if action is not None:
                        action()
                    body = json.dumps(
                        {
                            "ticket_id": str(tid),
                            "event": "ticket.changed",
                            "updated_at": zendesk.ticket(tid).updated_at,
                            "organization_id": "",
                            "delivery": uuid.uuid4().hex,
                        }
                    ).encode()
                    headers = signed_headers(
                        body, secret=secret, invocation_id=uuid.uuid4().hex
                    )
                    with lock:
                        recent.append((body, headers))
                status = _post(service.urls[0], body, headers)
                with lock:
                    statuses[status] += 1

            started = time.monotonic()
            next_sample = 0.0
            sent = 0
            with ThreadPoolExecutor(8) as pool:
                while (elapsed := time.monotonic() - started) < seconds:
                    if elapsed >= next_sample:
                        pids = service.pids()
                        samples.append(
                            (elapsed, rss_kib(pids["web"]), rss_kib(pids["worker"]))
                        )
                        next_sample += SAMPLE_EVERY
                    if sent % RATE == 0:
                        # A new ticket: Zendesk's trigger announces its creation.
                        spec = world.add_ticket(
                            entitled=rng.random() < 0.9,
                            severity=rng.choice([1, 2, 3, 3, 4, 4, 5, None]),
                        )
                        spec.reply = rng.random() < 0.15 and spec.severity in (3, 4, 5)
                        tid = spec.id
                    else:
                        tid = rng.choice(sorted(world.tickets)[-RECENT:])
                    pool.submit(deliver, tid)
                    sent += 1
                    # Paced open loop: the n-th delivery leaves at n / RATE s.
                    time.sleep(max(0.0, started + sent / RATE - time.monotonic()))
            pids = service.pids()
            samples.append(
                (
                    time.monotonic() - started,
                    rss_kib(pids["web"]),
                    rss_kib(pids["worker"]),
                )
            )
            drained = wait_until_right(
                world, queue, started=time.monotonic(), deadline=120.0
            )
            verdict = world.check()
            figures = {
                "sent": f"{sent} in {seconds:.0f} s ("
                + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
                + ")",
                "tickets": len(world.tickets),
                **_rss_figures(samples),
                "drain after the last delivery": f"{drained:.1f} s"
                if drained is not None
                else "not drained",
                **api_figures(world),
                **worker_figures(service, queue),
            }
        queue.close()
    load = f"{RATE} events/s for {seconds:.0f} s"
    result = result_from("soak", False, load, figures, world, verdict)
    result.rss_growth = _growth(samples)  # type: ignore[attr-defined]
    return result


def _baseline(samples: list[tuple[float, int, int]]) -> tuple[float, int, int]:
    return next((s for s in samples if s[0] >= WARM_UP), samples[0])


def _growth(samples: list[tuple[float, int, int]]) -> dict[str, float]:
    base, last = _baseline(samples), samples[-1]
    return {
        "web": (last[1] - base[1]) / base[1] * 100,
        "worker": (last[2] - base[2]) / base[2] * 100,
    }


def _rss_figures(samples: list[tuple[float, int, int]]) -> dict[str, str]:
    base, last = _baseline(samples), samples[-1]
    growth = _growth(samples)
    peak_web = max(s[1] for s in samples)
    peak_worker = max(s[2] for s in samples)
    return {
        "RSS web": f"{base[1] / 1024:.1f} -> {last[1] / 1024:.1f} MiB "
        f"({growth['web']:+.1f} %, peak {peak_web / 1024:.1f})",
        "RSS worker": f"{base[2] / 1024:.1f} -> {last[2] / 1024:.1f} MiB "
        f"({growth['worker']:+.1f} %, peak {peak_worker / 1024:.1f})",
    }
