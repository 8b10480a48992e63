"""slow clients: 10 clients trickling 100 kB bodies; p99 of normal webhooks.

The measurement is bench/slow_clients.py's (the ingress work of issue 9: real
gunicorn, signed webhooks one after another at ~50/s, first alone, then while
the slow clients upload at 4 bytes/s and reconnect whenever cut); it runs as
its own process with its own gunicorn and this scenario reads its summary line.
Nothing is lost here when every normal webhook was answered 202 within
Zendesk's 10 s.
"""

from __future__ import annotations

import re
import subprocess
import sys

from bench.faults.harness import ROOT, Result

SLOW_CLIENTS = 10
LINE = re.compile(
    r"answered (?P<ok>\d+)/(?P<sent>\d+) .*"
    r"p99 (?P<alone>[\d.]+) -> (?P<loaded>[\d.]+) ms .*"
    r"slow uploads ended: (?P<ended>\{[^}]*\}); worker timeouts (?P<timeouts>\d+)"
)


def run(quick: bool) -> Result:
    """The slow-clients scenario."""
    args = [sys.executable, str(ROOT / "bench" / "slow_clients.py")]
    args += ["--slow", str(SLOW_CLIENTS)] + (["--quick"] if quick else [])
    out = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
    ).stdout
    match = next(filter(None, map(LINE.search, out.splitlines())), None)
    if match is None:
        raise RuntimeError(f"bench/slow_clients.py printed no summary line:\n{out}")
    ok, sent = int(match["ok"]), int(match["sent"])
    alone, loaded = float(match["alone"]), float(match["loaded"])
    figures = {
        "answered 202": f"{ok}/{sent}",
        "p99 alone": f"{alone:.1f} ms",
        f"p99 with {SLOW_CLIENTS} slow clients": f"{loaded:.1f} ms",
        "ratio": f"{loaded / alone:.2f}",
        "slow uploads ended": match["ended"],
        "gunicorn worker timeouts": int(match["timeouts"]),
    }
    result = Result(
        "slow-clients",
        quick,
        f"{sent} webhooks at ~50/s per phase, {SLOW_CLIENTS} slow clients",
        figures,
        lost=sent - ok,
    )
    return result
