"""`sidecar doctor` against the strict doubles: healthy, then each line broken.

The healthy installation is made the way an admin makes it: `sidecar zendesk
setup` against FakeZendesk, its env lines kept, a queue the service created,
an entitlements file mapping a Slack channel and a routing key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.tasks.jobs import FailedJob
from sidecar.tasks.queue import JobQueue
from tests.fake_slack import APP_SCOPES, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fake_zendesk import FakeZendesk
from tests.fake_zendesk_admin import ADMIN_WRITES

URL = "https://sidecar.example.test/webhooks/zendesk"
CHANNEL = "C0ACME0001"
PD_KEY = "a" * 32
ORG_KEY = "b" * 32


@dataclass
class World:
    zendesk: FakeZendesk
    slack: FakeSlack
    env: dict[str, str | None]
    queue_file: Path
    tmp: Path

    def entitlements(self, text: str) -> None:
        path = self.tmp / "entitlements.toml"
        path.write_text(text)
        self.env["SIDECAR_ENTITLEMENTS_FILE"] = str(path)


ENTITLEMENTS = f"""
[orgs."ext:acme"]
plan = "enterprise"
enterprise_support = true
pagerduty_routing_key = "env:ACME_PD_KEY"
slack_channel = "{CHANNEL}"
"""


def _setup_env(zendesk: FakeZendesk) -> dict[str, str]:
    result = CliRunner().invoke(
        main,
        ["zendesk", "setup", "--url", URL],
        env={
            "SIDECAR_CONFIG": None,
            "SIDECAR_SEVERITY_FIELD_ID": None,
            "SIDECAR_DUE_AT_FIELD_ID": None,
            "SIDECAR_DUE_DATE_FIELD_ID": None,
            **zendesk.env(),
        },
    )
    assert result.exit_code == 0, result.output
    return {
        key: value
        for key, value in (
            line.split("=", 1) for line in result.output.splitlines() if "=" in line
        )
        if key.startswith("SIDECAR_")
    }


def _make_world(tmp_path: Path, slack: FakeSlack) -> Iterator[World]:
    with FakeZendesk() as zendesk:
        zendesk.empty_account()
        queue_file = tmp_path / "queue.db"
        JobQueue.from_url(f"sqlite:///{queue_file}").close()  # the service made it
        slack.add_channel(CHANNEL, members=set())
        env: dict[str, str | None] = {
            "SIDECAR_CONFIG": None,
            "SIDECAR_POLICY_FILE": None,
            **zendesk.env(),
            **_setup_env(zendesk),
            "SIDECAR_QUEUE_URL": f"sqlite:///{queue_file}",
            "SIDECAR_PAGERDUTY_ROUTING_KEY": PD_KEY,
            "ACME_PD_KEY": ORG_KEY,
            "SIDECAR_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SIDECAR_SLACK_BOT_TOKEN": BOT_TOKEN,
            "SIDECAR_SLACK_API_URL": slack.api_url,
        }
        world = World(zendesk, slack, env, queue_file, tmp_path)
        world.entitlements(ENTITLEMENTS)
        zendesk.reset_calls()
        yield world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeSlack() as slack:
        yield from _make_world(tmp_path, slack)


def doctor(world: World, *args: str, **env: str | None) -> Result:
    return CliRunner().invoke(
        main, ["doctor", "--url", URL, *args], env={**world.env, **env}
    )


def report(world: World, **env: str | None) -> dict[str, Any]:
    result = doctor(world, "--format", "json", **env)
    data: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == data["exit_code"]
    return data


def line(data: dict[str, Any], check: str) -> dict[str, Any]:
    found = [c for c in data["checks"] if c["check"] == check]
    assert len(found) == 1, (check, data["checks"])
    return found[0]


def not_ok(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["check"], c["status"]) for c in data["checks"] if c["status"] != "ok"]


# --- healthy --------------------------------------------------------------------------


def test_healthy_installation_is_all_ok_and_exits_0(world: World) -> None:
    """After setup, with a queue, keys and the bot in its channel, every line is ok."""
    result = doctor(world)
    assert result.exit_code == 0, result.output
    assert "warn" not in result.output.split("\n", 1)[1].replace("0 warn", "")
    assert f"sqlite {world.queue_file.resolve()}" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("ok: ")


def test_healthy_json_lists_every_section_and_the_calls_made(world: World) -> None:
    """JSON for monitoring: status, exit code, each line, and how many API calls."""
    data = report(world)
    assert (data["status"], data["exit_code"], not_ok(data)) == ("ok", 0, [])
    sections = {c["section"] for c in data["checks"]}
    assert sections == {"configuration", "queue", "zendesk", "pagerduty", "slack"}
    # Show Self, ticket fields, org fields, webhooks, 2 signing secrets, triggers.
    assert data["calls"] == {"zendesk": 7, "slack": 2}
    assert line(data, "API user id")["detail"].startswith(
        str(world.zendesk.api_user_id)
    )


def test_doctor_writes_nothing(world: World) -> None:
    """No Zendesk write, no signing-secret reset, no Slack post, no queue job."""
    queue = JobQueue.from_url(f"sqlite:///{world.queue_file}")
    before = (queue.depth(), queue.scheduled(), len(queue.failed_jobs()))
    assert doctor(world).exit_code == 0
    assert [c for c in world.zendesk.calls() if c.method in ADMIN_WRITES] == []
    assert {c.method for c in world.slack.calls()} == {
        "auth.test",
        "conversations.info",
    }
    assert (queue.depth(), queue.scheduled(), len(queue.failed_jobs())) == before
    queue.close()


# --- configuration ----------------------------------------------------------------------


def test_every_bad_setting_is_named_at_once(world: World) -> None:
    """Two bad values: two fail lines, each naming its variable."""
    data = report(
        world, SIDECAR_SEVERITY_FIELD_ID="90000O", SIDECAR_WEBHOOK_TOLERANCE="soon"
    )
    assert data["exit_code"] == 2
    assert line(data, "SIDECAR_SEVERITY_FIELD_ID")["status"] == "fail"
    assert (
        "SIDECAR_WEBHOOK_TOLERANCE" in line(data, "SIDECAR_WEBHOOK_TOLERANCE")["next"]
    )
    assert line(data, "other checks")["status"] == "fail"


def test_unknown_setting_warns(world: World) -> None:
    """A misspelt variable is not read by anything: warn."""
    data = report(world, SIDECAR_ZENDESK_SUBDOMIAN="acme")
    assert line(data, "unknown settings")["status"] == "warn"
    assert data["exit_code"] == 1


def test_bad_policy_file_fails(world: World) -> None:
    """A policy file that does not load: fail, pointing at `policy check`."""
    bad = world.tmp / "policy.toml"
    bad.write_text("[policies.x]\nsev1 = { target = 'soon' }\n")
    entry = line(report(world, SIDECAR_POLICY_FILE=str(bad)), "policy")
    assert entry["status"] == "fail" and "sidecar policy check" in entry["next"]


def test_bad_entitlements_file_fails(world: World) -> None:
    """A routing key reference to an unset variable rejects the file: fail."""
    entry = line(report(world, ACME_PD_KEY=None), "entitlements")
    assert entry["status"] == "fail" and "ACME_PD_KEY" in entry["detail"]


def test_plan_names_that_are_no_option_fail(world: World) -> None:
    """SIDECAR_ORG_PLANS with no real option: nobody can be entitled, fail."""
    entry = line(report(world, SIDECAR_ORG_PLANS="platinum"), "plans")
    assert entry["status"] == "fail" and "SIDECAR_ORG_PLANS" in entry["next"]


def test_one_plan_name_that_is_no_option_warns(world: World) -> None:
    """ultra,enterprise_plus: one name is no option of the plan field, warn naming it."""
    data = report(world, SIDECAR_ORG_PLANS="ultra,enterprise_plus")
    entry = line(data, "plans")
    assert entry["status"] == "warn" and "enterprise_plus" in entry["detail"]


def test_a_misspelt_plan_name_fails_as_configuration(world: World) -> None:
    """ultra,enterprize: a near miss of Zendesk's plan is a setting error, named."""
    data = report(world, SIDECAR_ORG_PLANS="ultra,enterprize")
    entry = line(data, "SIDECAR_ORG_PLANS")
    assert entry["status"] == "fail" and "enterprise" in entry["detail"]


