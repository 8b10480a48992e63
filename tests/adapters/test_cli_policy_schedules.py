"""`sidecar policy show/check/refresh` with a policy on the account's Zendesk schedules (strict double)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.schedules import AccountSchedules
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours
from tests.e2e.conftest import connected_env, define_fields
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import SUBDOMAIN, FakeZendesk

POLICY = """
[schedules.core]
timezone = "UTC"
mon = ["05:00-01:00"]

[policies.enterprise]
sev1 = { target = "1h", schedule = "24/7" }
sev3 = { target = "6h", schedule = { zendesk = "Support hours" } }
sev4 = { target = "1d", schedule = "core" }
"""


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        define_fields(fake)
        fake.support_id = fake.add_schedule(  # type: ignore[attr-defined]
            "Support hours",
            time_zone="Pacific Time (US & Canada)",
            intervals=[(d * 1440 + 540, d * 1440 + 1020) for d in range(1, 6)],
            holidays=[("Winter break", "2026-12-24", "2027-01-01")],
        )
        fake.emea_id = fake.add_schedule("EMEA", time_zone="London")  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def env(tmp_path: Path, zd: FakeZendesk) -> Iterator[dict[str, str]]:
    with FakePagerDuty() as pd:
        found = connected_env(tmp_path, zd, pd)
        Path(found["SIDECAR_POLICY_FILE"]).write_text(POLICY)
        yield found


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_show_prints_the_windows_and_where_each_schedule_came_from(zd, env):
    """Zendesk's schedule: its windows in IANA terms, name, id, zone, holidays, when fetched."""
    result = run(env, "policy", "show")
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "zendesk:Support hours: mon-fri 09:00-17:00 (America/Los_Angeles), 9 holidays"
        in out
    )
    assert (
        f"from: Zendesk schedule 'Support hours' (id {zd.support_id}, time zone "
        "'Pacific Time (US & Canada)'), fetched at " in out
    )
    assert "(read from Zendesk)" in out
    assert "holiday: 2026-12-24..2027-01-01 Winter break" in out
    assert "core: mon 05:00-01:00 (UTC)" in out and "from: file " in out


def test_show_uses_the_services_copy_when_there_is_one(zd, env):
    """With a copy in the queue store, the command shows what the worker computes with."""
    queue = JobQueue.from_url(env["SIDECAR_QUEUE_URL"])
    try:
        with ZendeskClient.from_config(zd.config()) as client:
            schedules = AccountSchedules(
                fetch=lambda: fetch_business_hours(client),
                store=lambda: queue,
                save=True,
                account=SUBDOMAIN,
            )
            schedules.keep(schedules.fetch())
    finally:
        queue.close()
    reads = len(zd.calls(path_contains="business_hours"))
    result = run(env, "policy", "show")
    assert result.exit_code == 0, result.output
    assert "(last good copy in the queue store)" in result.output
    assert len(zd.calls(path_contains="business_hours")) == reads


def test_check_names_the_account_schedules_when_a_name_is_unknown(zd, env, tmp_path):
    """An unknown name fails the check with every schedule the account has."""
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.replace("Support hours", "Support Hours"))
    result = run(env, "policy", "check", str(bad))
    assert result.exit_code == 2
    assert "policies.enterprise.sev3.schedule.zendesk" in result.output
    assert "did you mean 'Support hours'?" in result.output
    account = f"'Support hours' (id {zd.support_id}), 'EMEA' (id {zd.emea_id})"
    assert account in result.output


def test_check_reads_zendesk_and_lists_the_named_schedules(zd, env):
    """A good file: ok, and each Zendesk schedule it names with its windows."""
    result = run(env, "policy", "check", env["SIDECAR_POLICY_FILE"])
    assert result.exit_code == 0, result.output
    assert (
        "Zendesk schedules: 1 named, all found (read from Zendesk now" in result.output
    )
    assert (
        f"'Support hours' (id {zd.support_id}): mon-fri 09:00-17:00 "
        "(America/Los_Angeles)" in result.output
    )


def test_without_zendesk_or_a_copy_the_command_says_so(env):
    """Not connected and no queue copy: one line saying what is missing."""
    offline = {k: v for k, v in env.items() if not k.startswith("SIDECAR_ZENDESK_")}
    result = run(offline, "policy", "show")
    assert result.exit_code == 2
    assert "cannot be read from Zendesk (not connected to Zendesk)" in result.output
    assert "no earlier copy" in result.output


def test_refresh_reports_no_change_then_a_change(zd, env):
    """`policy refresh`: nothing to do, then the Admin Center edit, stored and applied."""
    JobQueue.from_url(env["SIDECAR_QUEUE_URL"]).close()  # the service made it
    first = run(env, "policy", "refresh")
    assert first.exit_code == 0, first.output
    assert "no change" in first.output
    sid = zd.support_id
    zd._holidays[sid][99] = {
        "id": 99,
        "name": "Founders day",
        "start_date": "2027-03-01",
        "end_date": "2027-03-01",
    }
    second = run(env, "policy", "refresh")
    assert second.exit_code == 0, second.output
    assert (
        f"changed: 'Support hours' (id {sid}): holiday added: 2027-03-01 Founders day"
        in second.output
    )
    assert "0 open tickets enqueued for a reconcile" in second.output


def test_holidays_names_zendesk_holidays(zd, env):
    """`policy holidays` lists each day of a Zendesk holiday under its name."""
    result = run(env, "policy", "holidays", "--year", "2026")
    assert result.exit_code == 0, result.output
    assert "schedule zendesk:Support hours" in result.output
    assert "2026-12-24 Thu  Winter break (Zendesk)" in result.output
    assert "2026-12-31 Thu  Winter break (Zendesk)" in result.output


def test_show_markdown_adds_a_schedules_table(zd, env):
    """--markdown: the targets' table, then one of the schedules with where each came from."""
    result = run(env, "policy", "show", "--markdown")
    assert result.exit_code == 0, result.output
    assert "| Schedule | Windows | From |" in result.output
    assert (
        "| zendesk:Support hours | mon-fri 09:00-17:00 (America/Los_Angeles), "
        "9 holidays; 2026-12-24..2027-01-01 Winter break | Zendesk schedule "
        in result.output
    )
