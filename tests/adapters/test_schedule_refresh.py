"""The application's copy of the Zendesk schedules: start, refresh, refusals (real queue, strict double)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sidecar.domain.plan import Fields
from sidecar.errors import ConfigError
from sidecar.tasks.queue import JobQueue
from sidecar.tasks.schedules import (
    CACHE_FLAG,
    AccountSchedules,
    PolicySource,
    refresh_schedules,
)
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours
from tests.fake_zendesk import FakeZendesk

SEVERITY, DUE_AT = 360001, 360002
FIELDS = Fields(severity=SEVERITY, due_at=DUE_AT, due_date_zone=ZoneInfo("UTC"))
POLICY = """
[policies.p]
sev1 = { target = "1h", schedule = "24/7" }
sev3 = { target = "6h", schedule = { zendesk = "Support hours" } }
"""
NINE_TO_FIVE = [(d * 1440 + 540, d * 1440 + 1020) for d in range(1, 6)]


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_schedule("Support hours", intervals=NINE_TO_FIVE)
        yield fake


@pytest.fixture
def client(zd: FakeZendesk) -> Iterator[ZendeskClient]:
    with ZendeskClient.from_config(zd.config()) as found:
        yield found


def _source(
    tmp_path: Path, client: ZendeskClient | None, queue: JobQueue, text: str = POLICY
) -> PolicySource:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    schedules = AccountSchedules(
        fetch=(lambda: fetch_business_hours(client)) if client else None,
        store=lambda: queue,
        save=True,
    )
    return PolicySource(policy_file=str(path), policy_name=None, schedules=schedules)


def _edit(zd: FakeZendesk, intervals: list[tuple[int, int]]) -> None:
    """What Update Intervals does (the adapter tests go through HTTP)."""
    sid = next(iter(zd._schedules))
    zd._schedules[sid]["intervals"] = [
        {"start_time": s, "end_time": e} for s, e in intervals
    ]


def test_the_first_read_is_stored_and_a_change_is_logged_stored_and_reconciled(
    tmp_path, zd, client, queue, caplog
):
    """A changed schedule: one log line naming it and the change, a new copy, the open tickets enqueued."""
    source = _source(tmp_path, client, queue)
    before = source.policy().targets[3].schedule
    assert (
        queue.get_flag(CACHE_FLAG) is not None
    )  # the copy a later start falls back on
    open_ = zd.add_ticket(status="open", custom_fields={SEVERITY: "sev_3"})
    zd.add_ticket(status="solved", custom_fields={SEVERITY: "sev_3"})
    zd.add_ticket(status="open")  # no severity, no marks: no SLA to move
    _edit(zd, [(s - 60, e) for s, e in NINE_TO_FIVE])
    with caplog.at_level(logging.INFO, logger="sidecar.schedules"):
        changes = refresh_schedules(
            source, zendesk=client, queue=queue, fields=FIELDS, interval_seconds=300
        )
    (change,) = changes
    assert change.startswith("'Support hours' (id ")
    assert change.endswith(": hours mon-fri 09:00-17:00 -> mon-fri 08:00-17:00")
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("Zendesk schedules changed: 'Support hours'") for m in logged
    )
    after = source.policy().targets[3].schedule
    assert after is not before and str(after.windows[0][0]) == "08:00-17:00"
    assert [j.subject_id for j in queue.pending_jobs() if j.task == "reconcile"] == [
        open_
    ]
    # The stored copy is the new one: a process starting now computes with it.
    stored = AccountSchedules(fetch=None, store=lambda: queue).book()
    assert stored.find("Support hours").intervals[0] == (1440 + 480, 1440 + 1020)


def test_refreshes_are_spaced_by_the_interval(tmp_path, zd, client, queue):
    """Within the interval a second sweep asks Zendesk nothing."""
    source = _source(tmp_path, client, queue)
    source.policy()
    refresh_schedules(source, zendesk=client, queue=queue, fields=FIELDS)
    reads = len(zd.calls(path_contains="business_hours"))
    _edit(zd, [(s - 60, e) for s, e in NINE_TO_FIVE])
    assert refresh_schedules(source, zendesk=client, queue=queue, fields=FIELDS) == []
    assert len(zd.calls(path_contains="business_hours")) == reads


def test_zendesk_down_keeps_the_last_good_copy(tmp_path, zd, client, queue, caplog):
    """A failed refresh says so and changes nothing."""
    source = _source(tmp_path, client, queue)
    policy = source.policy()
    zd.fail_next(5, 503, path_contains="business_hours")
    with caplog.at_level(logging.WARNING, logger="sidecar.schedules"):
        assert (
            refresh_schedules(source, zendesk=client, queue=queue, fields=FIELDS) == []
        )
    assert any("not refreshed" in r.getMessage() for r in caplog.records)
    assert source.policy() is policy


def test_a_renamed_schedule_is_refused_and_the_copy_kept(
    tmp_path, zd, client, queue, caplog
):
    """The policy names a schedule the refreshed account no longer has: error log, nothing changes."""
    source = _source(tmp_path, client, queue)
    policy = source.policy()
    stored = queue.get_flag(CACHE_FLAG)
    next(iter(zd._schedules.values()))["name"] = "Support (old)"
    with caplog.at_level(logging.ERROR, logger="sidecar.schedules"):
        assert (
            refresh_schedules(source, zendesk=client, queue=queue, fields=FIELDS) == []
        )
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "no longer builds" in record.getMessage()
    assert "'Support (old)' (id" in record.getMessage()  # the account's schedules
    assert source.policy() is policy and queue.get_flag(CACHE_FLAG) == stored


def test_a_start_without_zendesk_uses_the_stored_copy(
    tmp_path, zd, client, queue, caplog
):
    """Zendesk unreadable at start: the copy fetched earlier, with a warning naming when."""
    _source(tmp_path, client, queue).policy()  # an earlier start stored it
    zd.fail_next(5, 503, path_contains="business_hours")
    with caplog.at_level(logging.WARNING, logger="sidecar.schedules"):
        policy = _source(tmp_path, client, queue).policy()
    assert policy.targets[3].schedule.name == "zendesk:Support hours"
    assert any("using the copy fetched at" in r.getMessage() for r in caplog.records)


def test_a_start_without_zendesk_or_a_copy_refuses_clearly(tmp_path, zd, client, queue):
    """Neither Zendesk nor a copy: a ConfigError saying both, never a guess."""
    zd.fail_next(5, 503, path_contains="business_hours")
    with pytest.raises(ConfigError, match="no earlier copy"):
        _source(tmp_path, client, queue).policy()


def test_a_policy_without_zendesk_schedules_never_asks_for_them(
    tmp_path, zd, client, queue
):
    """Today's policies cost no Business Hours call, at start or at a refresh."""
    text = '[policies.p]\nsev1 = { target = "1h", schedule = "24/7" }\n'
    source = _source(tmp_path, client, queue, text)
    source.policy()
    assert refresh_schedules(source, zendesk=client, queue=queue, fields=FIELDS) == []
    assert zd.calls(path_contains="business_hours") == []


