"""Live latency during a 3,000-ticket `sidecar backfill` / idle latency, same run (issue 19).

In-process (tests/inprocess.py ``running_sidecar``): the app and one worker
(4 normal + 2 urgent threads, as `sidecar worker`) on threads, the strict fake
Zendesk and PagerDuty over HTTP on 127.0.0.1, the budget window scaled from
60 s to 2 s (20 updates, 200 requests a window, as page_storm_bench.py), on a
SQLite queue and on Redis (SIDECAR_TEST_REDIS_URL, default
redis://127.0.0.1:6379/15, a scratch queue name whose keys are deleted after).

The fake account holds 3,000 backfill tickets (``--tickets``) of an entitled
organization: open/pending/hold, SEV 3-5 (10 % without a severity), created
over the last three days. Per backend, in one run:

1. idle: ``--samples`` rounds of three live webhooks, one at a time:
   - a SEV 1 whose trigger body names its severity (urgent lane) -> page,
   - a SEV 1 whose body does not (the README's older trigger body, or an
     event-subscription delivery: the normal lane) -> page,
   - a SEV 3 (trigger body with its severity) -> its due time written;
2. `sidecar backfill` run as an admin runs it (the CLI in its own process,
   same environment); once it has enqueued every ticket,
3. the same rounds again while the worker works through the backfill.

Each backend runs twice: with the budget (the bulk part of the update share
paces the backfill: SIDECAR_ZENDESK_BUDGET_BULK's default), and with the
budget and the fake's limits lifted, where only the queue's order and the
worker's threads stand between the backfill and live work (the defect the
issue measured: a live job behind 3,000 queued reconciles).

Page latency: from just before the webhook's POST to the fake PagerDuty's
receipt of the first trigger (polled every 10 ms, tests/e2e/test_urgent_storm
PageClock). Due-time latency: to the fake Zendesk holding the due-time field
(polled every 10 ms). The ratio is the median during the backfill over the
idle median of the same run; the issue's target is 2x or less. The last
column profiles where the time goes: from the POST to the job's first Zendesk
read of the ticket (the fake's call log), i.e. the web's part and the wait for
a worker thread; the rest is the job's own work.

    .venv/bin/python bench/backfill_latency_bench.py [--samples 5] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from page_storm_bench import pct  # noqa: E402

from sidecar.config import Config  # noqa: E402
from tests.e2e.conftest import (  # noqa: E402
    DUE_AT_FIELD,
    FAST_POLICY,
    ROUTING_KEY,
    SEVERITY_FIELD,
    define_fields,
)
from tests.e2e.test_urgent_storm import (  # noqa: E402
    REQUESTS,
    UPDATES,
    WINDOW,
    PageClock,
    trigger_body,
)
from tests.fake_pagerduty import FakePagerDuty  # noqa: E402
from tests.fake_zendesk import FakeZendesk  # noqa: E402
from tests.inprocess import Sidecar, running_sidecar  # noqa: E402
from tests.support import REDIS_TEST_URL, scratch_redis_queue, sidecar_env  # noqa: E402

OPEN = ("open", "pending", "hold")
GIVE_UP = 120.0  # seconds: a sample not done by then is recorded as "> 120"
UNLIMITED = 10**9
KINDS = ("SEV 1, severity hint (urgent lane)", "SEV 1, no hint", "SEV 3 due time")


@contextlib.contextmanager
def queue_url(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'queue.db'}"
        return
    with scratch_redis_queue(REDIS_TEST_URL) as url:
        yield url


def environment(
    workdir: Path,
    url: str,
    zendesk: FakeZendesk,
    pagerduty: FakePagerDuty,
    *,
    lifted: bool,
) -> dict[str, str]:
    """The deployment's environment: the in-process service and the CLI read the same."""
    policy = workdir / "policy.toml"
    policy.write_text(FAST_POLICY)
    return sidecar_env(
        workdir,
        **zendesk.env(),
        SIDECAR_QUEUE_URL=url,
        SIDECAR_SEVERITY_FIELD_ID=str(SEVERITY_FIELD),
        SIDECAR_DUE_AT_FIELD_ID=str(DUE_AT_FIELD),
        SIDECAR_POLICY_FILE=str(policy),
        SIDECAR_PAGERDUTY_URL=pagerduty.url,
        SIDECAR_PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
        SIDECAR_RETRY_BASE_SECONDS="0.2",
        SIDECAR_ZENDESK_BUDGET_WINDOW=f"{WINDOW:g}",
        SIDECAR_ZENDESK_BUDGET_UPDATES=str(UNLIMITED if lifted else UPDATES),
        SIDECAR_ZENDESK_BUDGET_REQUESTS=str(UNLIMITED if lifted else REQUESTS),
    )


