"""An admin's first week: every command answers from the service's configuration."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from sidecar.cli import main

# SEV 3 is 2 h in Monday's 09:00-17:00: the built-in policy would say 6 h.
POLICY = """
[schedules.core]
timezone = "UTC"
mon = ["09:00-17:00"]
holidays = ["2027-01-04"]
[policies.house]
sev3 = { target = "2h", schedule = "core" }
"""

# Five mistakes, in three kinds of place: a run must name each of them.
BROKEN = """
[schedules.core]
timezone = "Mars/Olympus"
mon = ["09:00-37:00"]
fri = ["x"]
[policies.p]
day = "week"
sev3 = { target = "2q", schedule = "core" }
sev4 = { target = "1h", schedule = "nowhere" }
"""


def run(tmp_path: Path, *args: str, **env: str) -> Result:
    """Run `sidecar` in a clean environment plus ``env``."""
    clean: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_POLICY_FILE": None,
        "SIDECAR_POLICY_NAME": None,
        "SIDECAR_ZENDESK_SUBDOMAIN": None,
        "SIDECAR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
    }
    return CliRunner().invoke(main, list(args), env={**clean, **env})


def policy_env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "house.toml"
    path.write_text(POLICY)
    return {"SIDECAR_POLICY_FILE": str(path)}


def test_sla_due_uses_the_policy_file_the_service_uses(tmp_path: Path) -> None:
    """`sla due` without --policy answers with SIDECAR_POLICY_FILE, as the worker does."""
    args = ("sla", "due", "--severity", "3", "--created", "2026-11-30T09:00:00Z")
    result = run(tmp_path, *args, **policy_env(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "2026-11-30T11:00:00Z\n")
    explained = run(tmp_path, "sla", "explain", *args[2:], **policy_env(tmp_path))
    assert "policy     house" in explained.stdout


def test_policy_show_and_holidays_use_the_policy_file(tmp_path: Path) -> None:
    """`policy show` and `policy holidays` describe SIDECAR_POLICY_FILE's policy."""
    shown = run(tmp_path, "policy", "show", **policy_env(tmp_path))
    assert shown.exit_code == 0 and "policy 'house'" in shown.stdout
    days = run(tmp_path, "policy", "holidays", "--year", "2027", **policy_env(tmp_path))
    assert days.exit_code == 0
    assert "schedule core (mon 09:00-17:00 (UTC), 1 holiday): 1 day\n" in days.stdout
    assert "2027-01-04" in days.stdout


def test_policy_name_picks_from_the_configured_file(tmp_path: Path) -> None:
    """--policy-name alone chooses among SIDECAR_POLICY_FILE's policies."""
    shown = run(
        tmp_path, "policy", "show", "--policy-name", "house", **policy_env(tmp_path)
    )
    assert shown.exit_code == 0 and "policy 'house'" in shown.stdout


def test_a_bad_setting_stops_sla_due_with_its_reason(tmp_path: Path) -> None:
    """A command that reads the configuration reports a bad setting, value and form."""
    args = ("sla", "due", "--severity", "3", "--created", "2026-11-30T09:00:00Z")
    result = run(tmp_path, *args, SIDECAR_SEVERITY_FIELD_ID="90000O")
    assert result.exit_code == 2
    assert "SIDECAR_SEVERITY_FIELD_ID='90000O' is not valid" in result.stderr
    assert "Traceback" not in result.output


def test_policy_check_reports_every_problem_in_one_run(tmp_path: Path) -> None:
    """`policy check` lists each of the file's problems at once, as the README says."""
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    result = run(tmp_path, "policy", "check", str(path))
    assert result.exit_code == 2
    for expected in (
        "schedules.core.timezone: unknown time zone 'Mars/Olympus'",
        "schedules.core.mon: window '09:00-37:00' has an invalid end time",
        "schedules.core.fri: window 'x' is not 'HH:MM-HH:MM'",
        'policies.p.day: must be "24h" or "schedule", got \'week\'',
        "policies.p.sev3.target: duration '2q'",
        "policies.p.sev4.schedule: unknown schedule 'nowhere'",
    ):
        assert expected in result.stderr, expected
    assert "6 problems" in result.stderr
