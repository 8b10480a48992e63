"""`sidecar policy whatif` against FakeZendesk over HTTP, checked by a brute-force recount.

The account holds a few hundred tickets in every state a reconcile leaves
(pending, at risk, breached, met, never reconciled, answered since), built
from a seeded random generator. The test recomputes each ticket's due time
and status under both policies on its own, with the SLA engine's
``evaluate`` and the README's rules (first response = first public agent
comment after the description, not ours; an answered ticket keeps the verdict
it recorded), and the command's counts must equal that recount.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.sla import DEFAULT_POLICY, Policy, evaluate, format_utc, load_policy
from tests.fake_zendesk import FakeZendesk
from tests.fake_zendesk_admin import ADMIN_WRITES
from tests.support import sidecar_env

SEVERITY, DUE_AT, FIRST_RESPONSE_AT = 360001, 360002, 360003
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday, inside core hours
STATUS_OF_TAG = {
    "sla_pending": "pending",
    "sla_at_risk": "at_risk",
    "sla_breached": "breached",
    "sla_met": "met",
}
TAG_OF_STATUS = {status: tag for tag, status in STATUS_OF_TAG.items()}
OPEN = ("new", "open", "pending", "hold")

# The default policy with SEV 3 shortened from 6 h to 4 h (same core hours).
SHORTER_SEV3 = """
[schedules.core]
timezone = "UTC"
mon = ["05:00-01:00"]
tue = ["05:00-01:00"]
wed = ["05:00-01:00"]
thu = ["05:00-01:00"]
fri = ["05:00-01:00"]