# --- queue --------------------------------------------------------------------------------


def test_missing_queue_fails_and_is_not_created(world: World) -> None:
    """Run away from the service: fail with the absolute path, and no file appears."""
    missing = world.tmp / "elsewhere" / "queue.db"
    data = report(world, SIDECAR_QUEUE_URL=f"sqlite:///{missing}")
    entry = line(data, "reachable")
    assert entry["status"] == "fail" and str(missing.resolve()) in entry["detail"]
    assert "SIDECAR_QUEUE_URL" in entry["next"]
    assert not missing.exists() and not missing.parent.exists()


def test_unreachable_redis_queue_fails(world: World) -> None:
    """A Redis queue nobody answers for: fail, not a traceback."""
    data = report(world, SIDECAR_QUEUE_URL="redis://127.0.0.1:1/0")
    assert line(data, "reachable")["status"] == "fail"
    assert data["exit_code"] == 2


def test_dead_letters_warn(world: World) -> None:
    """A dead letter: warn, pointing at `jobs failed` and `jobs retry`."""
    queue = JobQueue.from_url(f"sqlite:///{world.queue_file}")
    queue.record_failed(
        FailedJob("j1", "reconcile", 7, "zendesk 500", 8, "2026-12-06", "2026-12-06")
    )
    queue.close()
    entry = line(report(world), "dead letters")
    assert entry["status"] == "warn" and "sidecar jobs failed" in entry["next"]


