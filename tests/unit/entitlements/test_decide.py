"""The entitlement decision: precedence of file over Zendesk, dates, bad values."""

from __future__ import annotations

from datetime import date, timedelta

from sidecar.config import Secret
from sidecar.domain.models import Organization
from sidecar.entitlements import Entitlement, OrgEntitlement, decide

TODAY = date(2026, 6, 15)
PLAN, ENTERPRISE = "support_plan", "enterprise_support"


def org(**fields: object) -> Organization:
    return Organization(id=42, name="Acme", external_id="acme", fields=fields)


def entry(**values: object) -> OrgEntitlement:
    return OrgEntitlement(key="42", org_id=42, **values)  # type: ignore[arg-type]


def run(o: Organization | None, e: OrgEntitlement | None = None) -> Entitlement:
    return decide(o, e, today=TODAY, plan_field=PLAN, enterprise_field=ENTERPRISE)


def test_zendesk_fields_alone_entitle() -> None:
    """Plan enterprise with the Zendesk checkbox ticked is entitled, source zendesk."""
    result = run(org(support_plan="enterprise", enterprise_support=True))
    assert (
        result.entitled and result.source == "zendesk" and result.plan == "enterprise"
    )
    assert "support_plan" in result.reason and result.problem is None


def test_unticked_checkbox_is_not_entitled() -> None:
    """Without the add-on, even an Ultra org is not entitled."""
    for fields in (
        {"support_plan": "ultra"},
        {"support_plan": "ultra", ENTERPRISE: False},
    ):
        result = run(org(**fields))
        assert not result.entitled and result.source == "zendesk"
        assert "Enterprise Support is off" in result.reason


def test_file_overrides_zendesk_checkbox() -> None:
    """enterprise_support in the file wins over the Zendesk checkbox, both ways."""
    granted = run(org(support_plan="ultra"), entry(enterprise_support=True))
    assert granted.entitled and granted.source == "file+zendesk"
    assert (
        granted.enterprise_support_source == "file" and granted.plan_source == "zendesk"
    )
    revoked = run(
        org(support_plan="ultra", enterprise_support=True),
        entry(enterprise_support=False),
    )
    assert not revoked.entitled and revoked.source == "file"
    assert "entitlements file" in revoked.reason


def test_file_overrides_zendesk_plan() -> None:
    """The file's plan replaces a wrong plan in Zendesk."""
    result = run(
        org(support_plan="team", enterprise_support=True), entry(plan="enterprise")
    )
    assert (
        result.entitled and result.plan == "enterprise" and result.plan_source == "file"
    )


def test_file_alone_entitles() -> None:
    """Plan and add-on both from the file give source file."""
    result = run(org(), entry(plan="ultra", enterprise_support=True))
    assert result.entitled and result.source == "file"


def test_file_plan_too_low_for_zendesk_checkbox() -> None:
    """File plan team plus the Zendesk checkbox: not entitled, and no Zendesk fault."""
    result = run(org(enterprise_support=True), entry(plan="team"))
    assert not result.entitled and result.source == "file+zendesk"
    assert "'team'" in result.reason and result.problem is None


def test_enterprise_support_on_team_plan_in_zendesk_is_a_problem() -> None:
    """Zendesk saying add-on on plan team is not entitled and flags a problem."""
    result = run(org(support_plan="team", enterprise_support=True))
    assert not result.entitled and result.problem is not None
    assert "'team'" in result.problem and "support_plan" in result.reason


def test_unknown_plan_in_zendesk_is_a_problem() -> None:
    """An unknown plan value is not entitled, with a reason naming the field."""
    result = run(org(support_plan="platinum", enterprise_support=True))
    assert not result.entitled and result.source == "zendesk"
    assert "support_plan" in (result.problem or "") and "'platinum'" in result.reason


def test_non_boolean_checkbox_is_a_problem() -> None:
    """A checkbox value that is not a boolean is not entitled, naming the field."""
    result = run(org(support_plan="ultra", enterprise_support="yes"))
    assert not result.entitled and "enterprise_support" in (result.problem or "")


def test_missing_plan_with_add_on() -> None:
    """The add-on without any plan is not entitled."""
    result = run(org(enterprise_support=True))
    assert not result.entitled and "no plan" in result.reason


def test_plan_value_is_normalised() -> None:
    """Zendesk values are compared without case or surrounding spaces."""
    assert run(org(support_plan=" Enterprise ", enterprise_support=True)).entitled


def test_dates_bound_the_add_on() -> None:
    """Before the start or after the end day: not entitled; the end day counts."""
    zendesk = org(support_plan="ultra", enterprise_support=True)
    early = run(zendesk, entry(starts=TODAY + timedelta(days=1)))
    assert (
        not early.entitled
        and early.source == "file"
        and "starts on 2026-06-16" in early.reason
    )
    late = run(zendesk, entry(ends=TODAY - timedelta(days=1)))
    assert not late.entitled and "ended on 2026-06-14" in late.reason
    last_day = run(zendesk, entry(starts=TODAY, ends=TODAY))
    assert last_day.entitled and "until 2026-06-15" in last_day.reason


def test_extras_only_when_entitled() -> None:
    """Enhanced SLAs, Slack and CSM apply only to an entitled org; its routing key stays, to resolve a page where it opened."""
    extras = dict(
        sla_overrides={1: timedelta(minutes=30)},
        pagerduty_routing_key=Secret("k" * 32),
        slack_webhook_url=Secret("https://hooks.slack.com/services/x"),
        csm_user_id=7,
    )
    yes = run(org(support_plan="ultra"), entry(enterprise_support=True, **extras))
    assert yes.sla_overrides == {1: timedelta(minutes=30)}
    assert yes.routing_key == Secret("k" * 32) and yes.csm_user_id == 7
    assert yes.slack_webhook_url is not None
    no = run(org(support_plan="ultra"), entry(enterprise_support=False, **extras))
    assert not no.sla_overrides and no.routing_key == Secret("k" * 32)
    assert no.slack_webhook_url is None and no.csm_user_id is None


def test_no_organization() -> None:
    """A ticket without an organization is not entitled, source none."""
    result = run(None)
    assert not result.entitled and result.source == "none"


def test_file_entry_without_zendesk_org() -> None:
    """With only the file entry (Zendesk not read), the file decides."""
    result = run(None, entry(plan="enterprise", enterprise_support=True))
    assert result.entitled and result.org_id == 42