[policies.faster]
sev1 = { target = "1h", schedule = "24/7" }
sev2 = { target = "2h", schedule = "24/7" }
sev3 = { target = "4h", schedule = "core" }
sev4 = { target = "1d", schedule = "core" }
sev5 = { target = "1d", schedule = "core" }
"""


@dataclass
class Spec:
    """What the test knows about one ticket it created."""

    id: int
    org: int | None
    severity: int | None
    status: str
    created: datetime
    requester: int
    # (author id, public, at), the description first
    comments: list[tuple[int, bool, datetime]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    due_recorded: datetime | None = None


@dataclass
class Account:
    zendesk: FakeZendesk
    specs: list[Spec]
    entitled: set[int]
    plain_org: int
    agents: set[int]


def first_response(spec: Spec, account: Account) -> datetime | None:
    """README: the first public comment by an agent after the description, not ours."""
    for author, public, at in sorted(spec.comments, key=lambda c: c[2])[1:]:
        if (
            public
            and author in account.agents
            and author != spec.requester
            and author != account.zendesk.api_user_id
        ):
            return at
    return None


def build_account(zendesk: FakeZendesk, *, tickets: int, seed: int = 11) -> Account:
    rng = random.Random(seed)
    zendesk.add_ticket_field(
        SEVERITY,
        title="Issue Severity",
        type="tagger",
        options=[(f"SEV {n}", f"sev_{n}") for n in range(1, 6)],
    )
    zendesk.add_ticket_field(DUE_AT, title="SLA first response due")
    zendesk.add_ticket_field(FIRST_RESPONSE_AT, title="SLA first response at")
    acme = zendesk.add_org(
        name="Acme", fields={"support_plan": "enterprise", "enterprise_support": True}
    )
    globex = zendesk.add_org(
        name="Globex", fields={"support_plan": "ultra", "enterprise_support": True}
    )
    plain = zendesk.add_org(name="Initech", fields={"support_plan": "team"})
    agents = {zendesk.add_user(role="agent"), zendesk.add_user(role="admin")}
    account = Account(zendesk, [], {acme, globex}, plain, agents)
    for _ in range(tickets):
        requester = zendesk.add_user()
        created = AT - timedelta(minutes=rng.randint(10, 36 * 60))
        severity = rng.choice([1, 2, 3, 3, 3, 4, 5, None])
        org = rng.choice([acme, acme, globex, plain, None])
        status = rng.choice([*OPEN, "open", "solved"])
        comments = [(requester, True, created)]
        for _ in range(rng.choice([0, 1, 1, 2])):
            author = rng.choice(
                [*sorted(agents), *sorted(agents), requester, zendesk.api_user_id]
            )
            at = created + timedelta(minutes=rng.randint(5, 12 * 60))
            if at < AT:
                comments.append((author, rng.random() < 0.85, at))
        spec = Spec(0, org, severity, status, created, requester, comments)
        record(spec, account, rng)
        custom: dict[int, object] = {}
        if severity is not None:
            custom[SEVERITY] = f"sev_{severity}"
        if spec.due_recorded is not None:
            custom[DUE_AT] = format_utc(spec.due_recorded)
        answered = first_response(spec, account)
        if spec.tags & {"sla_breached"} and answered and rng.random() < 0.5:
            # The outcome field of a settled breach (issue 13), when written.
            custom[FIRST_RESPONSE_AT] = format_utc(answered)
        spec.id = zendesk.add_ticket(
            status=status,
            created_at=created,
            organization_id=org,
            requester_id=requester,
            tags=spec.tags,
            custom_fields=custom,
        )
        for author, public, at in comments[1:]:
            zendesk.add_comment(spec.id, author, public=public, at=at)
        account.specs.append(spec)
    return account


def record(spec: Spec, account: Account, rng: random.Random) -> None:
    """What the sidecar wrote when it last reconciled the ticket, if it ever did."""
    if spec.severity is None or spec.org not in account.entitled:
        return
    if rng.random() < 0.25:
        return  # never reconciled (opened before the sidecar ran)
    seen_at = spec.created + (AT - spec.created) * rng.random()
    earlier = Spec(
        **{**spec.__dict__, "comments": [c for c in spec.comments if c[2] <= seen_at]}
    )
    state = evaluate(
        created_at=spec.created,
        severity=spec.severity,
        first_response_at=first_response(earlier, account),
        now=seen_at,
        policy=DEFAULT_POLICY,
    )
    assert state is not None
    spec.tags = {TAG_OF_STATUS[state.status]}
    spec.due_recorded = state.due_at


def brute_force(
    account: Account, policy: Policy, spec: Spec, *, entitled: set[int]
) -> tuple[datetime, str] | None:
    """The due time and status a reconcile at AT under ``policy`` leaves on the ticket."""
    if spec.severity is None or spec.org not in entitled:
        return None
    answered = first_response(spec, account)
    settled = spec.tags & {"sla_met", "sla_breached"}
    if answered is not None and len(settled) == 1 and spec.due_recorded is not None:
        return spec.due_recorded, STATUS_OF_TAG[settled.pop()]  # the verdict stands
    state = evaluate(
        created_at=spec.created,
        severity=spec.severity,
        first_response_at=answered,
        now=AT,
        policy=policy,
    )
    return None if state is None else (state.due_at, state.status)


def recount(
    account: Account,
    new_policy: Policy,
    *,
    statuses: tuple[str, ...] = OPEN,
    new_entitled: set[int] | None = None,
) -> dict[int, tuple[object, object]]:
    """Ticket id -> (current, new) for every ticket with an SLA under either side."""
    found = {}
    for spec in account.specs:
        if spec.status not in statuses:
            continue
        now = brute_force(account, DEFAULT_POLICY, spec, entitled=account.entitled)
        new = brute_force(
            account,
            new_policy,
            spec,
            entitled=account.entitled if new_entitled is None else new_entitled,
        )
        if now is not None or new is not None:
            found[spec.id] = (now, new)
    return found


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    with FakeZendesk() as zendesk:
        yield build_account(zendesk, tickets=260)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "faster.toml"
    path.write_text(SHORTER_SEV3)
    return path


def whatif(account: Account, tmp_path: Path, *args: str) -> Result:
    env = sidecar_env(
        tmp_path,
        **account.zendesk.env(),
        SIDECAR_SEVERITY_FIELD_ID=str(SEVERITY),
        SIDECAR_DUE_AT_FIELD_ID=str(DUE_AT),
        SIDECAR_FIRST_RESPONSE_AT_FIELD_ID=str(FIRST_RESPONSE_AT),
    )
    account.zendesk.reset_calls()
    return CliRunner().invoke(
        main, ["policy", "whatif", *args, "--at", format_utc(AT)], env=env
    )


def side(row: dict[str, object], which: str) -> tuple[datetime, str] | None:
    due = row[f"{which}_due_at"]
    if not due:
        assert row[f"{which}_status"] == "none"
        return None
    return datetime.fromisoformat(str(due)), str(row[f"{which}_status"])


def writes(zendesk: FakeZendesk) -> list[str]:
    return [f"{c.method} {c.path}" for c in zendesk.calls() if c.method in ADMIN_WRITES]


# --- the tests ----------------------------------------------------------------------


def test_shorter_sev3_counts_match_a_brute_force_recount(
    account: Account, policy_file: Path, tmp_path: Path
) -> None:
    """SEV 3 at 4 h: each ticket's due/status and every count equal the recount; nothing is written."""
    result = whatif(account, tmp_path, str(policy_file), "--format", "json")
    assert result.exit_code == 0, result.output
    assert writes(account.zendesk) == []
    report = json.loads(result.stdout)
    expected = recount(account, load_policy(policy_file))
    rows = {row["ticket_id"]: row for row in report["tickets"]}
    assert sorted(rows) == sorted(expected)
    for ticket_id, (now, new) in expected.items():
        row = rows[ticket_id]
        assert (side(row, "current"), side(row, "new")) == (now, new), row

    moved = {t for t, (now, new) in expected.items() if _due(now) != _due(new)}
    breached = {
        t
        for t, (now, new) in expected.items()
        if _status(new) == "breached" and _status(now) != "breached"
    }
    assert report["summary"]["tickets"] == len(expected)
    assert report["summary"]["moved"] == len(moved) > 0
    assert report["summary"]["becomes_breached"] == len(breached) > 0
    assert report["summary"]["earlier"] == len(moved)  # only SEV 3 moves, earlier
    specs = {spec.id: spec for spec in account.specs}
    assert {specs[t].severity for t in moved} == {3}
    by_org = Counter(specs[t].org for t in moved)
    assert {
        o["organization_id"]: o["moved"]
        for o in report["by_organization"]
        if o["moved"]
    } == dict(by_org)
    by_org_breached = Counter(specs[t].org for t in breached)
    assert {
        o["organization_id"]: o["becomes_breached"]
        for o in report["by_organization"]
        if o["becomes_breached"]
    } == dict(by_org_breached)
    by_severity = {s["severity"]: s for s in report["by_severity"]}
    assert by_severity[3]["moved"] == len(moved)
    assert all(s["moved"] == 0 for n, s in by_severity.items() if n != 3)


