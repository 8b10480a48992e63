"""Reading and validating the entitlements file."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from sidecar.config import Secret
from sidecar.entitlements import (
    EntitlementsError,
    load_entitlements,
    parse_entitlements,
)

KEY = "R0UT1NGKEY0000000000000000000042"
GOOD = """
[orgs."360001234567"]
plan = "enterprise"
enterprise_support = true
starts = 2026-01-01
ends = 2026-12-31
sla = { sev1 = "30m", sev3 = "4h" }
pagerduty_routing_key = "env:ACME_PD_KEY"
slack_webhook_url = "env:ACME_SLACK_URL"
csm_user_id = 123456

[orgs."ext:Acme-Corp"]
enterprise_support = true
"""


ENVIRON = {
    "ACME_PD_KEY": KEY,
    "ACME_SLACK_URL": "https://hooks.slack.com/services/T0/B0/SECRETPART",
    "SHORT_KEY": "tooshort-secret",
    "PLAIN_HTTP_URL": "http://hooks.slack.com/services/T/B/HUSH",
    "BROKEN_URL": "https://[hooks.slack.com/services/x",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entitlements.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(EntitlementsError) as info:
        load_entitlements(write(tmp_path, text), environ=ENVIRON)
    return info.value.problems


def test_reads_every_field(tmp_path: Path) -> None:
    """A complete entry is read into typed values, secrets wrapped."""
    file = load_entitlements(write(tmp_path, GOOD), environ=ENVIRON)
    entry = file.lookup(org_id=360001234567)
    assert entry is not None
    assert entry.plan == "enterprise"
    assert entry.enterprise_support is True
    assert (entry.starts, entry.ends) == (date(2026, 1, 1), date(2026, 12, 31))
    assert dict(entry.sla_overrides) == {
        1: timedelta(minutes=30),
        3: timedelta(hours=4),
    }
    assert entry.pagerduty_routing_key == Secret(KEY)
    assert entry.slack_webhook_url == Secret(
        "https://hooks.slack.com/services/T0/B0/SECRETPART"
    )
    assert entry.csm_user_id == 123456
    assert KEY not in repr(entry) and "SECRETPART" not in repr(entry)


def test_external_id_lookup_is_case_insensitive(tmp_path: Path) -> None:
    """An ext: entry is found by the org's external id in any letter case."""
    file = load_entitlements(write(tmp_path, GOOD), environ=ENVIRON)
    entry = file.lookup(org_id=999, external_id="ACME-corp")
    assert entry is not None and entry.key == "ext:Acme-Corp"
    assert entry.plan is None and entry.enterprise_support is True


def test_lookup_prefers_org_id_over_external_id(tmp_path: Path) -> None:
    """The organization id is looked up before the external id."""
    file = load_entitlements(write(tmp_path, GOOD), environ=ENVIRON)
    entry = file.lookup(org_id=360001234567, external_id="acme-corp")
    assert entry is not None and entry.key == "360001234567"


def test_missing_entry_is_none(tmp_path: Path) -> None:
    """An organization the file does not name has no entry."""
    file = load_entitlements(write(tmp_path, GOOD), environ=ENVIRON)
    assert file.lookup(org_id=1, external_id="other") is None
    assert file.lookup() is None


def test_enterprise_support_on_a_lower_plan_is_an_error(tmp_path: Path) -> None:
    """Enterprise Support with plan team is rejected, naming the org and field."""
    found = problems(
        tmp_path, '[orgs."42"]\nplan = "team"\nenterprise_support = true\n'
    )
    assert len(found) == 1
    assert "org 42" in found[0] and "enterprise_support" in found[0]
    assert "'team'" in found[0]


def test_unknown_plan_is_an_error(tmp_path: Path) -> None:
    """A plan outside the known list is rejected."""
    found = problems(tmp_path, '[orgs."42"]\nplan = "gold"\n')
    assert found == [found[0]] and "org 42: plan: 'gold'" in found[0]


def test_end_before_start_is_an_error(tmp_path: Path) -> None:
    """An add-on that ends before it starts is rejected."""
    found = problems(tmp_path, '[orgs."42"]\nstarts = 2026-06-01\nends = 2026-05-31\n')
    assert len(found) == 1 and "org 42: ends:" in found[0] and "before" in found[0]


def test_same_start_and_end_day_is_fine(tmp_path: Path) -> None:
    """A one-day add-on (ends == starts) is valid."""
    file = load_entitlements(
        write(tmp_path, '[orgs."42"]\nstarts = 2026-06-01\nends = 2026-06-01\n')
    )
    assert file.orgs[0].ends == date(2026, 6, 1)


def test_override_for_unknown_severity_is_an_error(tmp_path: Path) -> None:
    """sla.sev6 names no severity and is rejected."""
    found = problems(tmp_path, '[orgs."42"]\nsla = { sev6 = "1h", p1 = "1h" }\n')
    assert len(found) == 2
    assert all("org 42: sla." in p and "unknown severity" in p for p in found)


def test_bad_duration_is_an_error(tmp_path: Path) -> None:
    """A duration that does not parse, or is zero, is rejected."""
    found = problems(
        tmp_path, '[orgs."42"]\nsla = { sev1 = "soon", sev2 = "0m", sev3 = 30 }\n'
    )
    assert len(found) == 3
    assert {p.split(":")[1].strip() for p in found} == {
        "sla.sev1",
        "sla.sev2",
        "sla.sev3",
    }


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    """A misspelt field or an unknown top-level table is rejected."""
    found = problems(
        tmp_path, '[defaults]\nplan = "x"\n[orgs."42"]\nenterprise = true\n'
    )
    assert any("unknown top-level key 'defaults'" in p for p in found)
    assert any("org 42: unknown field 'enterprise'" in p for p in found)


