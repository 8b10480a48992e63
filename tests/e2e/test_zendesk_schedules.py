"""End to end: a policy on the account's Zendesk schedule; an Admin Center edit moves the due times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from sidecar.cli import main as cli
from sidecar.sla import Schedule, format_utc
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    SEVERITY_FIELD,
    connected_env,
    define_fields,
)
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import API_EMAIL, API_TOKEN, FakeZendesk
from tests.inprocess import InProcess, start_inprocess
from tests.support import post_webhook, wait_for

pytestmark = pytest.mark.e2e

NY = "America/New_York"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
POLICY = """
[policies.enterprise]
sev1 = { target = "1h", schedule = "24/7" }
sev3 = { target = "6h", schedule = { zendesk = "Support hours" } }
"""


def _nine_to_five() -> list[tuple[int, int]]:
    """Monday to Friday 09:00-17:00 in Zendesk's minutes since Sunday 00:00."""
    return [(day * 1440 + 540, day * 1440 + 1020) for day in range(1, 6)]


def _admin(zd: FakeZendesk, method: str, path: str, body: object) -> None:
    reply = requests.request(
        method,
        zd.url + path,
        json=body,
        auth=(f"{API_EMAIL}/token", API_TOKEN),
        timeout=5,
    )
    assert reply.status_code in (200, 201), reply.text


@pytest.fixture
def account(tmp_path: Path) -> Iterator[tuple[FakeZendesk, dict[str, str], int, int]]:
    with FakeZendesk() as zd, FakePagerDuty() as pd:
        define_fields(zd)
        org = zd.add_org(
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        sid = zd.add_schedule(
            "Support hours",
            time_zone="Eastern Time (US & Canada)",
            intervals=_nine_to_five(),
        )
        # Only the command refreshes here: the worker's own refresh (after its
        # minute sweep) could take the edit first (tests/adapters/test_schedule_refresh.py).
        env = connected_env(
            tmp_path, zd, pd, SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS="0"
        )
        Path(env["SIDECAR_POLICY_FILE"]).write_text(POLICY)
        yield zd, env, org, sid
        assert zd.errors == []


def _notify(serve: InProcess, env: dict[str, str], ticket_id: int, n: int) -> None:
    body = f'{{"ticket_id": "{ticket_id}", "event": "changed.{n}"}}'.encode()
    status, _ = post_webhook(
        serve.url, body, secret=env["SIDECAR_WEBHOOK_SECRET"], invocation_id=f"i{n}"
    )
    assert status == 202


def _due(zd: FakeZendesk, ticket_id: int) -> str | None:
    return zd.ticket(ticket_id).custom_fields.get(DUE_AT_FIELD)


def test_an_edited_zendesk_schedule_moves_the_due_time_after_the_refresh(account):
    """Hours and a holiday changed in Admin Center reach the ticket's due time after the refresh."""
    zd, env, org, sid = account
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    before = Schedule(
        "before", timezone=NY, windows={d: ["09:00-17:00"] for d in WEEKDAYS}
    )
    with start_inprocess(env) as serve:
        tid = zd.add_ticket(
            organization_id=org,
            created_at=created,
            custom_fields={SEVERITY_FIELD: "sev_3"},
        )
        _notify(serve, env, tid, 1)
        wait_for(lambda: _due(zd, tid) is not None, timeout=15)
        assert _due(zd, tid) == format_utc(before.add(created, timedelta(hours=6)))

        # The admin opens the day at 07:00 and closes the next two weeks.
        today = datetime.now(UTC).astimezone(before.timezone).date()
        first, last = today - timedelta(days=1), today + timedelta(days=14)
        _admin(
            zd,
            "PUT",
            f"/api/v2/business_hours/schedules/{sid}/workweek.json",
            {
                "workweek": {
                    "intervals": [
                        {"start_time": s - 120, "end_time": e}
                        for s, e in _nine_to_five()
                    ]
                }
            },
        )
        _admin(
            zd,
            "POST",
            f"/api/v2/business_hours/schedules/{sid}/holidays.json",
            {
                "holiday": {
                    "name": "Winter break",
                    "start_date": first.isoformat(),
                    "end_date": last.isoformat(),
                }
            },
        )
        result = CliRunner().invoke(cli, ["policy", "refresh"], env=env)
        assert result.exit_code == 0, result.output
        assert "changed: 'Support hours' (id" in result.output
        assert "hours mon-fri 09:00-17:00 -> mon-fri 07:00-17:00" in result.output
        assert "holiday added" in result.output and "Winter break" in result.output

        after = Schedule(
            "after",
            timezone=NY,
            windows={d: ["07:00-17:00"] for d in WEEKDAYS},
            holidays=[
                first + timedelta(days=n) for n in range((last - first).days + 1)
            ],
        )
        expected = format_utc(after.add(created, timedelta(hours=6)))
        assert expected != format_utc(before.add(created, timedelta(hours=6)))
        # The refresh enqueued the open ticket; the worker recomputes it.
        wait_for(lambda: _due(zd, tid) == expected, timeout=15)
        assert date.fromisoformat(expected[:10]) > last


def test_a_worker_starts_on_the_last_good_copy_when_zendesk_schedules_cannot_be_read(
    account,
):
    """Started once while Zendesk answered, the worker starts again without it and computes the same."""
    zd, env, org, _ = account
    created = datetime.now(UTC).replace(microsecond=0)
    with start_inprocess(env):
        pass  # the first start stores the copy
    zd._users[zd.api_user_id]["role"] = "agent"  # List Schedules is for admins: 403
    with start_inprocess(env) as serve:
        assert any(
            "Zendesk schedules not read" in e.get("msg", "") for e in serve.json_logs()
        )
        tid = zd.add_ticket(
            organization_id=org,
            created_at=created,
            custom_fields={SEVERITY_FIELD: "sev_3"},
        )
        _notify(serve, env, tid, 1)
        wait_for(lambda: _due(zd, tid) is not None, timeout=15)
        schedule = Schedule(
            "s", timezone=NY, windows={d: ["09:00-17:00"] for d in WEEKDAYS}
        )
        assert _due(zd, tid) == format_utc(schedule.add(created, timedelta(hours=6)))