def test_the_version_flag_lets_another_process_adopt_a_refresh(
    tmp_path, zd, client, queue
):
    """A second process's source picks up the stored copy at its next use."""
    refresher = _source(tmp_path, client, queue)
    other = _source(tmp_path, None, queue)
    refresher.policy()
    first = other.policy()
    _edit(zd, [(s - 60, e) for s, e in NINE_TO_FIVE])
    assert refresher.refresh()
    second = other.policy()
    assert second is not first
    assert str(second.targets[3].schedule.windows[0][0]) == "08:00-17:00"
    assert datetime.now(UTC) - refresher.book().fetched_at < timedelta(minutes=1)


def test_an_unchanged_refresh_moves_the_copy_time(tmp_path, zd, client, queue):
    """Zendesk confirmed the same schedules: no change line, the stored copy's time moves on."""
    clock = iter(
        [
            datetime(2026, 12, 7, 10, tzinfo=UTC),
            datetime(2026, 12, 7, 10, 5, tzinfo=UTC),
        ]
    )
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    schedules = AccountSchedules(
        fetch=lambda: fetch_business_hours(client),
        store=lambda: queue,
        save=True,
        clock=lambda: next(clock),
    )
    source = PolicySource(policy_file=str(path), policy_name=None, schedules=schedules)
    source.policy()
    assert source.refresh() == []
    stored = AccountSchedules(fetch=None, store=lambda: queue).stored()
    assert stored is not None and stored.fetched_at.minute == 5
    schedule = source.policy().targets[3].schedule
    assert source.book().origin(schedule) is not None  # `policy show` still names it


def test_another_accounts_copy_is_never_used(zd, client, queue):
    """A queue reused for another subdomain: its copy is not this account's hours."""
    sandbox = AccountSchedules(
        fetch=lambda: fetch_business_hours(client),
        store=lambda: queue,
        save=True,
        account="acme-sandbox",
    )
    sandbox.keep(sandbox.fetch())
    zd.fail_next(5, 503, path_contains="business_hours")
    production = AccountSchedules(
        fetch=lambda: fetch_business_hours(client), store=lambda: queue, account="acme"
    )
    with pytest.raises(ConfigError, match="no earlier copy"):
        production.book()