def test_queued_job_shows_depth_and_age(world: World) -> None:
    """A ready job counts in the depth and its age is shown."""
    queue = JobQueue.from_url(f"sqlite:///{world.queue_file}")
    queue.enqueue_reconcile(42)
    queue.close()
    data = report(world)
    assert line(data, "depth")["detail"].startswith("1 ready")
    assert line(data, "oldest job")["detail"].startswith("ready for")


# --- Zendesk --------------------------------------------------------------------------------


def test_zendesk_not_configured_is_a_skipped_warning(world: World) -> None:
    """No credentials: the section says what to set, warn."""
    entry = line(report(world, SIDECAR_ZENDESK_SUBDOMAIN=None), "connection")
    assert entry["status"] == "warn" and entry["detail"].startswith("skipped")
    assert "SIDECAR_ZENDESK_SUBDOMAIN" in entry["next"]


def test_wrong_token_fails_with_the_next_step(world: World) -> None:
    """Zendesk answers 401: fail naming the account, the user and what to check."""
    data = report(world, SIDECAR_ZENDESK_API_TOKEN="wrong")
    entry = line(data, "credentials")
    assert entry["status"] == "fail"
    assert world.zendesk.email in entry["detail"]
    assert "SIDECAR_ZENDESK_API_TOKEN" in entry["next"]


def test_unreachable_zendesk_fails(world: World) -> None:
    """Nothing listens at the URL: fail saying what to check."""
    entry = line(report(world, SIDECAR_ZENDESK_URL="http://127.0.0.1:1"), "credentials")
    assert entry["status"] == "fail" and "SIDECAR_ZENDESK_URL" in entry["next"]


def test_agent_api_user_warns(world: World) -> None:
    """An agent can update tickets but not read webhooks: warn."""
    zd = world.zendesk
    zd.add_user(zd.api_user_id, role="agent", name="Sidecar", email=zd.email)
    entry = line(report(world), "credentials")
    assert entry["status"] == "warn" and "admin" in entry["next"]


@pytest.mark.parametrize(("offset", "status"), [(-120, "warn"), (900, "fail")])
def test_clock_skew(world: World, offset: float, status: str) -> None:
    """Zendesk's Date header 2 min away warns; beyond the tolerance fails."""
    world.zendesk.date_offset_seconds = offset
    entry = line(report(world), "clock")
    assert entry["status"] == status and "NTP" in entry["next"]


def test_missing_field_fails(world: World) -> None:
    """A configured field id Zendesk does not have: fail naming the variable."""
    entry = line(
        report(world, SIDECAR_DUE_AT_FIELD_ID="999999"), "SIDECAR_DUE_AT_FIELD_ID"
    )
    assert entry["status"] == "fail" and "999999" in entry["detail"]


def test_wrong_field_type_fails(world: World) -> None:
    """The due-time variable pointing at the date field: fail, a text field is needed."""
    date_id = world.env["SIDECAR_DUE_DATE_FIELD_ID"]
    entry = line(
        report(world, SIDECAR_DUE_AT_FIELD_ID=date_id), "SIDECAR_DUE_AT_FIELD_ID"
    )
    assert entry["status"] == "fail" and "not a text field" in entry["detail"]


