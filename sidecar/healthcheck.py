"""The container's HEALTHCHECK: ``python -m sidecar.healthcheck`` (exit 0 healthy, 1 not).

One image runs either process, and Docker's HEALTHCHECK cannot know which, so
this asks both places a sidecar process answers on its own host: the web's
``/healthz`` on ``$PORT``, and the worker's ``/metrics`` on
``SIDECAR_WORKER_METRICS_LISTEN``. In a web container nothing listens on the
worker's port and the other way round, so "one of them answers 200" means "this
container's process is alive". stdlib only, and no Config: a probe must stay
cheap and must not fail on a setting that only a job needs.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_SECONDS = 3.0


def probe_urls(environ: Mapping[str, str]) -> list[str]:
    """The URLs to try, web first."""
    urls = [f"http://127.0.0.1:{environ.get('PORT', '8000').strip() or '8000'}/healthz"]
    listen = environ.get("SIDECAR_WORKER_METRICS_LISTEN", "").strip()
    if listen:
        port = listen.rpartition(":")[2]
        urls.append(f"http://127.0.0.1:{port}/metrics")
    return urls


def healthy(url: str) -> bool:
    """True when GET ``url`` answers 200 within the timeout."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(environ: Mapping[str, str] = os.environ) -> int:
    """Return 0 when one of the process's endpoints answers, else 1 (and say why)."""
    urls = probe_urls(environ)
    if any(healthy(url) for url in urls):
        return 0
    print(f"sidecar healthcheck: no answer from {', '.join(urls)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
