"""API calls and time of `sidecar report` with every metric, against first response only.

Usage: .venv/bin/python bench/report_metrics_bench.py [--tickets 300]

The strict Zendesk double (over HTTP on 127.0.0.1, its rate limits as
published) holds N tickets with random histories: customer turns after the
first response, pending periods, 60 % solved. The same account is reported
three times, in-process through `sidecar report --format json`:

- baseline: the built-in policy (first response only): the export alone;
- metrics: SEV 1-2 with next reply, periodic update and resolution, no pause
  (comments for every such ticket; the status history only for one that was
  solved);
- metrics + pause: the same with the resolution paused while pending (the
  status history for every such ticket).

Requests are counted from the double's log, by endpoint; time is wall clock
(the double in the same process), reported as a ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from sidecar.cli import main  # noqa: E402
from tests.fake_zendesk import FakeZendesk  # noqa: E402

SEV = 360001
METRICS = """
[policies.full.sev{n}]
first_response = {{ target = "{fr}", schedule = "24/7" }}
next_reply = {{ target = "4h", schedule = "24/7" }}
periodic_update = {{ target = "8h", schedule = "24/7" }}
resolution = {{ target = "3d", schedule = "24/7"{pause} }}
"""


def policy(pause: bool) -> str:
    text = 'default_policy = "full"\n[policies.full]\nsev3 = { target = "6h", schedule = "24/7" }\n'
    for n, fr in ((1, "1h"), (2, "2h")):
        text += METRICS.format(
            n=n, fr=fr, pause=', pause = ["pending"]' if pause else ""
        )
    return text


def fill(fake: FakeZendesk, tickets: int, real: datetime) -> None:
    rng = random.Random(21)
    agents = [fake.add_user(role="agent") for _ in range(3)]
    for oid in (101, 102, 103):
        fake.add_org(oid, name=f"Org {oid}")
    for _ in range(tickets):
        created = real - timedelta(days=rng.uniform(1, 28))
        customer = fake.add_user(role="end-user")
        tid = fake.add_ticket(
            created_at=created,
            organization_id=rng.choice((101, 102, 103)),
            requester_id=customer,
            tags=["sla_pending"],
            custom_fields={SEV: f"sev_{rng.choice([1, 2, 2, 3])}"},
        )
        t = created + timedelta(minutes=rng.expovariate(1 / 70))
        fake.add_comment(tid, rng.choice(agents), at=t)
        fake.set_status(tid, "open", at=t)
        for _ in range(rng.randint(0, 4)):
            t += timedelta(minutes=rng.expovariate(1 / 300))
            if t > real:
                break
            fake.add_comment(tid, customer, at=t)
            if rng.random() < 0.3:
                fake.set_status(tid, "pending", at=t + timedelta(minutes=1))
                t += timedelta(hours=rng.uniform(1, 30))
                if t > real:
                    break
                fake.set_status(tid, "open", at=t)
            t += timedelta(minutes=rng.expovariate(1 / 150))
            if t > real:
                break
            fake.add_comment(tid, rng.choice(agents), at=t)
        if rng.random() < 0.6:
            t += timedelta(hours=rng.uniform(1, 48))
            if t < real:
                fake.set_status(tid, "solved", at=t)


def run(
    fake: FakeZendesk, work: Path, text: str | None, since: str
) -> tuple[dict, Counter, float]:
    env = {**fake.env(), "SIDECAR_SEVERITY_FIELD_ID": str(SEV)}
    if text is not None:
        path = work / "policy.toml"
        path.write_text(text)
        env["SIDECAR_POLICY_FILE"] = str(path)
    fake.reset_calls()
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["report", "--since", since, "--format", "json", "--pace", "0"], env=env
    )
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    kinds: Counter[str] = Counter()
    for call in fake.calls():
        path = call.path
        kind = next(
            (
                k
                for k in (
                    "incremental",
                    "comments",
                    "audits",
                    "users/me",
                    "organizations",
                )
                if k in path
            ),
            "other",
        )
        kinds[kind] += 1
    return json.loads(result.stdout), kinds, elapsed


def main_() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=300)
    args = parser.parse_args()
    real = datetime.now(UTC).replace(microsecond=0)
    clock = [real]
    print(
        f"{args.tickets} tickets, Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeZendesk(clock=lambda: clock[0]) as fake,
    ):
        fill(fake, args.tickets, real)
        clock[0] = real + timedelta(minutes=5)
        since = (real - timedelta(days=30)).strftime("%Y-%m-%d")
        rows = []
        for name, text in (
            ("baseline", None),
            ("metrics", policy(False)),
            ("metrics + pause", policy(True)),
        ):
            report, kinds, elapsed = run(fake, Path(tmp), text, since)
            counted = report["tickets_counted"]
            history = report.get("history", {})
            rows.append((name, counted, history.get("tickets_read", 0), kinds, elapsed))
        base = rows[0][4]
        print(
            "| run | tickets | with metrics | export pages | comment lists | status histories | other | calls/ticket | time | vs baseline |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, counted, read, kinds, elapsed in rows:
            calls = sum(kinds.values())
            other = kinds["users/me"] + kinds["organizations"] + kinds["other"]
            print(
                f"| {name} | {counted} | {read} | {kinds['incremental']} | {kinds['comments']} | "
                f"{kinds['audits']} | {other} | {calls / counted:.2f} | {elapsed:.2f} s | {elapsed / base:.1f}x |"
            )


if __name__ == "__main__":
    main_()
