"""The README documents what the code offers."""

from __future__ import annotations

from pathlib import Path

from sidecar.cli import main
from sidecar.config import settings_table

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    """Each environment variable Config reads has a row in the README's configuration table."""
    missing = [name for name, _, _ in settings_table() if f"| `{name}` |" not in README]
    assert missing == []


def test_every_command_is_in_the_readme() -> None:
    """Each top-level `sidecar` command is mentioned in the README."""
    missing = [name for name in main.commands if f"sidecar {name}" not in README]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` runs exactly the README quickstart's test command."""
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert command in README