def add_backlog(zendesk: FakeZendesk, org: int, tickets: int) -> list[int]:
    """The tickets that were open before the sidecar ran (what backfill is for)."""
    rng = random.Random(19)
    now = datetime.now(UTC)
    ids = []
    for i in range(tickets):
        custom = {} if i % 10 == 1 else {SEVERITY_FIELD: f"sev_{rng.choice((3, 4, 5))}"}
        ids.append(
            zendesk.add_ticket(
                status=rng.choice(OPEN),
                created_at=now - timedelta(minutes=rng.randint(10, 3 * 24 * 60)),
                organization_id=org,
                custom_fields=custom,
            )
        )
    return ids


def wait_until(done: Callable[[], float | None]) -> float | None:
    deadline = time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        at = done()
        if at is not None:
            return at
        time.sleep(0.01)
    return None


def due_time_of(zendesk: FakeZendesk, ticket_id: int) -> Callable[[], float | None]:
    """When the fake first held the ticket's due time (polled), or None yet."""

    def done() -> float | None:
        if zendesk.ticket(ticket_id).custom_fields.get(DUE_AT_FIELD):
            return time.monotonic()
        return None

    return done


def page_of(clock: PageClock, dedup_key: str) -> Callable[[], float | None]:
    """When the fake PagerDuty received the incident's first trigger, or None yet."""
    return lambda: clock.first.get(dedup_key)


def rounds(
    sidecar: Sidecar,
    zendesk: FakeZendesk,
    clock: PageClock,
    org: int,
    samples: int,
    left: Callable[[], int],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """``samples`` rounds of the three live webhooks, one at a time.

    Returns the latencies (seconds, inf: never) and, as the profile of each,
    the seconds from the POST to the job's first Zendesk read of the ticket (the
    fake's call log): the web's part plus the wait for a worker thread. A
    sample taken when ``left()`` (backfilled tickets not yet written) is 0 is
    dropped: the backfill had run dry.
    """
    taken: dict[str, list[float]] = {kind: [] for kind in KINDS}
    to_read: dict[str, list[float]] = {kind: [] for kind in KINDS}
    prefix = f"zendesk-{sidecar.config.zendesk_subdomain}-ticket-"
    for _ in range(samples):
        for kind in KINDS:
            severity = "sev_3" if kind == "SEV 3 due time" else "sev_1"
            tid = zendesk.add_ticket(
                organization_id=org, custom_fields={SEVERITY_FIELD: severity}
            )
            body: dict[str, Any] = trigger_body(zendesk, tid)
            if kind == "SEV 1, no hint":
                body = {k: body[k] for k in ("ticket_id", "event", "updated_at")}
            time.sleep(0.5)  # one at a time, after a quiet moment
            sent = time.monotonic()
            assert sidecar.deliver(body, invocation_id=f"live-{tid}") == 202
            done = (
                due_time_of(zendesk, tid)
                if kind == "SEV 3 due time"
                else page_of(clock, f"{prefix}{tid}")
            )
            at = wait_until(done)
            if left() == 0:
                continue
            taken[kind].append(float("inf") if at is None else at - sent)
            reads = zendesk.calls(method="GET", path_contains=f"/tickets/{tid}.json")
            if reads:
                to_read[kind].append(reads[0].at - sent)
    return taken, to_read


def backfill_cli(env: dict[str, str]) -> tuple[float, str]:
    """Run `sidecar backfill` as an admin does; return (seconds, its last line)."""
    command = [str(Path(sys.executable).parent / "sidecar"), "backfill"]
    started = time.monotonic()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"sidecar backfill failed:\n{done.stdout}\n{done.stderr}")
    return took, done.stdout.strip().splitlines()[-1]


