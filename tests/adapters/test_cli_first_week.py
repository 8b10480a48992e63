"""An admin's first week, run as they would: away from the service, from the README."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.tasks.queue import JobQueue
from tests.e2e.conftest import SEVERITY_FIELD, connected_env
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_zendesk import FakeZendesk


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """A fake Zendesk with one entitled organization and its SEV 1 ticket."""
    with FakeZendesk() as fake:
        fake.add_org(
            10,
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        fake.add_ticket(organization_id=10, custom_fields={SEVERITY_FIELD: "sev_1"})
        yield fake


@pytest.fixture
def away(
    tmp_path: Path, zendesk: FakeZendesk, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A connected environment, run from a directory where the service is not."""
    with FakePagerDuty() as pagerduty:
        env = connected_env(tmp_path, zendesk, pagerduty)
    env["SIDECAR_QUEUE_URL"] = "sqlite:///sidecar-queue.db"  # the default, relative
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    yield env


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_read_only_commands_create_no_queue_file(
    away: dict[str, str], tmp_path: Path
) -> None:
    """explain, reconcile --dry-run, policy whatif and backfill --dry-run need no queue."""
    explained = run(away, "explain", "1")
    assert explained.exit_code == 0, explained.output
    assert "due        " in explained.stdout
    dry = run(away, "reconcile", "1", "--dry-run")
    assert dry.exit_code == 0 and "ticket 1: would write" in dry.stdout
    whatif = run(away, "policy", "whatif", away["SIDECAR_POLICY_FILE"])
    assert whatif.exit_code == 0, whatif.output
    counted = run(away, "backfill", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert "backfill done: 1 page, 1 ticket read, would enqueue 1" in counted.stdout
    assert os.listdir(".") == []
    where = Path("sidecar-queue.db").resolve()
    assert f"note: no queue at {where}" in explained.stderr


def test_replay_away_from_the_service_refuses_and_names_the_absolute_path(
    away: dict[str, str],
) -> None:
    """After an explain there, replay still finds no queue to fill that no worker reads."""
    assert run(away, "explain", "1").exit_code == 0
    result = run(away, "replay", "--ticket", "1")
    assert result.exit_code == 1
    where = Path("sidecar-queue.db").resolve()
    assert f"no queue at {where}" in result.stderr
    assert "SIDECAR_QUEUE_URL" in result.stderr and "enqueued" not in result.output
    assert os.listdir(".") == []


def test_replay_into_the_service_queue_names_it_absolutely(
    away: dict[str, str],
) -> None:
    """Where the service's queue is, replay enqueues and names the file by its full path."""
    JobQueue.from_url(away["SIDECAR_QUEUE_URL"]).close()  # as `sidecar serve` makes it
    result = run(away, "replay", "--ticket", "1")
    assert result.exit_code == 0, result.output
    assert f"queue: sqlite {Path('sidecar-queue.db').resolve()}\n" in result.stdout
    assert "enqueued 1 reconcile: 1" in result.stdout


def test_explain_works_with_redis_down(away: dict[str, str]) -> None:
    """With the queue's Redis unreachable, explain still explains, with one note line."""
    away["SIDECAR_QUEUE_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    result = run(away, "explain", "1")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    (note,) = result.stderr.splitlines()
    assert note.startswith(f"note: the queue redis {away['SIDECAR_QUEUE_URL']} does")
    assert "ConnectionError" in note and "Going on without the queue" in note


def test_queue_commands_with_redis_down_say_it_in_one_line(
    away: dict[str, str],
) -> None:
    """jobs, budget, replay and a real reconcile name the unreachable queue, no traceback."""
    away["SIDECAR_QUEUE_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    for args in (["jobs"], ["budget"], ["replay", "--ticket", "1"], ["reconcile", "1"]):
        result = run(away, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("Error: the queue redis redis://127.0.0.1:"), args
        assert "does not answer (ConnectionError" in line


def test_explain_says_the_verdict_once(away: dict[str, str]) -> None:
    """The entitlement line says "entitled:" once, not "entitled: entitled:"."""
    out = run(away, "explain", "1").stdout
    line = next(x for x in out.splitlines() if x.startswith("entitlement"))
    assert line.startswith("entitlement   entitled: Enterprise Support on plan")
    assert "entitled: entitled" not in out


def test_orgs_show_takes_a_name_as_sla_due_does(
    away: dict[str, str], tmp_path: Path
) -> None:
    """`orgs show "Acme Corp"` finds the organization `sla due --org "Acme Corp"` finds."""
    shown = run(away, "orgs", "show", "acme corp")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("Organization 10 'Acme Corp'")
    missing = run(away, "orgs", "show", "Nobody Inc")
    assert missing.exit_code == 1
    assert "no organization named 'Nobody Inc'" in missing.stderr


def test_jobs_alone_lists_what_is_left(away: dict[str, str]) -> None:
    """`sidecar jobs` (the runbook's drain step) lists the pending jobs and the counts."""
    JobQueue.from_url(away["SIDECAR_QUEUE_URL"]).close()
    assert run(away, "replay", "--ticket", "1").exit_code == 0
    result = run(away, "jobs")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"queue: sqlite {Path('sidecar-queue.db').resolve()}"
    assert "reconcile ticket 1" in lines[1]
    assert lines[2:] == [
        "1 pending job: 1 reconcile",
        "0 scheduled jobs (`sidecar jobs scheduled`), "
        "0 failed jobs (`sidecar jobs failed`)",
    ]
