"""`sidecar report` with every metric, against the strict double: turns, updates, a pending pause.

The histories include customer replies after the first response and a pending
period; the expected cycles are worked out by hand below (24/7 schedules, so
the arithmetic is plain clock time). The built-in first-response policy reads
no ticket history and its report is exactly what it always was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from sidecar.report.render import CSV_COLUMNS
from tests.fake_zendesk import FakeZendesk

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
SEV = 360001
ACME, GLOBEX = 7, 8

POLICY = """
default_policy = "full"
[policies.full]
sev3 = { target = "6h", schedule = "24/7" }
[policies.full.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "1h", schedule = "24/7" }
periodic_update = { target = "4h", schedule = "24/7" }
resolution = { target = "24h", schedule = "24/7", pause = ["pending"] }
"""


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    # The command measures at the wall clock: ticket C is an hour old for real.
    real = datetime.now(UTC).replace(microsecond=0)
    now = [real]
    with FakeZendesk(clock=lambda: now[0]) as fake:
        agent = fake.add_user(role="agent")
        fake.add_org(ACME, name="Acme")
        fake.add_org(GLOBEX, name="Globex")
        customer = fake.add_user(role="end-user")
        # A: answered in 1 h; the customer's turn at +1.5 h answered at +2 h (met);
        # the turn at +3 h (again at +3 h 10) answered at +5 h (2 h: breached).
        # Updates at +1, +2, +5 h: two met intervals, then pending from +5 h
        # to +11 h and solved at +30 h: 25 h without an update (breached).
        # Resolution: 5 h + (pending 6 h paused) + 19 h = due at +30 h: met.
        a = fake.add_ticket(
            ticket_id=1,
            created_at=T0,
            organization_id=ACME,
            requester_id=customer,
            tags=["sla_pending"],
            custom_fields={SEV: "sev_2"},
        )
        fake.add_comment(a, agent, at=at(1))
        fake.add_comment(a, customer, at=at(1.5))
        fake.add_comment(a, agent, at=at(2))
        fake.add_comment(a, customer, at=at(3))
        fake.add_comment(a, customer, at=at(3 + 1 / 6))
        fake.add_comment(a, agent, public=False, at=at(4))  # internal: no reply
        fake.add_comment(a, agent, at=at(5))
        fake.set_status(a, "open", at=at(1))
        fake.set_status(a, "pending", at=at(5))
        fake.set_status(a, "open", at=at(11))
        fake.set_status(a, "solved", at=at(30))
        # B: answered in 30 min, then the customer asks again and waits to now:
        # the next reply, the update and the resolution are all breached.
        b = fake.add_ticket(
            ticket_id=2,
            created_at=T0,
            organization_id=GLOBEX,
            requester_id=customer,
            tags=["sla_pending"],
            custom_fields={SEV: "sev_2"},
        )
        fake.add_comment(b, agent, at=at(0.5))
        fake.add_comment(b, customer, at=at(1))
        fake.set_status(b, "open", at=at(0.5))
        # C: answered in 10 min, customer replied 20 min ago: everything open.
        c = fake.add_ticket(
            ticket_id=3,
            created_at=real - timedelta(hours=1),
            organization_id=GLOBEX,
            requester_id=customer,
            tags=["sla_pending"],
            custom_fields={SEV: "sev_2"},
        )
        fake.add_comment(c, agent, at=real - timedelta(minutes=50))
        fake.add_comment(c, customer, at=real - timedelta(minutes=20))
        # D: SEV 3 has only a first response: its history is never read.
        d = fake.add_ticket(
            ticket_id=4,
            created_at=T0,
            organization_id=ACME,
            tags=["sla_pending"],
            custom_fields={SEV: "sev_3"},
        )
        fake.add_comment(d, agent, at=at(2))
        now[0] += timedelta(minutes=5)  # the export leaves out the last minute
        yield fake


def run(zendesk: FakeZendesk, tmp_path: Path, fmt: str, policy: str | None) -> str:
    env = {**zendesk.env(), "SIDECAR_SEVERITY_FIELD_ID": str(SEV)}
    if policy is not None:
        path = tmp_path / "policy.toml"
        path.write_text(policy)
        env["SIDECAR_POLICY_FILE"] = str(path)
    result = CliRunner().invoke(
        main,
        ["report", "--since", "2026-11-01", "--format", fmt, "--pace", "0"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def counts(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row[s] for s in ("met", "breached", "open", "unknown"))


def test_every_metric_is_counted_per_cycle(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    zendesk.reset_calls()
    report = json.loads(run(zendesk, tmp_path, "json", POLICY))
    metrics = {m["name"]: m for m in report["metrics"]}
    assert list(metrics) == [
        "first_response",
        "next_reply",
        "periodic_update",
        "resolution",
    ]
    # The first response's counts are the report's own (4 tickets, all met).
    assert counts(metrics["first_response"]["overall"]) == (4, 0, 0, 0)
    # Next reply: A met + breached, B breached (running past due), C open.
    assert counts(metrics["next_reply"]["overall"]) == (1, 2, 1, 0)
    # Periodic update: A met, met, breached; B breached; C open.
    assert counts(metrics["periodic_update"]["overall"]) == (2, 2, 1, 0)
    # Resolution: A met only thanks to the pending pause; B breached; C open.
    assert counts(metrics["resolution"]["overall"]) == (1, 1, 1, 0)
    by_org = {r["key"]: r for r in metrics["next_reply"]["by_organization"]}
    assert counts(by_org[str(ACME)]) == (1, 1, 0, 0)
    assert counts(by_org[str(GLOBEX)]) == (0, 1, 1, 0)
    by_sev = {r["key"]: r for r in metrics["resolution"]["by_severity"]}
    assert list(by_sev) == ["2"] and by_sev["2"]["total"] == 3
    # The cost: one comment list and one status history per SEV 2 ticket (the
    # resolution pauses); none for the SEV 3 ticket.
    assert report["history"] == {
        "tickets_read": 3,
        "comment_reads": 3,
        "audit_reads": 3,
        "unreadable": 0,
    }
    assert {c.path.split("/")[4] for c in zendesk.calls(path_contains="/comments")} == {
        "1",
        "2",
        "3",
    }
    assert len(zendesk.calls(path_contains="/audits")) == 3


def test_a_history_that_cannot_be_read_is_unknown(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    zendesk.fail_next(1, 404, path_contains="/tickets/2/comments")
    report = json.loads(run(zendesk, tmp_path, "json", POLICY))
    metrics = {m["name"]: m for m in report["metrics"]}
    by_org = {r["key"]: r for r in metrics["next_reply"]["by_organization"]}
    assert counts(by_org[str(GLOBEX)]) == (0, 0, 1, 1)  # B unknown, C open
    assert counts(metrics["resolution"]["overall"]) == (1, 0, 1, 1)
    assert report["history"]["unreadable"] == 1


def test_csv_and_html_show_every_metric(zendesk: FakeZendesk, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run(zendesk, tmp_path, "csv", POLICY))))
    metric_rows = {(r["metric"], r["table"], r["key"]): r for r in rows if r["metric"]}
    assert metric_rows[("next_reply", "metric", "all")]["breached"] == "2"
    assert (
        metric_rows[("periodic_update", "metric_organization", str(ACME))]["met"] == "2"
    )
    html = run(zendesk, tmp_path, "html", POLICY)
    assert "<h2>Every metric</h2>" in html and 'aria-label="cycles by metric"' in html
    assert "next reply · SEV 2" in html and "resolution · Acme" in html


def test_the_first_response_report_is_unchanged(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """The built-in policy: no history read, no new key, column or section."""
    zendesk.reset_calls()
    report = json.loads(run(zendesk, tmp_path, "json", None))
    assert "metrics" not in report and "history" not in report
    assert not zendesk.calls(path_contains="/comments")
    assert not zendesk.calls(path_contains="/audits")
    header = run(zendesk, tmp_path, "csv", None).splitlines()[0]
    assert header == ",".join(CSV_COLUMNS)
    html = run(zendesk, tmp_path, "html", None)
    assert "<h1>First-response SLA attainment</h1>" in html
    assert "Every metric" not in html