def test_unmapped_severity_option_fails(world: World) -> None:
    """An option whose tag is no severity: fail naming it."""
    field = world.zendesk.add_ticket_field(
        title="Priority-ish",
        type="tagger",
        options=[("SEV 1", "sev_1"), ("P1 urgent", "p1_urgent")],
    )
    entry = line(
        report(world, SIDECAR_SEVERITY_FIELD_ID=str(field)), "severity options"
    )
    assert entry["status"] == "fail" and "p1_urgent" in entry["detail"]


def _hook(world: World, name: str) -> str:
    return next(h["id"] for h in world.zendesk.webhook_list() if h["name"] == name)


def test_inactive_webhook_fails(world: World) -> None:
    """A deactivated webhook: fail, Zendesk sends nothing."""
    world.zendesk.edit_webhook(
        _hook(world, "Sidecar: ticket changes"), status="inactive"
    )
    entry = line(report(world), "webhook 'Sidecar: ticket changes'")
    assert entry["status"] == "fail" and "--repair" in entry["next"]


def test_webhook_pointing_elsewhere_fails(world: World) -> None:
    """A webhook whose endpoint is not --url: fail naming both."""
    hook = _hook(world, "Sidecar: organization events")
    world.zendesk.edit_webhook(
        hook, endpoint="https://old.example.test/webhooks/zendesk"
    )
    entry = line(report(world), "webhook 'Sidecar: organization events'")
    assert entry["status"] == "fail" and "old.example.test" in entry["detail"]


def test_signing_secret_not_configured_fails(world: World) -> None:
    """SIDECAR_WEBHOOK_SECRET without the webhook's secret: fail for each webhook."""
    data = report(world, SIDECAR_WEBHOOK_SECRET="not-the-secret")
    entry = line(data, "webhook 'Sidecar: ticket changes' secret")
    assert entry["status"] == "fail" and "SIDECAR_WEBHOOK_SECRET" in entry["next"]
    assert (
        line(data, "webhook 'Sidecar: organization events' secret")["status"] == "fail"
    )


def test_inactive_trigger_fails(world: World) -> None:
    """The trigger calling the webhook is off: fail."""
    trigger = world.zendesk.trigger_list()[0]["id"]
    world.zendesk.edit_trigger(trigger, active=False)
    entry = line(report(world), "trigger")
    assert entry["status"] == "fail" and entry["detail"].startswith("inactive")


def test_low_rate_limit_headroom_warns(tmp_path: Path) -> None:
    """The account's limit nearly spent (Zendesk's headers): warn, with the calls made."""
    with FakeSlack() as slack:
        for world in _make_world(tmp_path, slack):
            # Setup's calls are in the window too: a fresh, tight limit for doctor.
            world.zendesk._account_requests = type(world.zendesk._account_requests)(
                7, 60.0, world.zendesk._rate_clock
            )
            entry = line(report(world), "budget")
            assert entry["status"] == "warn" and "7 Zendesk call(s)" in entry["detail"]


# --- PagerDuty ----------------------------------------------------------------------------


def test_malformed_routing_key_fails(world: World) -> None:
    """A default key that is not 32 characters: fail, without echoing it."""
    data = report(world, SIDECAR_PAGERDUTY_ROUTING_KEY="too-short-key")
    entry = line(data, "SIDECAR_PAGERDUTY_ROUTING_KEY")
    assert entry["status"] == "fail" and "13 characters" in entry["detail"]
    assert "too-short-key" not in json.dumps(data)


def test_entitled_org_without_any_key_fails(world: World) -> None:
    """An entitled organization with no key of its own and no default: fail naming it."""
    world.entitlements('[orgs."ext:beta"]\nplan = "ultra"\nenterprise_support = true\n')
    entry = line(
        report(world, SIDECAR_PAGERDUTY_ROUTING_KEY=None), "entitled organizations"
    )
    assert entry["status"] == "fail" and "ext:beta" in entry["detail"]


def test_pagerduty_not_configured_is_a_skipped_warning(world: World) -> None:
    """No key anywhere: warn, saying what to set."""
    world.entitlements("")
    entry = line(report(world, SIDECAR_PAGERDUTY_ROUTING_KEY=None), "routing keys")
    assert (
        entry["status"] == "warn" and "SIDECAR_PAGERDUTY_ROUTING_KEY" in entry["next"]
    )