def test_reads_are_one_pass_and_comments_only_where_the_reply_decides(
    account: Account, policy_file: Path, tmp_path: Path
) -> None:
    """One List Tickets pass, one read per organization, no comment read for a ticket settled on record."""
    result = whatif(account, tmp_path, str(policy_file), "--format", "json")
    assert result.exit_code == 0, result.output
    zendesk = account.zendesk
    pages = zendesk.calls("GET", "/api/v2/tickets.json")
    assert len(pages) == -(-len(account.specs) // 100)  # 100 a page
    org_reads = [c.path for c in zendesk.calls("GET", "/api/v2/organizations/")]
    assert len(org_reads) == len(set(org_reads)) == 3
    commented = {int(c.path.split("/")[4]) for c in zendesk.calls("GET", "/comments")}
    settled_on_record = {
        spec.id
        for spec in account.specs
        if spec.tags & {"sla_met"}
        or (
            spec.tags & {"sla_breached"}
            and zendesk.ticket(spec.id).custom_fields.get(FIRST_RESPONSE_AT)
        )
    }
    in_scope = {
        spec.id
        for spec in account.specs
        if spec.status in OPEN
        and spec.severity is not None
        and spec.org in account.entitled
    }
    assert commented == in_scope - settled_on_record
    assert settled_on_record & in_scope, "the account has settled open tickets"
    reads = json.loads(result.stdout)["reads"]
    assert reads["comment_reads"] == len(commented)
    assert reads["settled_without_comment_read"] == len(settled_on_record & in_scope)
    assert reads["calls"] == len(zendesk.calls())
    assert writes(zendesk) == []


def test_csv_and_table_carry_the_same_comparison(
    account: Account, policy_file: Path, tmp_path: Path
) -> None:
    """--format csv has one row per ticket with an SLA; the table leads with the counts."""
    expected = recount(account, load_policy(policy_file))
    as_csv = whatif(account, tmp_path, str(policy_file), "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert sorted(int(r["ticket_id"]) for r in rows) == sorted(expected)
    moved = [r for r in rows if r["moved"] == "True"]
    assert all(int(r["shift_minutes"]) < 0 and r["severity"] == "3" for r in moved)
    table = whatif(account, tmp_path, str(policy_file))
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert (
        f"tickets with an SLA (status new, open, pending, hold): {len(expected)}"
        in lines
    )
    assert any(
        line.startswith(f"move: {len(moved)} (earlier {len(moved)}") for line in lines
    )
    assert "nothing written" in lines[1]
    assert writes(account.zendesk) == []


def test_status_filter_and_a_new_entitlements_file(
    account: Account, policy_file: Path, tmp_path: Path
) -> None:
    """--status pending compares pending tickets only; --entitlements grants Initech an SLA under the new side."""
    pending = whatif(
        account, tmp_path, str(policy_file), "--status", "pending", "--format", "json"
    )
    assert pending.exit_code == 0, pending.output
    rows = json.loads(pending.stdout)["tickets"]
    assert rows and {r["ticket_status"] for r in rows} == {"pending"}
    expected = recount(account, load_policy(policy_file), statuses=("pending",))
    assert sorted(r["ticket_id"] for r in rows) == sorted(expected)

    grant = tmp_path / "entitlements.toml"
    grant.write_text(
        f'[orgs."{account.plain_org}"]\nplan = "enterprise"\nenterprise_support = true\n'
    )
    granted = whatif(
        account,
        tmp_path,
        str(policy_file),
        "--entitlements",
        str(grant),
        "--format",
        "json",
    )
    assert granted.exit_code == 0, granted.output
    report = json.loads(granted.stdout)
    expected = recount(
        account,
        load_policy(policy_file),
        new_entitled=account.entitled | {account.plain_org},
    )
    rows = {r["ticket_id"]: r for r in report["tickets"]}
    assert sorted(rows) == sorted(expected)
    for ticket_id, (now, new) in expected.items():
        assert (side(rows[ticket_id], "current"), side(rows[ticket_id], "new")) == (
            now,
            new,
        )
    gained = [t for t, (now, new) in expected.items() if now is None]
    assert gained and report["summary"]["gain_sla"] == len(gained)
    assert writes(account.zendesk) == []


def test_bad_input_is_one_line_and_exit_2(account: Account, tmp_path: Path) -> None:
    """A missing or invalid policy file, or a bad --at, is a clear error before any call."""
    missing = whatif(account, tmp_path, str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[policies.x]\nsev1 = { target = "soon", schedule = "24/7" }\n')
    invalid = whatif(account, tmp_path, str(bad))
    assert invalid.exit_code == 2 and "sev1" in invalid.output
    assert "Traceback" not in invalid.output
    assert account.zendesk.calls() == []


def _due(value: object) -> object:
    return value[0] if isinstance(value, tuple) else None


def _status(value: object) -> str:
    return str(value[1]) if isinstance(value, tuple) else "none"
