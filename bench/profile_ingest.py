"""Profile the accepted-webhook path in one process: where an accepted delivery's time goes.

Usage: .venv/bin/python bench/profile_ingest.py [--queue sqlite|redis] [--n 3000]
       [--sort tottime|cumulative] [--top 40]

Calls the production WSGI app (``sidecar.app.create_app`` wrapped as
gunicorn serves it, logging configured by ``sidecar.logs`` with stdout sent
to /dev/null, a multiprocess metrics directory as under gunicorn) directly
with a WSGI environ per request, so gunicorn's own parsing, the same for a bare
endpoint, is left out. Prints the per-request time of the app and of a bare
Flask endpoint called the same way, then cProfile's table for the app.
Every request is a distinct signed event of a ticket of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret"


def environs(count: int, first: int) -> Iterator[dict]:
    from sidecar.webhooks.signature import sign
    from tests.support import iso_now

    timestamp = iso_now()
    for n in range(count):
        body = json.dumps(
            {
                "type": "zen:event-type:ticket.comment_added",
                "id": str(uuid.uuid4()),
                "subject": f"zen:ticket:{first + n}",
                "detail": {"id": str(first + n), "status": "OPEN"},
                "event": {},
            },
            separators=(",", ":"),
        ).encode()
        yield {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/webhooks/zendesk",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE": sign(
                body, timestamp=timestamp, secret=SECRET
            ),
            "HTTP_X_ZENDESK_WEBHOOK_SIGNATURE_TIMESTAMP": timestamp,
            "HTTP_X_ZENDESK_WEBHOOK_INVOCATION_ID": str(n),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }


def call(app, environ: dict) -> int:
    status: list[str] = []

    def start_response(s: str, headers: list, exc_info: object = None) -> None:
        status.append(s)

    for _ in app(environ, start_response):
        pass
    return int(status[0].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="profile-ingest-"))
    metrics = work / "metrics"
    metrics.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    stack = contextlib.ExitStack()
    if args.queue == "sqlite":
        url = f"sqlite:///{work / 'queue.db'}"
    else:
        from tests.support import scratch_redis_queue

        url = stack.enter_context(scratch_redis_queue("redis://127.0.0.1:6379/15"))
    with stack:
        from flask import Flask

        from sidecar import logs
        from sidecar.app import create_app
        from sidecar.config import Config, Secret

        logs.configure("INFO")
        devnull = open(os.devnull, "w")  # noqa: SIM115
        for handler in __import__("logging").getLogger().handlers:
            if hasattr(handler, "setStream"):
                handler.setStream(devnull)
        app = create_app(Config(webhook_secret=Secret(SECRET), queue_url=url))
        bare = Flask("bare")
        bare.post("/webhooks/zendesk")(lambda: ("", 200))
        first = 100000
        for target in (bare, app):
            for env in environs(300, first):  # warm up
                call(target, env)
            first += 300
        timings = {}
        for name, target in (("bare", bare.wsgi_app), ("app", app)):
            envs = list(environs(args.n, first))
            first += args.n
            gc.collect()
            gc.freeze()  # the prepared requests are not the app's heap
            started, cpu = time.perf_counter(), time.process_time()
            codes = [call(target, env) for env in envs]
            timings[name] = (time.perf_counter() - started) / args.n * 1e6
            timings[name + "_cpu"] = (time.process_time() - cpu) / args.n * 1e6
            assert set(codes) <= {200, 202}, set(codes)
        print(
            f"per request ({args.queue}, n={args.n}, one thread): wall bare "
            f"{timings['bare']:.0f} µs, app {timings['app']:.0f} µs, ratio "
            f"{timings['bare'] / timings['app']:.2f}; CPU bare {timings['bare_cpu']:.0f} "
            f"µs, app {timings['app_cpu']:.0f} µs, ratio "
            f"{timings['bare_cpu'] / timings['app_cpu']:.2f}"
        )
        envs = list(environs(args.n, first))
        gc.collect()
        gc.freeze()
        profile = cProfile.Profile(time.process_time)  # CPU, not waits
        profile.enable()
        for env in envs:
            call(app, env)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