def test_bad_org_key_is_an_error(tmp_path: Path) -> None:
    """A key that is neither digits nor ext:<id> is rejected."""
    found = problems(tmp_path, '[orgs."acme"]\nplan = "ultra"\n')
    assert len(found) == 1 and "org acme" in found[0] and "ext:" in found[0]


def test_wrong_types_are_errors(tmp_path: Path) -> None:
    """Dates as strings, non-boolean flags and non-numeric CSM ids are rejected."""
    found = problems(
        tmp_path,
        '[orgs."42"]\nstarts = "2026-01-01"\nends = 2026-01-02T10:00:00Z\n'
        'enterprise_support = "yes"\ncsm_user_id = "bob"\n',
    )
    fields = sorted(p.split(":")[1].strip() for p in found)
    assert fields == ["csm_user_id", "ends", "enterprise_support", "starts"]


def test_bad_secrets_are_not_echoed(tmp_path: Path) -> None:
    """A malformed routing key or webhook URL is reported without its value."""
    found = problems(
        tmp_path,
        '[orgs."42"]\npagerduty_routing_key = "env:SHORT_KEY"\n'
        'slack_webhook_url = "env:PLAIN_HTTP_URL"\n',
    )
    assert len(found) == 2
    text = "\n".join(found)
    assert "tooshort-secret" not in text and "HUSH" not in text
    assert "hooks.slack.com" in text


def test_duplicate_external_ids_are_an_error(tmp_path: Path) -> None:
    """Two ext: entries differing only in case name the same org and are rejected."""
    found = problems(
        tmp_path,
        '[orgs."ext:acme"]\nplan = "ultra"\n[orgs."ext:ACME"]\nplan = "ultra"\n',
    )
    assert len(found) == 1 and "same external id" in found[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Problems in several orgs are all listed in one error, the file rejected whole."""
    with pytest.raises(EntitlementsError) as info:
        load_entitlements(
            write(
                tmp_path,
                '[orgs."1"]\nplan = "team"\nenterprise_support = true\n'
                '[orgs."2"]\nsla = { sev9 = "1h" }\n'
                '[orgs."3"]\nplan = "ultra"\n',
            )
        )
    assert len(info.value.problems) == 2
    assert "org 1" in str(info.value) and "org 2" in str(info.value)


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    """A missing file or broken TOML is one clear problem."""
    with pytest.raises(EntitlementsError, match="cannot read"):
        load_entitlements(tmp_path / "absent.toml")
    assert "not valid TOML" in problems(tmp_path, "[orgs\n")[0]


def test_embedded_file_ignores_other_tables(tmp_path: Path) -> None:
    """In the SIDECAR_CONFIG file, only [orgs] is read; [sidecar] belongs to Config."""
    path = write(
        tmp_path, '[sidecar]\nlog_level = "DEBUG"\n[orgs."7"]\nplan = "ultra"\n'
    )
    file = load_entitlements(path, embedded=True)
    assert [e.org_id for e in file.orgs] == [7]
    with pytest.raises(EntitlementsError, match="unknown top-level key 'sidecar'"):
        load_entitlements(path)


def test_malformed_url_and_duplicate_ids_are_problems_not_crashes() -> None:
    """A URL urllib cannot split, and two keys naming one org id, are listed problems."""
    data = {
        "orgs": {
            "1": {"slack_webhook_url": "env:BROKEN_URL"},
            "01": {"plan": "ultra"},
        }
    }
    with pytest.raises(EntitlementsError) as info:
        parse_entitlements(data, environ=ENVIRON)
    problems = " | ".join(info.value.problems)
    assert "org 1: slack_webhook_url" in problems
    assert "org 01: same organization id as org 1" in problems


def test_literal_secrets_are_refused_with_how_to(tmp_path: Path) -> None:
    """A routing key or webhook URL written into the file is refused, unechoed, with the env: way."""
    found = problems(
        tmp_path,
        f'[orgs."42"]\npagerduty_routing_key = "{KEY}"\n'
        'slack_webhook_url = "https://hooks.slack.com/services/T/B/HUSH"\n',
    )
    assert len(found) == 2
    text = "\n".join(found)
    assert KEY not in text and "HUSH" not in text
    assert 'pagerduty_routing_key = "env:VARIABLE"' in text
    assert 'slack_webhook_url = "env:VARIABLE"' in text


def test_unset_or_malformed_references_are_problems(tmp_path: Path) -> None:
    """env: naming an unset variable, or no valid name, is reported by variable name."""
    found = problems(
        tmp_path,
        '[orgs."42"]\npagerduty_routing_key = "env:NOT_SET_ANYWHERE"\n'
        '[orgs."43"]\nslack_webhook_url = "env:bad name"\n',
    )
    assert any("NOT_SET_ANYWHERE is not set" in p for p in found)
    assert any("org 43: slack_webhook_url" in p and "not a valid" in p for p in found)


def test_other_plans_may_hold_the_add_on(tmp_path: Path) -> None:
    """With SIDECAR_ORG_PLANS naming another plan, the file may give that plan the add-on."""
    text = '[orgs."42"]\nplan = "premier"\nenterprise_support = true\n'
    assert "'premier' is not one of" in problems(tmp_path, text)[0]
    file = load_entitlements(
        write(tmp_path, text), environ={}, eligible_plans=("premier", "enterprise")
    )
    assert file.orgs[0].plan == "premier"
