"""`sidecar report` end to end: 300 tickets reconciled into the Zendesk double, then reported.

Two months (September and October 2026), three organizations, every severity.
The outcome fields on the tickets are written by the real reconciler through
the real Zendesk client; a third of the tickets were settled "before the
outcome fields existed" (reconciled without them), so the report takes their
first reply from the export's metric sets; a few have no metric set at all.
The report runs as a user runs it (`sidecar report` in a subprocess) and its
numbers must equal a brute-force recount from the ground truth kept here.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from sidecar.domain.models import Organization, Ticket
from sidecar.domain.plan import Fields
from sidecar.entitlements import Entitlement
from sidecar.sla import DEFAULT_POLICY, first_response_due
from sidecar.tasks.reconcile import Reconciler
from sidecar.zendesk.client import ZendeskClient
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    DUE_DATE_FIELD,
    SEVERITY_FIELD,
    define_fields,
)
from tests.fake_zendesk import FakeZendesk

FR_AT_FIELD, FR_DATE_FIELD, LATE_FIELD = 360011, 360012, 360013
SETUP_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ORGS = {101: "Acme Corp", 102: "Globex", 103: "Initech"}
FULL = Fields(
    severity=SEVERITY_FIELD,
    due_at=DUE_AT_FIELD,
    due_date=DUE_DATE_FIELD,
    first_response_at=FR_AT_FIELD,
    first_response_date=FR_DATE_FIELD,
    breach_minutes=LATE_FIELD,
)
LEGACY = Fields(severity=SEVERITY_FIELD, due_at=DUE_AT_FIELD, due_date=DUE_DATE_FIELD)
ENTITLED = Entitlement(entitled=True, reason="enterprise", source="zendesk")

# One xdist worker runs the whole module, so the module fixture (300 tickets
# reconciled and exported) is built once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("report")]


@dataclass
class Truth:
    """What really happened to one ticket (the recount's input)."""

    ticket_id: int
    created: datetime
    severity: int
    org: int
    reply: datetime | None
    kind: str  # "modern", "legacy", "no_metrics", "stale"
    solved_at: datetime | None = None


class Entitlements:
    def for_ticket(self, ticket: Ticket) -> tuple[Organization | None, Entitlement]:
        org = Organization(ticket.organization_id or 0, "", None, {})
        return org, ENTITLED


class Scheduler:
    """The queue calls the reconciler makes; nothing needs to run later here."""

    def enqueue_reconcile(self, ticket_id: int, **kw: Any) -> None: ...
    def set_timer(self, ticket_id: int, **kw: Any) -> bool:
        return True

    def hold_escalation(self, ticket_id: int) -> bool:
        return True

    def enqueue_escalate(self, ticket_id: int, **page: object) -> None: ...
    def release_escalation(self, ticket_id: int) -> None: ...
    def claim(self, key: str, **kw: Any) -> bool:
        return True

    def release(self, key: str) -> None: ...


def _reconciler(
    zd: FakeZendesk, fields: Fields, clock: Callable[[], datetime]
) -> Reconciler:
    return Reconciler(
        zendesk=ZendeskClient.from_config(zd.config()),
        entitlements=Entitlements(),
        scheduler=Scheduler(),
        policy=DEFAULT_POLICY,
        fields=fields,
        clock=clock,
    )


@dataclass
class Account:
    zendesk: FakeZendesk
    truths: list[Truth]
    env: dict[str, str]


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """The double, filled and reconciled once for every test of this module."""
    fake_now = [SETUP_NOW]
    with FakeZendesk(
        clock=lambda: fake_now[0],
        export_page_size=200,
        # Reconciling 300 tickets is ~1,000 requests: the account limits are
        # not what this test is about (the export's 10 a minute stays).
        account_requests_per_window=100_000,
        ticket_updates_per_window=100_000,
    ) as zd:
        define_fields(zd)
        zd.add_ticket_field(FR_AT_FIELD, title="First response at", type="text")
        zd.add_ticket_field(FR_DATE_FIELD, title="First response date", type="date")
        zd.add_ticket_field(
            LATE_FIELD, title="First response late (min)", type="integer"
        )
        for org_id, name in ORGS.items():
            zd.add_org(org_id, name=name)
        agent = zd.add_user(role="agent", name="Agent")
        truths = _populate(zd, agent, fake_now)
        fake_now[0] = SETUP_NOW + timedelta(minutes=5)  # everything is now exportable
        workdir = tmp_path_factory.mktemp("report")
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(workdir),
            **zd.env(),
            "SIDECAR_SEVERITY_FIELD_ID": str(SEVERITY_FIELD),
            "SIDECAR_DUE_AT_FIELD_ID": str(DUE_AT_FIELD),
            "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID": str(FR_AT_FIELD),
            "SIDECAR_BREACH_MINUTES_FIELD_ID": str(LATE_FIELD),
        }
        yield Account(zd, truths, env)


