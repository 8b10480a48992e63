"""`sidecar orgs show|check|set` against FakeZendesk over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.commands.orgs import COMMANDS, orgs
from tests.fake_zendesk import FakeZendesk

ENTITLEMENTS = """
[orgs."101"]
enterprise_support = true
ends = 2026-12-31
sla = { sev1 = "30m" }
pagerduty_routing_key = "env:ACME_PD_ROUTING_KEY"

[orgs."ext:Beta-Co"]
plan = "enterprise"
enterprise_support = true
"""


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_org(
            101, name="Acme", external_id="acme", fields={"support_plan": "ultra"}
        )
        fake.add_org(
            102,
            name="Team Co",
            fields={"support_plan": "team", "enterprise_support": True},
        )
        fake.add_org(103, name="Beta", external_id="beta-co", fields={})
        yield fake


def invoke(
    zendesk: FakeZendesk | None,
    tmp_path: Path,
    args: list[str],
    text: str = ENTITLEMENTS,
) -> Result:
    path = tmp_path / "entitlements.toml"
    path.write_text(text)
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_ENTITLEMENTS_FILE": str(path),
        "SIDECAR_ZENDESK_SUBDOMAIN": None,
        "SIDECAR_ZENDESK_URL": None,
        "ACME_PD_ROUTING_KEY": "ORGR0UT1NGKEY0000000000000000101",
    }
    if zendesk is not None:
        env.update(zendesk.env())
    return CliRunner().invoke(orgs, args, env=env)


def test_commands_are_exported() -> None:
    """The module exposes the orgs group for cli.py to register."""
    assert [orgs] == COMMANDS and orgs.name == "orgs"


def test_show_explains_the_decision_and_sources(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """Show prints the verdict, the reason, the source and each input's origin."""
    result = invoke(zendesk, tmp_path, ["show", "101", "--on", "2026-06-01"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Organization 101 'Acme'" in out and "Entitled:  yes" in out
    assert "Source:    file+zendesk" in out
    assert "support_plan' = 'ultra'; file = (not set) -> zendesk wins" in out
    assert "enterprise_support' = None; file = True -> file wins" in out
    assert "SEV 1 30m" in out and "organization override" in out
    assert "ORGR0UT1NGKEY" not in out


def test_show_after_the_end_date(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """After the file's end date show says not entitled and why."""
    result = invoke(zendesk, tmp_path, ["show", "101", "--on", "2027-01-01"])
    assert result.exit_code == 0
    assert "Entitled:  no" in result.output and "ended on 2026-12-31" in result.output


def test_show_flags_a_bad_zendesk_value(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """Enterprise Support on plan team in Zendesk is shown as a problem to fix."""
    result = invoke(zendesk, tmp_path, ["show", "102"])
    assert result.exit_code == 0
    assert "Entitled:  no" in result.output and "Problem:" in result.output


def test_show_by_external_id_reads_zendesk(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An external id is looked up in Zendesk (any case) and matches its file entry."""
    result = invoke(zendesk, tmp_path, ["show", "ext:BETA-co"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Organization 103 'Beta' (external id beta-co)" in out
    assert "Entitled:  yes" in out and "[orgs.'ext:Beta-Co']" in out
    assert "Zendesk was not read" not in out
    assert len(zendesk.calls("GET", "/organizations/search")) == 1


def test_show_by_external_id_without_credentials(tmp_path: Path) -> None:
    """Without Zendesk an external id resolves through the file alone, and says so."""
    result = invoke(None, tmp_path, ["show", "ext:BETA-co"])
    assert result.exit_code == 0, result.output
    assert "Entitled:  yes" in result.output and "Source:    file" in result.output
    assert "Zendesk was not read" in result.output


def test_show_unknown_external_id(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """An external id no Zendesk org has is a clear error, exit 1."""
    result = invoke(zendesk, tmp_path, ["show", "ext:nobody"])
    assert result.exit_code == 1
    assert "no organization with external id 'nobody'" in result.output


def test_show_unknown_org(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """An org Zendesk does not have is a clear error, exit 1."""
    result = invoke(zendesk, tmp_path, ["show", "999"])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_show_refuses_a_bad_file(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """A bad entitlements file stops show with its problems."""
    result = invoke(zendesk, tmp_path, ["show", "101"], '[orgs."101"]\nplan = "gold"\n')
    assert result.exit_code == 1 and "org 101: plan" in result.output


def test_check_passes_a_clean_account(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """Check exits 0 and counts orgs when Zendesk and the file agree, in one read."""
    zendesk.set_org_fields(102, {"enterprise_support": False})
    result = invoke(zendesk, tmp_path, ["check", "--on", "2026-06-01"])
    assert result.exit_code == 0, result.output
    assert (
        "3 organizations in Zendesk, 2 entitled, 2 organizations in the file, "
        "0 errors, 0 warnings"
    ) in result.output
    assert [c.path for c in zendesk.calls("GET")] == ["/api/v2/organizations.json"]


def test_check_flags_a_bad_zendesk_org_not_in_the_file(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An org without a file entry but with a bad Zendesk value fails check."""
    zendesk.add_org(104, name="Odd", fields={"support_plan": "gold"})
    result = invoke(zendesk, tmp_path, ["check", "--on", "2026-06-01"])
    assert result.exit_code == 1
    out = result.output
    assert "error: org 102 (Team Co, no entry in the file):" in out
    assert "'enterprise_support'" in out and "'team'" in out
    assert "error: org 104 (Odd, no entry in the file):" in out
    assert "'support_plan' has an unknown plan 'gold'" in out
    assert "4 organizations in Zendesk, 2 entitled" in out and "2 errors" in out


def test_check_resolves_external_id_entries(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """An ext: entry is checked against the org with that external id, in any case."""
    zendesk.set_org_fields(102, {"enterprise_support": False})
    text = (
        '[orgs."ext:BETA-CO"]\nenterprise_support = true\n'
        '[orgs."ext:nobody"]\nenterprise_support = false\n'
    )
    result = invoke(zendesk, tmp_path, ["check"], text)
    assert result.exit_code == 1
    out = result.output
    assert "org ext:BETA-CO (Beta)" in out and "no plan" in out
    assert "org ext:nobody: no such organization in Zendesk" in out
    assert "keyed by external id" not in out and "2 errors" in out


def test_check_flags_one_org_listed_twice(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """An org listed by id and again by its external id is an error."""
    zendesk.set_org_fields(102, {"enterprise_support": False})
    text = '[orgs."103"]\nplan = "pro"\n[orgs."ext:Beta-Co"]\nplan = "team"\n'
    result = invoke(zendesk, tmp_path, ["check"], text)
    assert result.exit_code == 1
    assert (
        "org ext:Beta-Co (Beta): organization 103 is also listed as [orgs.'103']; "
        "keep one entry"
    ) in result.output
    assert "1 error, 0 warnings" in result.output


def test_check_reports_a_failed_listing(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """When Zendesk cannot list organizations, check says so and exits 1."""
    zendesk.fail_next(1, 500, path_contains="/organizations.json")
    result = invoke(zendesk, tmp_path, ["check"])
    assert result.exit_code == 1
    assert "error: Zendesk: zendesk GET /api/v2/organizations.json" in result.output
    assert "in Zendesk" not in result.output.splitlines()[-1]


def test_check_reports_conflicts_with_zendesk(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """A missing org, or the add-on granted on plan team or no plan, fails check."""
    text = (
        '[orgs."102"]\nsla = { sev1 = "30m" }\n'
        '[orgs."103"]\nenterprise_support = true\n'
        '[orgs."404"]\nenterprise_support = false\n'
    )
    result = invoke(zendesk, tmp_path, ["check"], text)
    assert result.exit_code == 1
    out = result.output
    assert "org 102 (Team Co)" in out and "'team'" in out
    assert "org 103 (Beta)" in out and "no plan" in out
    assert "org 404: no such organization" in out
    assert "3 errors" in out


def test_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    """Every file problem is printed and check exits 1, even offline."""
    text = '[orgs."1"]\nplan = "team"\nenterprise_support = true\nends = 2020-01-01\n'
    text += "starts = 2021-01-01\n"
    result = invoke(None, tmp_path, ["check", "--offline"], text)
    assert result.exit_code == 1
    assert result.output.count("error: org 1:") == 2


def test_check_offline_validates_the_file_only(tmp_path: Path) -> None:
    """--offline passes a valid file without Zendesk credentials."""
    result = invoke(None, tmp_path, ["check", "--offline"])
    assert result.exit_code == 0 and "not checked in Zendesk" in result.output


def test_check_without_credentials_fails(tmp_path: Path) -> None:
    """Without Zendesk credentials and without --offline, check fails."""
    result = invoke(None, tmp_path, ["check"])
    assert result.exit_code == 1 and "no Zendesk credentials" in result.output


def test_set_writes_zendesk_fields(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """Set writes the plan and checkbox through the API."""
    result = invoke(
        zendesk,
        tmp_path,
        ["set", "103", "--plan", "enterprise", "--enterprise-support", "on"],
    )
    assert result.exit_code == 0, result.output
    fields = zendesk.organization(103)["organization_fields"]
    assert (
        fields["support_plan"] == "enterprise" and fields["enterprise_support"] is True
    )
    assert len(zendesk.calls("PUT", "/organizations/103")) == 1


def test_set_refuses_enterprise_support_on_a_lower_plan(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """Turning the add-on on for a team plan is refused and nothing is written."""
    result = invoke(zendesk, tmp_path, ["set", "102", "--enterprise-support", "on"])
    assert result.exit_code == 1 and "refusing" in result.output
    again = invoke(
        zendesk, tmp_path, ["set", "103", "--plan", "pro", "--enterprise-support", "on"]
    )
    assert again.exit_code == 1
    assert zendesk.calls("PUT") == []


def test_set_refuses_lowering_the_plan_under_the_add_on(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    """Lowering the plan while the checkbox stays on would be inconsistent: refused."""
    zendesk.set_org_fields(103, {"support_plan": "ultra", "enterprise_support": True})
    result = invoke(zendesk, tmp_path, ["set", "103", "--plan", "team"])
    assert result.exit_code == 1 and zendesk.calls("PUT") == []


def test_set_notes_file_overrides(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """When the file sets the same field, set says the file still wins."""
    result = invoke(zendesk, tmp_path, ["set", "101", "--enterprise-support", "off"])
    assert result.exit_code == 0, result.output
    assert "the file wins over Zendesk" in result.output


def test_set_needs_an_option_and_an_id(zendesk: FakeZendesk, tmp_path: Path) -> None:
    """Set without options, or with an external id, is a usage error."""
    assert invoke(zendesk, tmp_path, ["set", "101"]).exit_code == 2
    assert (
        invoke(zendesk, tmp_path, ["set", "ext:acme", "--plan", "ultra"]).exit_code == 2
    )


def test_check_warns_about_an_override_the_policy_cannot_take(tmp_path: Path) -> None:
    """An enhanced SLA for a severity the configured policy has no target for is reported."""
    policy = tmp_path / "policy.toml"
    policy.write_text('[policies.p]\nsev1 = { target = "1h", schedule = "24/7" }\n')
    text = '[orgs."101"]\nsla = { sev1 = "30m", sev5 = "4h" }\n'
    path = tmp_path / "entitlements.toml"
    path.write_text(text)
    env = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_ENTITLEMENTS_FILE": str(path),
        "SIDECAR_POLICY_FILE": str(policy),
    }
    result = CliRunner().invoke(orgs, ["check", "--offline"], env=env)
    assert "org 101: sla: sev5 has no target in policy 'p'" in result.output
    assert result.output.count("has no target") == 1  # sev1 is fine