def fmt(values: list[float]) -> str:
    def one(v: float) -> str:
        return f"> {GIVE_UP:.0f}" if v == float("inf") else f"{v:.2f}"

    return f"{one(statistics.median(values))} / {one(pct(values, 0.99))}"


def read_part(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" if values else "—"


def one_backend(backend: str, tickets: int, samples: int, *, lifted: bool) -> list[str]:
    limits: dict[str, Any] = (
        {
            "account_requests_per_window": UNLIMITED,
            "ticket_updates_per_window": UNLIMITED,
            "ticket_updates_per_user_ticket": UNLIMITED,
        }
        if lifted
        else {}
    )
    label = f"{backend}, budget {'lifted' if lifted else f'{UPDATES}/{REQUESTS} per {WINDOW:g} s'}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        queue_url(backend, Path(tmp)) as url,
        FakeZendesk(rate_window_seconds=WINDOW, **limits) as zendesk,
        FakePagerDuty(routing_keys=[ROUTING_KEY]) as pagerduty,
    ):
        define_fields(zendesk)
        org = zendesk.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        backlog = add_backlog(zendesk, org, tickets)
        env = environment(Path(tmp), url, zendesk, pagerduty, lifted=lifted)
        config = Config.from_env(env)
        with (
            running_sidecar(config) as sidecar,
            PageClock(pagerduty).running() as clock,
        ):
            load_idle = os.getloadavg()[0]
            todo = [t for t in backlog if zendesk.ticket(t).custom_fields]

            def left() -> int:
                return sum(
                    1
                    for t in todo
                    if not zendesk.ticket(t).custom_fields.get(DUE_AT_FIELD)
                )

            idle, idle_read = rounds(sidecar, zendesk, clock, org, samples, lambda: 1)
            took, said = backfill_cli(env)
            print(
                f"  {label}: `sidecar backfill` took {took:.1f} s: {said}", flush=True
            )
            load_busy = os.getloadavg()[0]
            done_before = sum(
                1 for t in backlog if zendesk.ticket(t).custom_fields.get(DUE_AT_FIELD)
            )
            busy, busy_read = rounds(sidecar, zendesk, clock, org, samples, left)
            done_after = sum(
                1 for t in backlog if zendesk.ticket(t).custom_fields.get(DUE_AT_FIELD)
            )
    lines = []
    for kind in KINDS:
        if not busy[kind]:
            lines.append(
                f"| {label} | {kind} | the backfill ran dry before a sample | | | |"
            )
            continue
        base, during = statistics.median(idle[kind]), statistics.median(busy[kind])
        ratio = during / base if base > 0 else float("inf")
        verdict = "met" if ratio <= 2 else f"MISSED by {ratio / 2:.1f}x"
        lines.append(
            f"| {label} | {kind} | {fmt(idle[kind])} | {fmt(busy[kind])} (n {len(busy[kind])}) "
            f"| {ratio:.2f} ({verdict}) | {read_part(idle_read[kind])} / "
            f"{read_part(busy_read[kind])} |"
        )
    lines.append(
        f"| {label} | backfill progress | load {load_idle:.1f} | load {load_busy:.1f}; "
        f"{done_before} -> {done_after} of {tickets} backfilled tickets written during the rounds "
        "| | |"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument(
        "--backend", choices=("sqlite", "redis"), action="append", default=None
    )
    args = parser.parse_args()
    print(
        f"backfill latency bench: {args.tickets} backfill tickets, {args.samples} samples "
        f"per kind and phase, window {WINDOW:g} s ({UPDATES} updates, {REQUESTS} requests), "
        f"{platform.python_version()}, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}",
        flush=True,
    )
    lines = [
        "| queue | live webhook | idle p50 / p99 s | during backfill p50 / p99 s | ratio (target <= 2) "
        "| p50 s to the job's first read of the ticket: idle / during |"
    ]
    lines.append("|---|---|---|---|---|---|")
    for backend in args.backend or ["sqlite", "redis"]:
        for lifted in (False, True):
            lines += one_backend(backend, args.tickets, args.samples, lifted=lifted)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