def _populate(zd: FakeZendesk, agent: int, fake_now: list[datetime]) -> list[Truth]:
    rng = random.Random(13)
    truths: list[Truth] = []
    modern = _reconciler(zd, FULL, lambda: fake_now[0])
    legacy = _reconciler(zd, LEGACY, lambda: fake_now[0])
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for i in range(300):
        created = start + timedelta(minutes=rng.randrange(0, 61 * 24 * 60))
        severity = rng.randint(1, 5)
        org = list(ORGS)[i % 3]
        target = DEFAULT_POLICY.targets[severity].duration
        roll = rng.random()
        reply: datetime | None = created + timedelta(
            minutes=rng.randrange(0, int(target.total_seconds() // 60 * 2.5) + 30)
        )
        if roll < 0.08:
            reply = None
        kind = rng.choices(
            ("modern", "legacy", "no_metrics", "stale"), weights=(60, 28, 8, 4)
        )[0]
        if kind == "stale":
            reply = None
        tid = zd.add_ticket(
            created_at=created,
            organization_id=org,
            custom_fields={SEVERITY_FIELD: f"sev_{severity}"},
        )
        truth = Truth(tid, created, severity, org, reply, kind)
        truths.append(truth)
        due = first_response_due(created, severity, DEFAULT_POLICY)
        if kind == "stale":
            # The sidecar marked it and then never saw it again (down, say).
            zd.update_ticket(
                tid,
                tags=[f"sev_{severity}", "sla_pending"],  # the dropdown's tag stays
                custom_fields={DUE_AT_FIELD: "2026-12-31T00:00:00Z"},
            )
            zd.drop_metric_set(tid)
            continue
        reconciler = modern if kind == "modern" else legacy
        if reply is not None and reply > due and i % 2:
            # Breached before the reply came: the breach is written at the due time.
            fake_now[0] = due + timedelta(minutes=1)
            reconciler.reconcile(tid)
        fake_now[0] = SETUP_NOW
        if reply is not None:
            zd.add_comment(tid, agent, at=reply)
        if reply is None and i % 3 == 0:
            truth.solved_at = created + timedelta(days=3)
            zd.update_ticket(tid, status="solved")
            zd.set_metric_set(
                tid, solved_at=truth.solved_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
        reconciler.reconcile(tid)
        if kind == "no_metrics":
            zd.drop_metric_set(tid)
    # Outside the period, and in it without an SLA: never counted.
    zd.add_ticket(
        created_at=datetime(2026, 8, 31, 23, 59, tzinfo=UTC),
        organization_id=101,
        tags=["sla_met"],
        custom_fields={SEVERITY_FIELD: "sev_1"},
    )
    zd.add_ticket(
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        organization_id=101,
        tags=["sla_met"],
        custom_fields={SEVERITY_FIELD: "sev_1"},
    )
    zd.add_ticket(created_at=datetime(2026, 9, 9, tzinfo=UTC), organization_id=102)
    return truths


@dataclass
class Expected:
    status: str
    covered: int | None  # seconds, when the first reply is known
    calendar: int | None
    late_minutes: float | None  # replied breaches: exact


def recount(t: Truth) -> Expected:
    """The brute-force outcome of one ticket, from what really happened."""
    due = first_response_due(t.created, t.severity, DEFAULT_POLICY)
    schedule = DEFAULT_POLICY.targets[t.severity].schedule
    if t.kind == "stale":
        return Expected("unknown", None, None, None)
    if t.reply is None:
        return Expected("breached", None, None, None)  # all were due long ago
    status = "met" if t.reply <= due else "breached"
    late = None
    if status == "breached":
        late = -(-schedule.between(due, t.reply) // timedelta(minutes=1))
    if t.kind == "no_metrics":  # the verdict is on the ticket, the times are not
        return Expected(status, None, None, None)
    covered = int(schedule.between(t.created, t.reply).total_seconds())
    calendar = int((t.reply - t.created).total_seconds())
    return Expected(status, covered, calendar, late)


def nearest(values: list[int], percent: int) -> int | None:
    ordered = sorted(values)
    return ordered[-(-percent * len(ordered) // 100) - 1] if ordered else None


def run_report(account: Account, *args: str) -> tuple[str, str]:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sidecar.cli import main; main()",
            "report",
            "--pace",
            "0",
            *args,
        ],
        env=account.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


PERIOD = ("--since", "2026-09-01", "--until", "2026-10-31")


def group_counts(
    truths: list[Truth], key: Callable[[Truth], str]
) -> dict[str, Counter[str]]:
    groups: dict[str, Counter[str]] = {}
    for t in truths:
        groups.setdefault(key(t), Counter())[recount(t).status] += 1
    return groups


def assert_rows(rows: list[dict[str, Any]], expected: dict[str, Counter[str]]) -> None:
    assert {
        r["key"]: {s: r[s] for s in ("met", "breached", "open", "unknown")}
        for r in rows
    } == {
        k: {s: c[s] for s in ("met", "breached", "open", "unknown")}
        for k, c in expected.items()
    }
    for r in rows:
        total = r["total"]
        assert r["met_pct"] == round(100 * r["met"] / total, 1)
        decided = r["met"] + r["breached"]
        assert r["attainment_pct"] == (
            round(100 * r["met"] / decided, 1) if decided else None
        )


def test_the_json_report_equals_a_brute_force_recount(account: Account) -> None:
    before = datetime.now(UTC)
    out, err = run_report(account, *PERIOD, "--format", "json")
    after = datetime.now(UTC)
    report = json.loads(out)
    truths = account.truths
    assert report["tickets_counted"] == 300
    assert report["tickets_left_out"] == 1  # the September ticket without an SLA
    assert_rows([report["overall"]], group_counts(truths, lambda t: "all"))
    assert_rows(report["by_severity"], group_counts(truths, lambda t: str(t.severity)))
    assert_rows(report["by_organization"], group_counts(truths, lambda t: str(t.org)))
    assert_rows(
        report["by_month"], group_counts(truths, lambda t: t.created.strftime("%Y-%m"))
    )
    assert {r["label"] for r in report["by_organization"]} == set(ORGS.values())
    assert len(report["by_month"]) == 2 and report["overall"]["unknown"] > 0

    for times in report["response_times"]:
        sev = times["severity"]
        expected = [recount(t) for t in truths if t.severity == sev]
        covered = [e.covered for e in expected if e.covered is not None]
        calendar = [e.calendar for e in expected if e.calendar is not None]
        assert times["responded"] == len(covered)
        assert times["median_covered_seconds"] == nearest(covered, 50)
        assert times["p90_covered_seconds"] == nearest(covered, 90)
        assert times["median_calendar_seconds"] == nearest(calendar, 50)
        assert times["p90_calendar_seconds"] == nearest(calendar, 90)
        assert (
            times["target_minutes"]
            == DEFAULT_POLICY.targets[sev].duration.total_seconds() / 60
        )

    breaches = {b["ticket_id"]: b for b in report["breaches"]}
    by_id = {t.ticket_id: t for t in truths}
    assert set(breaches) == {
        t.ticket_id for t in truths if recount(t).status == "breached"
    }
    for tid, row in breaches.items():
        truth, expected = by_id[tid], recount(by_id[tid])
        assert row["url"] == f"https://acme.zendesk.com/agent/tickets/{tid}"
        if truth.reply is not None:
            assert row["late_covered_minutes"] == expected.late_minutes
        elif truth.solved_at is not None and truth.kind != "no_metrics":
            due = first_response_due(truth.created, truth.severity, DEFAULT_POLICY)
            schedule = DEFAULT_POLICY.targets[truth.severity].schedule
            # Solved before its due time without a reply: breached at the due
            # time (as the sidecar tags it), late by 0 covered minutes.
            late = max(schedule.between(due, truth.solved_at).total_seconds(), 0) / 60
            assert row["late_covered_minutes"] == round(late, 1)
        elif truth.kind != "no_metrics":  # unanswered: late until the report's now
            due = first_response_due(truth.created, truth.severity, DEFAULT_POLICY)
            schedule = DEFAULT_POLICY.targets[truth.severity].schedule
            low = schedule.between(due, before).total_seconds() / 60
            high = schedule.between(due, after).total_seconds() / 60
            assert round(low, 1) <= row["late_covered_minutes"] <= round(high, 1)
    assert "tickets under an SLA" in err


def test_the_outcome_fields_are_on_the_tickets(account: Account) -> None:
    """Modern tickets carry when the first reply came and, for a breach, how late."""
    checked = 0
    for t in account.truths:
        if t.kind != "modern" or t.reply is None:
            continue
        values = account.zendesk.ticket(t.ticket_id).custom_fields
        assert values[FR_AT_FIELD] == t.reply.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert values[FR_DATE_FIELD] == t.reply.date().isoformat()
        expected = recount(t)
        if expected.status == "breached":
            assert values[LATE_FIELD] == str(expected.late_minutes)
        else:
            assert not values.get(LATE_FIELD)
        checked += 1
    assert checked > 100


def test_one_organization_by_name(account: Account) -> None:
    out, _ = run_report(account, *PERIOD, "--org", "Globex", "--format", "json")
    report = json.loads(out)
    globex = [t for t in account.truths if t.org == 102]
    assert report["organization_filter"] == 102
    assert_rows([report["overall"]], group_counts(globex, lambda t: "all"))
    assert [r["key"] for r in report["by_organization"]] == ["102"]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.svgs = 0
        self.links: list[str] = []
        self.loads: list[tuple[str, str]] = []
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.svgs += tag == "svg"
        for name, value in attrs:
            if tag == "a" and name == "href":
                self.links.append(value or "")
            elif name in ("src", "href", "xlink:href", "srcset", "data", "action"):
                self.loads.append((tag, value or ""))


def test_the_html_is_self_contained_with_one_svg_per_chart(
    account: Account, tmp_path: Path
) -> None:
    out = tmp_path / "attainment.html"
    run_report(account, *PERIOD, "--out", str(out))
    html = out.read_text()
    page = _Page()
    page.feed(html)
    page.close()
    assert page.svgs == 3  # by month, vs target, worst organizations
    assert page.tags["script"] == page.tags["link"] == page.tags["img"] == 0
    assert "@import" not in html and "@font-face" not in html
    # Nothing is loaded from anywhere: the only references inside charts are
    # to their own elements (#id), and the only URLs are the ticket links.
    assert all(value.startswith("#") for _, value in page.loads), page.loads
    assert all(
        re.fullmatch(r"https://acme\.zendesk\.com/agent/tickets/\d+", link)
        for link in page.links
    )
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls <= set(page.links)
    assert len(page.links) == sum(
        1 for t in account.truths if recount(t).status == "breached"
    )
    assert "url(" not in re.sub(r"url\(#[^)]*\)", "", html)


def test_csv_has_the_same_numbers_as_json(account: Account) -> None:
    out, _ = run_report(account, *PERIOD, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    overall = next(r for r in rows if r["table"] == "overall")
    expected = group_counts(account.truths, lambda t: "all")["all"]
    assert {s: int(overall[s]) for s in ("met", "breached", "unknown")} == {
        s: expected[s] for s in ("met", "breached", "unknown")
    }
    assert {r["table"] for r in rows} == {
        "overall",
        "severity",
        "organization",
        "month",
        "breach",
    }
    assert sum(1 for r in rows if r["table"] == "breach") == expected["breached"]