# --- Slack ------------------------------------------------------------------------------------


def test_wrong_slack_token_fails(world: World) -> None:
    """invalid_auth from auth.test: fail naming SIDECAR_SLACK_BOT_TOKEN."""
    entry = line(report(world, SIDECAR_SLACK_BOT_TOKEN="xoxb-wrong"), "token")
    assert entry["status"] == "fail" and "SIDECAR_SLACK_BOT_TOKEN" in entry["next"]


def test_missing_slack_scope_fails(tmp_path: Path) -> None:
    """The token lacks users:read.email (x-oauth-scopes): fail naming it."""
    scopes = tuple(s for s in APP_SCOPES if s != "users:read.email")
    with FakeSlack(scopes=scopes) as slack:
        for world in _make_world(tmp_path, slack):
            entry = line(report(world), "scopes")
            assert entry["status"] == "fail" and "users:read.email" in entry["detail"]


def test_bot_not_in_channel_fails(world: World) -> None:
    """A mapped public channel without the bot: fail, /invite."""
    world.slack.add_channel(CHANNEL, members={"U0CUSTOMER"}, bot=False)
    entry = line(report(world), f"channel {CHANNEL}")
    assert entry["status"] == "fail" and "/invite" in entry["next"]


def test_private_channel_without_the_bot_fails(world: World) -> None:
    """A private channel the bot is not in reads as channel_not_found: fail."""
    world.slack.add_channel(CHANNEL, members={"U0CUSTOMER"}, bot=False, private=True)
    entry = line(report(world), f"channel {CHANNEL}")
    assert entry["status"] == "fail" and "channel_not_found" in entry["detail"]


def test_slack_not_configured_with_mapped_channels_warns(world: World) -> None:
    """Channels mapped in the file but no Slack app: warn, saying what to set."""
    entry = line(report(world, SIDECAR_SLACK_BOT_TOKEN=None), "app")
    assert entry["status"] == "warn" and "SIDECAR_SLACK_BOT_TOKEN" in entry["next"]


# --- output ---------------------------------------------------------------------------------


def test_text_output_gives_the_next_step_under_a_failure(world: World) -> None:
    """A person reads the failing line and, under it, what to do."""
    result = doctor(world, SIDECAR_PAGERDUTY_ROUTING_KEY="short")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    at = next(i for i, text in enumerate(lines) if text.lstrip().startswith("fail"))
    assert "-> " in lines[at + 1] and "SIDECAR_PAGERDUTY_ROUTING_KEY" in lines[at + 1]
    assert lines[-1].startswith("fail: ")


def test_a_severity_without_an_option_fails_with_slack_on(world: World) -> None:
    """Slack tickets carry the account's own tags: a severity with no option fails."""
    field = world.zendesk.add_ticket_field(
        title="Severity, four levels",
        type="tagger",
        options=[(f"SEV {n}", f"sev_{n}") for n in range(1, 5)],
    )
    entry = line(
        report(world, SIDECAR_SEVERITY_FIELD_ID=str(field)), "severity options"
    )
    assert entry["status"] == "fail" and "SEV 5" in entry["detail"]


def test_a_severity_without_an_option_warns_without_slack(world: World) -> None:
    """Without the Slack app nothing writes the missing severity: a warning."""
    field = world.zendesk.add_ticket_field(
        title="Severity, four levels",
        type="tagger",
        options=[(f"SEV {n}", f"sev_{n}") for n in range(1, 5)],
    )
    entry = line(
        report(
            world,
            SIDECAR_SEVERITY_FIELD_ID=str(field),
            SIDECAR_SLACK_BOT_TOKEN=None,
            SIDECAR_SLACK_SIGNING_SECRET=None,
        ),
        "severity options",
    )
    assert entry["status"] == "warn" and "SEV 5" in entry["detail"]


def test_membership_without_read_scopes_warns(tmp_path: Path) -> None:
    """A token without channels:read cannot be asked about membership: warn, not fail."""
    scopes = tuple(s for s in APP_SCOPES if s not in ("channels:read", "groups:read"))
    with FakeSlack(scopes=scopes) as slack:
        for world in _make_world(tmp_path, slack):
            data = report(world)
            entry = line(data, f"channel {CHANNEL}")
            assert entry["status"] == "warn" and "channels:read" in entry["detail"]
            assert line(data, "scopes")["status"] == "fail"
