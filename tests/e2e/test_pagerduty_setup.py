"""`sidecar pagerduty setup` against the fake PagerDuty REST API, as an admin runs it (issue 22)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from tests.fake_pagerduty import FakePagerDuty

TOKEN = "y_NbAkKc66ryYTWUXYEu"
URL = "https://sidecar.example.com/webhooks/pagerduty"


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(api_tokens=[TOKEN]) as fake:
        yield fake


def run(fake: FakePagerDuty, tmp_path: Path, *args: str, token: str = TOKEN) -> Result:
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "SIDECAR_PAGERDUTY_API_TOKEN": token,
        "SIDECAR_PAGERDUTY_API_URL": fake.base_url,
    }
    return CliRunner().invoke(main, ["pagerduty", "setup", *args], env=env)


def test_creates_once_prints_the_secret_once_then_checks(
    pagerduty: FakePagerDuty, tmp_path: Path
) -> None:
    """First run creates the subscription and prints its secret; the second finds it and writes nothing."""
    env_file = tmp_path / "sidecar.env"
    first = run(
        pagerduty,
        tmp_path,
        "--url",
        URL,
        "--service",
        "PSVC1",
        "--env-file",
        str(env_file),
    )
    assert first.exit_code == 0, first.output
    (subscription,) = pagerduty.subscriptions
    assert subscription.url == URL
    assert subscription.filter == {"type": "service_reference", "id": "PSVC1"}
    assert {"incident.acknowledged", "incident.annotated", "incident.triggered"} <= set(
        subscription.events
    )
    assert (
        f"SIDECAR_PAGERDUTY_WEBHOOK_SECRET={subscription.secrets[-1]}" in first.output
    )
    assert "created" in first.output
    assert subscription.secrets[-1] in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    # REST API "Authentication": the token header, exactly.
    assert all(
        headers.get("Authorization") == f"Token token={TOKEN}"
        for _, _, headers in pagerduty.rest_calls
    )

    second = run(
        pagerduty,
        tmp_path,
        "--url",
        URL,
        "--service",
        "PSVC1",
        "--env-file",
        str(env_file),
    )
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output
    assert subscription.secrets[-1] not in second.output
    assert len(pagerduty.subscriptions) == 1
    # The file keeps the secret the second run could not print.
    assert subscription.secrets[-1] in env_file.read_text()


def test_dry_run_writes_nothing(pagerduty: FakePagerDuty, tmp_path: Path) -> None:
    """--dry-run says what it would create; PagerDuty is only read."""
    result = run(pagerduty, tmp_path, "--url", URL, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create" in result.output and "dry run" in result.output
    assert pagerduty.subscriptions == []
    assert [m for m, _, _ in pagerduty.rest_calls] == ["GET"]


def test_a_subscription_missing_events_is_reported_not_changed(
    pagerduty: FakePagerDuty, tmp_path: Path
) -> None:
    """An existing subscription to the URL without the events the sidecar needs: exit 1 with the list."""
    pagerduty.subscribe(URL, events=["incident.triggered"])
    result = run(pagerduty, tmp_path, "--url", URL)
    assert result.exit_code == 1
    assert "differs" in result.output and "incident.acknowledged" in result.output


def test_a_wrong_token_and_a_bad_url_say_what_to_fix(
    pagerduty: FakePagerDuty, tmp_path: Path
) -> None:
    """401 names the setting; a URL PagerDuty cannot reach is refused before any call."""
    result = run(pagerduty, tmp_path, "--url", URL, token="wrong")
    assert result.exit_code != 0
    assert "SIDECAR_PAGERDUTY_API_TOKEN" in result.output and "401" in result.output
    calls = len(pagerduty.rest_calls)
    local = run(
        pagerduty, tmp_path, "--url", "http://127.0.0.1:8000/webhooks/pagerduty"
    )
    assert local.exit_code != 0 and "cannot reach" in local.output
    assert len(pagerduty.rest_calls) == calls


def test_a_subscription_of_another_scope_is_reported(
    pagerduty: FakePagerDuty, tmp_path: Path
) -> None:
    """The URL is subscribed for another service: differs (exit 1), nothing created."""
    assert run(pagerduty, tmp_path, "--url", URL, "--service", "PSVC1").exit_code == 0
    other = run(pagerduty, tmp_path, "--url", URL, "--service", "PSVC2")
    assert other.exit_code == 1
    assert "service_reference PSVC1, not service_reference PSVC2" in other.output
    assert len(pagerduty.subscriptions) == 1
