"""The doctor's checks as pure functions of what was read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sidecar.config import Config
from sidecar.doctor import checks
from sidecar.doctor.checks import (
    ChannelState,
    FieldWant,
    HookState,
    Line,
    OrgKeys,
    QueueState,
    Status,
)
from sidecar.errors import ConfigError


def statuses(lines: list[Line]) -> list[str]:
    return [line.status.label for line in lines]


def test_settings_parsed_one_by_one_name_every_bad_one() -> None:
    """Each variable parsed on its own: both bad ones are named; the whole is not tried."""
    lines = checks.check_settings(
        {
            "SIDECAR_WEBHOOK_TOLERANCE": "x",
            "SIDECAR_ORG_CACHE_SECONDS": "y",
            "PATH": "/",
        },
        parse=Config.from_env,
    )
    assert [line.check for line in lines] == [
        "SIDECAR_ORG_CACHE_SECONDS",
        "SIDECAR_WEBHOOK_TOLERANCE",
    ]
    assert statuses(lines) == ["fail", "fail"]


def test_settings_rule_across_settings_fails_as_a_whole() -> None:
    """Values that parse alone but not together: one fail line from the whole parse."""
    seen: list[Mapping[str, str]] = []

    def parse(environ: Mapping[str, str]) -> Config:
        seen.append(dict(environ))
        if len(environ) > 1:
            raise ConfigError("A and B disagree")
        return Config()

    env = {"SIDECAR_DRY_RUN": "1", "SIDECAR_PORT": "1", "PORT": "8000"}
    lines = checks.check_settings(env, parse=parse)
    assert next((line.check, line.detail) for line in lines) == (
        "settings",
        "A and B disagree",
    )
    assert env in seen


def test_settings_all_good_is_one_ok_line() -> None:
    """Nothing wrong: one ok line counting the settings set."""
    lines = checks.check_settings({"SIDECAR_DRY_RUN": "1"}, parse=Config.from_env)
    assert statuses(lines) == ["ok"] and "1 set" in lines[0].detail


def test_stale_oldest_job_warns() -> None:
    """A job ready for 10 minutes: no worker takes jobs, warn."""
    lines = checks.check_queue(
        QueueState(where="sqlite /q.db", depth=1, oldest_ready_age=600)
    )
    oldest = next(line for line in lines if line.check == "oldest job")
    assert oldest.status is Status.WARN and "sidecar worker" in oldest.next_step


def test_plan_field_of_the_wrong_type_fails() -> None:
    """The plan key names a text field: fail, point SIDECAR_ORG_PLAN_FIELD elsewhere."""
    lines = checks.check_plans(
        ("ultra",),
        [{"key": "support_plan", "type": "text"}, {"key": "es", "type": "checkbox"}],
        plan_field="support_plan",
        enterprise_field="es",
    )
    assert statuses(lines) == ["fail", "ok"]
    assert "SIDECAR_ORG_PLAN_FIELD" in lines[0].next_step


def test_missing_enterprise_checkbox_fails() -> None:
    """No Enterprise Support checkbox: fail naming SIDECAR_ORG_ENTERPRISE_FIELD."""
    plan = {
        "key": "p",
        "type": "dropdown",
        "custom_field_options": [{"name": "Ultra", "value": "ultra"}],
    }
    lines = checks.check_plans(
        ("ultra",), [plan], plan_field="p", enterprise_field="es"
    )
    assert statuses(lines) == ["ok", "fail"]
    assert "SIDECAR_ORG_ENTERPRISE_FIELD" in lines[1].next_step


def test_inactive_field_fails_and_unset_optional_is_ok() -> None:
    """An inactive configured field fails; an optional one not set is ok."""
    wanted = [
        FieldWant("SIDECAR_DUE_AT_FIELD_ID", 5, "text", True),
        FieldWant("SIDECAR_DUE_DATE_FIELD_ID", None, "date", False),
        FieldWant("SIDECAR_SEVERITY_FIELD_ID", None, "tagger", True),
    ]
    lines = checks.check_fields(
        wanted, [{"id": 5, "type": "text", "title": "Due", "active": False}]
    )
    assert statuses(lines) == ["fail", "ok", "fail"]
    assert "inactive" in lines[0].detail
    assert "SIDECAR_SEVERITY_FIELD_ID" in lines[2].next_step


def test_severity_options_missing_a_level_warn() -> None:
    """Options for SEV 1-4 only: warn naming SEV 5."""
    field = {
        "id": 1,
        "type": "tagger",
        "custom_field_options": [
            {"name": f"SEV {n}", "value": f"sev_{n}"} for n in (1, 2, 3, 4)
        ],
    }
    line = checks.check_severity_options(1, [field])
    assert line is not None and line.status is Status.WARN and "SEV 5" in line.detail


def test_no_sidecar_webhook_fails() -> None:
    """No webhook at all: fail, run setup with the URL."""
    lines = checks.check_webhooks(
        [], url="https://x/webhooks/zendesk", secrets_set=True
    )
    assert (
        statuses(lines) == ["fail"]
        and "zendesk setup --url https://x" in lines[0].next_step
    )


def test_webhook_secret_unset_fails() -> None:
    """SIDECAR_WEBHOOK_SECRET unset: every delivery is refused, fail."""
    hook = HookState("01A", "h", "active", "https://x/webhooks/zendesk", False)
    lines = checks.check_webhooks([hook], url=None, secrets_set=False)
    assert statuses(lines) == ["ok", "fail"]
    assert "--url not given" in lines[0].detail


def test_trigger_for_another_webhook_is_no_trigger() -> None:
    """A trigger that notifies some other webhook does not count."""
    trigger = {
        "id": 9,
        "title": "Other",
        "active": True,
        "actions": [{"field": "notification_webhook", "value": ["01OTHER", "{}"]}],
    }
    line = checks.check_trigger([trigger], hook_ids=["01OURS"], url=None)
    assert line.status is Status.FAIL and "no trigger" in line.detail


def test_budget_without_headers_warns() -> None:
    """No rate-limit headers (a proxy stripped them): warn, still saying the calls made."""
    line = checks.check_budget({}, share=350, low_water=0.1, calls=7)
    assert line.status is Status.WARN and "7 Zendesk call(s)" in line.detail


def test_org_without_key_is_fine_with_a_default() -> None:
    """Organizations without their own key resolve the default one."""
    lines = checks.check_pagerduty(
        default_key_length=32, default_key_ok=True, orgs=[OrgKeys("org 1", False)]
    )
    assert statuses(lines) == ["ok", "ok"]


def test_pagerduty_webhook_secret_lines() -> None:
    """Paging without the webhook secret says the way back is off (optional); a rotation says so."""
    missing = checks.check_pagerduty_webhooks(secrets=0, paging=True)
    assert missing.status is Status.OK and "pagerduty setup" in missing.detail
    assert checks.check_pagerduty_webhooks(secrets=0, paging=False).status is Status.OK
    rotating = checks.check_pagerduty_webhooks(secrets=2, paging=True)
    assert rotating.status is Status.OK and "rotation" in rotating.detail


def test_slack_scopes_unknown_warn() -> None:
    """No x-oauth-scopes header: warn, compare with the manifest."""
    lines = checks.check_slack_identity(user_id="U1", team="T", scopes=None)
    assert statuses(lines) == ["ok", "warn"]


def test_membership_not_checkable_without_read_scopes_warns() -> None:
    """conversations.info refused for a scope: warn, not a false failure."""
    lines = checks.check_channels([ChannelState("C1", "org 1", error="missing_scope")])
    assert statuses(lines) == ["warn"] and "channels:read" in lines[0].detail


@given(st.floats(min_value=-10_000, max_value=10_000), st.floats(0, 10_000))
def test_clock_status_never_improves_as_skew_grows(skew: float, more: float) -> None:
    """A larger skew is never judged better than a smaller one."""
    nearer = checks.check_clock(skew, tolerance_seconds=300).status
    farther = checks.check_clock(
        skew + (more if skew >= 0 else -more), tolerance_seconds=300
    )
    assert farther.status >= nearer


@given(st.lists(st.sampled_from(list(Status))))
def test_exit_status_is_the_worst_line(found: list[Status]) -> None:
    """The report's status is its worst line's, OK when there is none."""
    lines = [Line("s", "c", status, "d") for status in found]
    assert checks.worst(lines) == max(found, default=Status.OK)


def test_doctor_asks_for_exactly_the_manifests_scopes() -> None:
    """The scopes doctor requires are the bot scopes deploy/slack-manifest.yaml requests."""
    manifest = (
        Path(__file__).parents[2] / "deploy" / "slack-manifest.yaml"
    ).read_text()
    bot = manifest.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    listed = re.findall(r"^\s+- ([a-z.:_]+)", bot, flags=re.M)
    assert sorted(listed) == sorted(checks.APP_SCOPES)


def test_an_unexpected_error_in_a_section_is_one_fail_line() -> None:
    """A sidecar error no check foresaw becomes a fail line, not a traceback."""
    from sidecar.doctor.gather import _guarded

    def boom() -> list[Line]:
        raise ConfigError("SIDECAR_SLACK_API_URL: not a URL")

    lines = _guarded(checks.SLACK, boom)
    assert statuses(lines) == ["fail"] and "SIDECAR_SLACK_API_URL" in lines[0].detail


def test_a_refused_credential_flag_warns_with_how_it_clears() -> None:
    """A service's `<service>_auth_failed` flag is a warning naming the service and the way out."""
    lines = checks.check_queue(
        QueueState(
            where="sqlite /q.db", refused=(("slack", "2026-12-06T10:00:00+00:00"),)
        )
    )
    (refused,) = [line for line in lines if line.check == "credentials"]
    assert refused.status is Status.WARN and "slack" in refused.detail
    assert "jobs retry" in refused.next_step
