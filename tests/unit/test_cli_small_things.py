"""The CLI's shared context and the small things: `sla due --org`, plans, date ranges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.commands.context import SidecarGroup, cli_context
from sidecar.domain.models import Organization
from sidecar.entitlements import decide
from sidecar.errors import ConfigError
from tests.fake_zendesk import FakeZendesk

ENTITLEMENTS = """
[orgs."101"]
enterprise_support = true
sla = { sev3 = "2h" }

[orgs."102"]
sla = { sev3 = "1h" }
"""


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_org(101, name="Acme Corp", fields={"support_plan": "ultra"})
        fake.add_org(102, name="Team Co", fields={"support_plan": "team"})
        yield fake


def run(tmp_path: Path, *args: str, zendesk: FakeZendesk | None = None) -> Result:
    path = tmp_path / "entitlements.toml"
    path.write_text(ENTITLEMENTS)
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_ZENDESK_SUBDOMAIN": None,
        "SIDECAR_ZENDESK_URL": None,
        "SIDECAR_ENTITLEMENTS_FILE": str(path),
        "SIDECAR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
    }
    if zendesk is not None:
        env.update(zendesk.env())
    return CliRunner().invoke(main, list(args), env=env)


DUE = ["sla", "due", "--severity", "3", "--created", "2026-11-27T15:00:00Z"]


def test_sla_due_with_an_org_by_name_uses_its_enhanced_sla(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """--org NAME finds the org in Zendesk and applies its enhanced SEV 3 target (2 h)."""
    result = run(tmp_path, *DUE, "--org", "acme corp", zendesk=zendesk)
    assert (result.exit_code, result.stdout) == (0, "2026-11-27T17:00:00Z\n")
    by_id = run(tmp_path, *DUE, "--org", "101", zendesk=zendesk)
    assert by_id.stdout == "2026-11-27T17:00:00Z\n"


def test_sla_due_with_an_org_from_the_file_alone(tmp_path: Path) -> None:
    """Without Zendesk, --org ID is decided from the entitlements file."""
    result = run(tmp_path, *DUE, "--org", "101")
    assert result.exit_code == 2, result.output
    # The file gives 101 the add-on but no plan: not entitled, said in one line.
    assert "no plan" in result.stderr and "no SLA applies" in result.stderr
    unknown = run(tmp_path, *DUE, "--org", "555")
    assert unknown.exit_code == 2 and "not in the entitlements file" in unknown.stderr


def test_sla_due_for_an_org_that_is_not_entitled(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An organization without Enterprise Support has no SLA, and the error says why."""
    result = run(tmp_path, *DUE, "--org", "Team Co", zendesk=zendesk)
    assert result.exit_code == 2
    assert "Enterprise Support is off" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "created",
    ["0001-01-01T00:30:00+05:00", "9999-12-31T23:30:00-05:00", "1969-12-31T23:59:59Z"],
)
def test_out_of_range_dates_are_one_clear_line(created: str) -> None:
    """Creation times no ticket can have are refused with the supported range."""
    result = CliRunner().invoke(
        main, ["sla", "explain", "--severity", "1", "--created", created]
    )
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert "out of range" in result.stderr and "1970-01-01" in result.stderr


def test_org_plans_setting_decides_who_may_hold_the_add_on() -> None:
    """SIDECAR_ORG_PLANS widens (or narrows) the plans eligible for Enterprise Support."""
    org = Organization(
        1, "Acme", None, {"support_plan": "pro", "enterprise_support": True}
    )

    def entitled(plans: tuple[str, ...]) -> bool:
        return decide(
            org,
            None,
            today=date(2026, 6, 1),
            plan_field="support_plan",
            enterprise_field="enterprise_support",
            eligible_plans=plans,
        ).entitled

    assert not entitled(("ultra", "enterprise"))
    assert entitled(("pro", "ultra", "enterprise"))


def test_config_is_built_once_and_errors_become_one_line(tmp_path: Path) -> None:
    """Every command reads the same Config object; a SidecarError exits 1 in one line."""
    seen: list[object] = []

    @click.group(cls=SidecarGroup)
    def root() -> None:
        seen.append(cli_context().config)

    @root.command()
    def leaf() -> None:
        seen.append(cli_context().config)
        raise ConfigError("SIDECAR_X: something to fix")

    result = CliRunner().invoke(root, ["leaf"], env={"SIDECAR_CONFIG": None})
    assert result.exit_code == 1
    assert result.output == "Error: SIDECAR_X: something to fix\n"
    assert len(seen) == 2 and seen[0] is seen[1]


def test_a_bad_setting_is_a_one_line_error(tmp_path: Path) -> None:
    """A bad environment value stops any command with the variable's name."""
    result = CliRunner().invoke(
        main, ["jobs", "pending"], env={"SIDECAR_ORG_PLANS": " , "}
    )
    assert result.exit_code == 1
    assert "SIDECAR_ORG_PLANS=' , ' is not valid; expected plan option tags" in (
        result.output
    )
