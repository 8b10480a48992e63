"""`sidecar policy whatif` compares every metric, against the strict double.

Two SEV 2 tickets of an entitled organization, worked out by hand (24/7
schedules): one whose customer asked again two hours ago (next reply), one
that spent a day pending (resolution). The current policy gives the next
reply 4 h and pauses the resolution while pending; the new one gives the
next reply 1 h and pauses nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.sla import format_utc
from tests.fake_zendesk import FakeZendesk
from tests.support import sidecar_env

SEVERITY = 360001
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACME = 7
CURRENT = """
default_policy = "current"
[policies.current.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "4h", schedule = "24/7" }
resolution = { target = "24h", schedule = "24/7", pause = ["pending"] }
"""
NEW = """
default_policy = "new"
[policies.new.sev2]
first_response = { target = "2h", schedule = "24/7" }
next_reply = { target = "1h", schedule = "24/7" }
resolution = { target = "24h", schedule = "24/7" }
"""
ENTITLED = '[orgs."7"]\nplan = "enterprise"\nenterprise_support = true\n'


def at(hours: float) -> datetime:
    return AT + timedelta(hours=hours)


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk(clock=lambda: AT) as fake:
        agent = fake.add_user(role="agent")
        customer = fake.add_user(role="end-user")
        fake.add_org(ACME, name="Acme")
        # 1: answered at -9 h; the customer asked again at -2 h.
        one = fake.add_ticket(
            ticket_id=1,
            created_at=at(-10),
            organization_id=ACME,
            requester_id=customer,
            custom_fields={SEVERITY: "sev_2"},
        )
        fake.add_comment(one, agent, at=at(-9))
        fake.add_comment(one, customer, at=at(-2))
        fake.set_status(one, "open", at=at(-9))
        # 2: answered at -29 h, pending from -28 h to -4 h.
        two = fake.add_ticket(
            ticket_id=2,
            created_at=at(-30),
            organization_id=ACME,
            requester_id=customer,
            custom_fields={SEVERITY: "sev_2"},
        )
        fake.add_comment(two, agent, at=at(-29))
        fake.set_status(two, "pending", at=at(-28))
        fake.set_status(two, "open", at=at(-4))
        yield fake


def whatif(zendesk: FakeZendesk, tmp_path: Path, *args: str) -> Result:
    current, new, entitled = (
        tmp_path / n for n in ("current.toml", "new.toml", "e.toml")
    )
    current.write_text(CURRENT)
    new.write_text(NEW)
    entitled.write_text(ENTITLED)
    env = sidecar_env(
        tmp_path,
        **zendesk.env(),
        SIDECAR_SEVERITY_FIELD_ID=str(SEVERITY),
        SIDECAR_DUE_AT_FIELD_ID="360002",
        SIDECAR_POLICY_FILE=str(current),
        SIDECAR_ENTITLEMENTS_FILE=str(entitled),
    )
    zendesk.reset_calls()
    return CliRunner().invoke(
        main, ["policy", "whatif", str(new), *args, "--at", format_utc(AT)], env=env
    )


def test_every_metric_is_compared(zendesk: FakeZendesk, tmp_path: Path) -> None:
    result = whatif(zendesk, tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_metric = {m["metric"]: m for m in report["by_metric"]}
    assert list(by_metric) == ["next_reply", "resolution"]
    assert (
        by_metric["next_reply"]["moved"],
        by_metric["next_reply"]["becomes_breached"],
    ) == (1, 1)
    assert (
        by_metric["resolution"]["moved"],
        by_metric["resolution"]["becomes_breached"],
    ) == (1, 1)
    tickets = {
        t["ticket_id"]: {m["metric"]: m for m in t["metrics"]}
        for t in report["tickets"]
    }
    one, two = tickets[1], tickets[2]
    assert (one["next_reply"]["current_due_at"], one["next_reply"]["new_due_at"]) == (
        format_utc(at(2)),
        format_utc(at(1 - 2)),
    )
    assert (one["next_reply"]["current_status"], one["next_reply"]["new_status"]) == (
        "pending",
        "breached",
    )
    # 2 h running, 24 h paused, then 22 h more: due at +18 h; without the pause at -6 h.
    assert two["resolution"]["current_due_at"] == format_utc(at(18))
    assert two["resolution"]["new_due_at"] == format_utc(at(-6))
    assert two["resolution"]["shift_minutes"] == -24 * 60
    assert two["next_reply"]["current_status"] == "inactive"  # no customer turn
    # The cost: one comment list and one status history per ticket.
    assert report["reads"]["comment_reads"] == 2 and report["reads"]["audit_reads"] == 2
    assert len(zendesk.calls(path_contains="/audits")) == 2


def test_an_enhanced_next_reply_in_the_new_entitlements(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """`sev2 = { next_reply = "3h" }` for Acme on the new side: due at +1 h, not breached."""
    grant = tmp_path / "new-entitlements.toml"
    grant.write_text(ENTITLED + 'sla = { sev2 = { next_reply = "3h" } }\n')
    result = whatif(zendesk, tmp_path, "--entitlements", str(grant), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = {r["ticket_id"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["1"]["next_reply_new_due_at"] == format_utc(at(1))
    assert rows["1"]["next_reply_new_status"] == "pending"
    assert rows["2"]["resolution_new_status"] == "breached"


def test_the_table_lists_the_metric_changes(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    result = whatif(zendesk, tmp_path)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "2 status histories" in text
    assert "METRIC" in text and "STOP BEING BREACHED" in text
    assert "first response: move: 0" in text  # the summary lines say what they count
    lines = [line.split() for line in text.splitlines()]
    assert [
        "1",
        "next_reply",
        format_utc(at(2)),
        "pending",
        format_utc(at(-1)),
        "breached",
        "-3h",
    ] in lines
    assert [
        "2",
        "resolution",
        format_utc(at(18)),
        "pending",
        format_utc(at(-6)),
        "breached",
        "-24h",
    ] in lines
