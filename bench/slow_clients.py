"""Slow clients: normal webhooks' latency while hostile clients trickle bodies.

Usage: .venv/bin/python bench/slow_clients.py [--quick] [--slow 10] [--slow-headers 0]
       [--front] [--worker-class gthread|sync] [--record]

Starts real gunicorn (sidecar.gunicorn_conf, WEB_CONCURRENCY=2) on a SQLite queue,
then sends signed trigger webhooks one after another at ~50/s (each a distinct
invocation and ticket): first with no other traffic (the baseline), then while
``--slow`` clients each upload a 100 kB body at 4 bytes/s and start over whenever
the server cuts them, and ``--slow-headers`` clients trickle their request
headers at 4 bytes/s. ``--front`` sends everything (webhooks and slow clients)
through the deploy kit's nginx front (deploy/k8s/front/default.conf.template,
run with the local nginx), as a deployment built from the kit does. Prints one
summary line: answered/sent, p50/p99 with and without slow clients and their
ratio, how the slow uploads were ended. With
``--record`` it appends a row to docs/benchmarks.md. ``--worker-class sync
--threads 1`` measures the old worker model in the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slow_clients import SlowClients  # noqa: E402
from tests.support import (  # noqa: E402
    Process,
    free_port,
    http,
    sidecar_env,
    signed_headers,
    start_front,
    wait_for_url,
)

TIMEOUT = 10.0  # Zendesk's patience: slower than this counts as unanswered
MARKER = "<!-- bench/slow_clients.py --record adds rows below -->"
RULE = "|---|---|---|---|---|---|---|---|---|"


def _send(base_url: str, count: int, first_id: int) -> tuple[list[float], int]:
    """Send ``count`` signed webhooks at ~50/s; return latencies (ms) and how many got 202."""
    latencies, accepted = [], 0
    for n in range(count):
        ticket = first_id + n
        body = json.dumps(
            {"ticket_id": str(ticket), "event": "ticket.changed"}
        ).encode()
        headers = signed_headers(body, invocation_id=f"bench-{ticket}")
        started = time.perf_counter()
        try:
            status, _, _ = http(
                "POST",
                base_url + "/webhooks/zendesk",
                body=body,
                headers=headers,
                timeout=TIMEOUT,
            )
        except OSError:
            status = 0
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        accepted += status == 202
        time.sleep(max(0.0, 0.02 - elapsed / 1000))
    return latencies, accepted


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 webhooks per phase")
    parser.add_argument("--count", type=int, default=None, help="webhooks per phase")
    parser.add_argument("--slow", type=int, default=10, help="slow-body clients")
    parser.add_argument(
        "--slow-headers", type=int, default=0, help="slow-header clients"
    )
    parser.add_argument(
        "--front", action="store_true", help="through the deploy kit's nginx front"
    )
    parser.add_argument("--worker-class", default=None, help="override gunicorn -k")
    parser.add_argument("--threads", type=int, default=None, help="WEB_THREADS")
    parser.add_argument(
        "--record", action="store_true", help="append to docs/benchmarks.md"
    )
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="sidecar-slow-") as tmp:
        env = sidecar_env(Path(tmp))
        if args.threads:
            env["WEB_THREADS"] = str(args.threads)
        port = free_port()
        cmd = [
            sys.executable, "-m", "gunicorn", "-c", "python:sidecar.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}",
        ]  # fmt: skip
        if args.worker_class:
            cmd += ["--worker-class", args.worker_class]
        web = Process([*cmd, "sidecar.wsgi:app"], env=env, cwd=tmp)
        web.url = f"http://127.0.0.1:{port}"
        front = contextlib.ExitStack()
        try:
            wait_for_url(web.url + "/healthz", alive=lambda: web.popen.poll() is None)
            url = web.url
            if args.front:
                url = front.enter_context(
                    start_front(web.url, workdir=Path(tmp) / "front")
                ).url
            _send(url, 20, 1)  # warm up both workers
            base, base_ok = _send(url, count, 1000)
            with (
                SlowClients(url, count=args.slow, rate=4.0) as slow,
                SlowClients(
                    url, count=args.slow_headers, rate=4.0, slow_headers=True
                ) as heads,
            ):
                slow.wait_until_sending()
                heads.wait_until_sending()
                time.sleep(1.0)
                loaded, loaded_ok = _send(url, count, 100_000)
            timeouts = web.output().count("WORKER TIMEOUT")
        finally:
            front.close()
            web.stop()
    ends = Counter(a.split(" ", 2)[1] for a in slow.answers)
    ends["closed"] = slow.cut - len(slow.answers)
    head_ends = Counter(a.split(" ", 2)[1] for a in heads.answers)
    head_ends["closed"] = heads.cut - len(heads.answers)
    p99_base, p99_loaded = _pct(base, 0.99), _pct(loaded, 0.99)
    model = args.worker_class or "gthread"
    threads = args.threads or (1 if model == "sync" else 16)
    via = "nginx front" if args.front else "gunicorn directly"
    line = (
        f"slow_clients ({via}): {model} x{threads} threads, {args.slow} slow-body "
        f"and {args.slow_headers} slow-header clients: "
        f"answered {loaded_ok}/{count} (baseline {base_ok}/{count}); "
        f"p50 {statistics.median(base):.1f} -> {statistics.median(loaded):.1f} ms, "
        f"p99 {p99_base:.1f} -> {p99_loaded:.1f} ms "
        # bench/faults/slow_clients.py reads "slow uploads ended: ...; worker
        # timeouts N" at the end of this line.
        f"(ratio {p99_loaded / p99_base:.2f}); slow headers ended: "
        f"{dict(sorted(head_ends.items()))}; slow uploads ended: "
        f"{dict(sorted(ends.items()))}; worker timeouts {timeouts}"
    )
    print(line)
    if args.record:
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d} | {model} × {threads}"
            f"{' via nginx front' if args.front else ''} | "
            f"{args.slow} bodies + {args.slow_headers} headers | "
            f"{loaded_ok}/{count} | {statistics.median(base):.1f} / {p99_base:.1f} | "
            f"{statistics.median(loaded):.1f} / {p99_loaded:.1f} | "
            f"{p99_loaded / p99_base:.2f} | {dict(sorted(ends.items()))} | {timeouts} |\n"
        )
        # Rows go right under the header of the table after the marker comment.
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text()
        start = text.find(MARKER)
        rule = text.find(RULE + "\n", start)
        if start < 0 or rule < 0:
            sys.exit(f"{doc}: no {MARKER!r} table to add the row to")
        at = rule + len(RULE) + 1
        doc.write_text(text[:at] + row + text[at:])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
