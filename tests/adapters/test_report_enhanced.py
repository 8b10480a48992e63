"""`sidecar report` applies an organization's enhanced SLA only while its add-on was in force.

The entitlements file dates the add-on (``starts``/``ends``, inclusive); a
ticket created outside those dates is reported under the base policy, as the
reconciler handled it then (regression: the report applied the file's targets
to every ticket of the organization, whenever it was created).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from tests.fake_zendesk import FakeZendesk

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SEV = 360001
LAPSED, CURRENT, NOT_YET = 7, 8, 9

ENTITLEMENTS = """
[orgs."7"]
plan = "enterprise"
enterprise_support = true
ends = 2026-10-31
sla = { sev3 = "1h" }

[orgs."8"]
plan = "enterprise"
enterprise_support = true
starts = 2026-10-01
ends = 2026-12-31
sla = { sev3 = "1h" }

[orgs."9"]
plan = "enterprise"
enterprise_support = true
starts = 2026-11-03
sla = { sev3 = "1h" }
"""


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """One SEV 3 ticket per organization, each answered after 2 h (base target 6 h)."""
    now = [NOW]
    with FakeZendesk(clock=lambda: now[0]) as fake:
        agent = fake.add_user(role="agent")
        for org in (LAPSED, CURRENT, NOT_YET):
            fake.add_org(org, name=f"Org {org}")
            tid = fake.add_ticket(
                ticket_id=org * 100,
                created_at=MONDAY,
                organization_id=org,
                tags=["sla_pending"],
                custom_fields={SEV: "sev_3"},
            )
            fake.add_comment(tid, agent, at=MONDAY + timedelta(hours=2))
        now[0] += timedelta(minutes=5)
        yield fake


def test_enhanced_targets_apply_only_within_the_add_on_dates(
    zendesk: FakeZendesk, tmp_path: Path
) -> None:
    path = tmp_path / "entitlements.toml"
    path.write_text(ENTITLEMENTS)
    env = {
        **zendesk.env(),
        "SIDECAR_SEVERITY_FIELD_ID": str(SEV),
        "SIDECAR_ENTITLEMENTS_FILE": str(path),
    }
    result = CliRunner().invoke(
        main,
        ["report", "--since", "2026-11-01", "--format", "json", "--pace", "0"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_org = {row["key"]: row for row in report["by_organization"]}
    # In force on 2 November: the 1 h enhanced target, missed by an hour.
    assert (by_org[str(CURRENT)]["met"], by_org[str(CURRENT)]["breached"]) == (0, 1)
    # Ended on 31 October, or starting on 3 November: the base 6 h target, met.
    for org in (LAPSED, NOT_YET):
        assert (by_org[str(org)]["met"], by_org[str(org)]["breached"]) == (1, 0)
