"""The `sidecar sla` and `sidecar policy` commands, through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sidecar.commands.sla import COMMANDS

# A root group of only these commands, as sidecar.cli registers them, so this test
# does not depend on the other command modules.
main = click.Group("sidecar", commands=COMMANDS)

POLICY = """
[schedules.core]
timezone = "UTC"
mon = ["05:00-01:00"]
tue = ["05:00-01:00"]
holidays = ["2026-12-25"]
[policies.enterprise]
sev1 = { target = "1h", schedule = "24/7" }
sev3 = { target = "6h", schedule = "core" }
[policies.slow]
sev3 = { target = "1d", schedule = "core" }
"""


def run(*args: str):  # type: ignore[no-untyped-def]
    """Invoke the root command and return the click Result."""
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    """Write a two-policy file and return its path."""
    path = tmp_path / "sla.toml"
    path.write_text(POLICY)
    return str(path)


def test_due_prints_iso_utc() -> None:
    """`sla due` prints the README example's due time and exits 0."""
    result = run("sla", "due", "--severity", "3", "--created", "2026-11-27T15:00:00Z")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "2026-11-27T21:00:00Z\n",
        "",
    )


def test_due_accepts_offsets_and_keeps_microseconds() -> None:
    """Offsets are honoured and microseconds are printed only when non-zero."""
    result = run(
        "sla",
        "due",
        "--severity",
        "sev_3",
        "--created",
        "2026-11-27T10:00:00.250000-05:00",
    )
    assert result.stdout == "2026-11-27T21:00:00.250000Z\n"


def test_due_with_a_policy_file(policy_file: str) -> None:
    """--policy and --policy-name choose the policy the due time uses."""
    # Friday: the file's core hours are Monday and Tuesday only.
    result = run(
        "sla",
        "due",
        "--severity",
        "3",
        "--created",
        "2026-11-27T15:00:00Z",
        "--policy",
        policy_file,
        "--policy-name",
        "enterprise",
    )
    assert (result.exit_code, result.stdout) == (0, "2026-11-30T11:00:00Z\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--severity", "9", "--created", "2026-11-27T15:00:00Z"],
            "unrecognised severity '9'",
        ),
        (["--severity", "", "--created", "2026-11-27T15:00:00Z"], "no SLA applies"),
        (["--severity", "3", "--created", "2026-11-27T15:00:00"], "needs a time zone"),
        (["--severity", "3", "--created", "yesterday"], "not an ISO 8601 time"),
        (["--created", "2026-11-27T15:00:00Z"], "Missing option '--severity'"),
        (
            ["--severity", "3", "--created", "2026-11-27T15:00:00Z", "--bogus"],
            "--bogus",
        ),
        (
            [
                "--severity",
                "3",
                "--created",
                "2026-11-27T15:00:00Z",
                "--policy-name",
                "x",
            ],
            "--policy-name needs --policy FILE",
        ),
        (["--severity", "4", "--created", "9999-12-31T00:00:00Z"], "out of range"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    """Bad input exits 2 with exactly one line on stderr and nothing on stdout."""
    result = run("sla", "due", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_due_with_bad_policy_file_or_name(policy_file: str, tmp_path: Path) -> None:
    """A policy file problem is one stderr line naming the file and key."""
    base = ["sla", "due", "--severity", "3", "--created", "2026-11-27T15:00:00Z"]
    result = run(*base, "--policy", policy_file)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {policy_file}: policies: 2 policies (enterprise, slow): "
        "choose one by name or set default_policy\n"
    )
    result = run(
        *base, "--policy", policy_file, "--policy-name", "enterprise", "--severity", "4"
    )
    assert result.exit_code == 2 and "no target for SEV4" in result.stderr


def test_explain_prints_segments() -> None:
    """`sla explain` shows each segment with its duration, then the due time."""
    result = run(
        "sla", "explain", "--severity", "4", "--created", "2026-11-27T22:00:00Z"
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert (
        "  2026-11-27T22:00:00Z -> 2026-11-28T01:00:00Z        3h  (total 3h)" in lines
    )
    assert (
        "  2026-11-30T05:00:00Z -> 2026-12-01T01:00:00Z       20h  (total 23h)" in lines
    )
    assert lines[-1] == "due        2026-12-01T06:00:00Z"


def test_explain_bad_input_is_one_line() -> None:
    """`sla explain` reports bad input like `sla due`."""
    result = run(
        "sla", "explain", "--severity", "P1", "--created", "2026-11-27T22:00:00Z"
    )
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


def test_policy_check_summarises_a_valid_file(policy_file: str) -> None:
    """`policy check` exits 0 and lists the policies it found."""
    result = run("policy", "check", policy_file)
    assert result.exit_code == 0
    assert (
        result.stdout.splitlines()[0]
        == f"ok: {policy_file}: 2 policies (enterprise, slow)"
    )
    assert "SEV3      6h" in result.stdout


def test_policy_check_reports_the_error_line(tmp_path: Path) -> None:
    """`policy check` exits 2 with the validation error as its only stderr line."""
    path = tmp_path / "bad.toml"
    path.write_text(
        POLICY.replace(
            'schedule = "core" }\n[policies.slow]',
            'schedule = "cor" }\n[policies.slow]',
        )
    )
    result = run("policy", "check", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}: policies.enterprise.sev3.schedule: unknown schedule 'cor' "
        "(defined: 24/7, core)\n"
    )


def test_policy_show_prints_the_default_table() -> None:
    """`policy show --markdown` prints the built-in policy as a markdown table."""
    result = run("policy", "show", "--markdown")
    assert result.exit_code == 0
    assert "| SEV1 | 1h | 24/7 | 24/7 |" in result.stdout.splitlines()
