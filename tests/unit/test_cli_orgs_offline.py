"""`sidecar orgs check --offline` in CI: the file's structure, never the production secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.commands.orgs import orgs
from sidecar.domain.entitlement import EntitlementsError
from sidecar.entitlements.loader import load_entitlements

FILE = """
[orgs."101"]
enterprise_support = true
plan = "enterprise"
pagerduty_routing_key = "env:ACME_PD_ROUTING_KEY"
slack_webhook_url = "env:ACME_SLACK_WEBHOOK_URL"

[orgs."ext:beta"]
plan = "ultra"
pagerduty_routing_key = "env:BETA_PD_ROUTING_KEY"
"""
SECRETS = ("ACME_PD_ROUTING_KEY", "ACME_SLACK_WEBHOOK_URL", "BETA_PD_ROUTING_KEY")


def check(tmp_path: Path, text: str, **environ: str) -> Result:
    path = tmp_path / "entitlements.toml"
    path.write_text(text)
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_POLICY_FILE": None,
        "SIDECAR_ENTITLEMENTS_FILE": str(path),
        "SIDECAR_ZENDESK_SUBDOMAIN": None,
        **dict.fromkeys(SECRETS),
        **environ,
    }
    return CliRunner().invoke(orgs, ["check", "--offline"], env=env)


def test_offline_passes_without_the_production_secrets(tmp_path: Path) -> None:
    """CI has none of the referenced variables: the check passes and names them as information."""
    result = check(tmp_path, FILE)
    assert result.exit_code == 0, result.output
    assert "error:" not in result.output
    for name in SECRETS:
        assert "info: " in result.output and name in result.output
    assert "not set here" in result.output


def test_offline_never_reads_a_secret_value(tmp_path: Path) -> None:
    """A set variable with a value the service would refuse is not resolved offline."""
    result = check(tmp_path, FILE, ACME_PD_ROUTING_KEY="too-short-not-a-key")
    assert result.exit_code == 0, result.output
    assert "too-short" not in result.output
    unset = [line for line in result.output.splitlines() if "not set here" in line]
    assert len(unset) == 2 and not any("ACME_PD_ROUTING_KEY" in x for x in unset)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('pagerduty_routing_key = "env:1BAD"', "is not a valid reference"),
        ('pagerduty_routing_key = "env:"', "is not a valid reference"),
        (
            'pagerduty_routing_key = "R0UT1NGKEY00000000000000000000AB"',
            "secrets do not belong",
        ),
        (
            'slack_webhook_url = "https://hooks.slack.com/services/T/B/x"',
            "secrets do not belong",
        ),
        ('plan = "enterprize"', "plan: 'enterprize'"),
    ],
)
def test_offline_still_fails_a_bad_file(
    tmp_path: Path, line: str, expected: str
) -> None:
    """A malformed reference, a literal secret, or any other file error fails offline too."""
    result = check(tmp_path, f'[orgs."5"]\n{line}\n')
    assert result.exit_code == 1
    assert expected in result.output
    assert "R0UT1NGKEY" not in result.output and "hooks.slack.com" not in result.output


def test_the_service_still_resolves_every_reference(tmp_path: Path) -> None:
    """Online (the service's load) an unset variable stays an error: nothing got laxer."""
    path = tmp_path / "entitlements.toml"
    path.write_text(FILE)
    with pytest.raises(EntitlementsError, match="ACME_PD_ROUTING_KEY is not set"):
        load_entitlements(path, environ={})


def test_check_shows_each_organizations_enhanced_targets(tmp_path: Path) -> None:
    """Per-metric overrides are listed; one the policy cannot apply is a warning."""
    result = check(
        tmp_path,
        '[orgs."101"]\nsla = { sev1 = "30m", sev2 = { first_response = "1h", '
        'next_reply = "2h" } }\n[orgs."102"]\nsla = { sev3 = "4h" }\n',
    )
    assert (
        "org 101: enhanced SLA: SEV 1 30m; SEV 2 first_response 1h, next_reply 2h"
        in (result.output)
    )
    assert "org 102: enhanced SLA: SEV 3 4h" in result.output
    # The built-in policy sets no next reply: the override cannot apply.
    assert (
        "warning: org 101: sla: sev2.next_reply has no target in policy 'default'"
        in result.output
    )
