"""Tests for sidecar.config: one read of the environment and the SIDECAR_CONFIG file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.config import (
    DEFAULT_QUEUE_URL,
    Config,
    InvalidSetting,
    Secret,
    expected_form,
    settings_table,
)
from sidecar.errors import ConfigError


def test_defaults_are_the_embedded_ones() -> None:
    """An empty environment gives the SQLite queue, port 8000 and no Zendesk connection."""
    config = Config.from_env({})
    assert config.queue_url == DEFAULT_QUEUE_URL
    assert config.port == 8000
    assert config.at_risk_fraction == 0.75
    assert not config.zendesk_connected
    assert config.webhook_secret is None


def test_environment_values_are_parsed() -> None:
    """Typed settings are converted from their strings."""
    config = Config.from_env(
        {
            "PORT": "9001",
            "SIDECAR_SEVERITY_FIELD_ID": "360001",
            "SIDECAR_DRY_RUN": "yes",
            "SIDECAR_AT_RISK_FRACTION": "0.5",
            "SIDECAR_DUE_DATE_FIELD_ID": "",
        }
    )
    assert (config.port, config.severity_field_id, config.dry_run) == (
        9001,
        360001,
        True,
    )
    assert config.at_risk_fraction == 0.5
    assert config.due_date_field_id is None


def test_file_settings_apply_and_the_environment_wins(tmp_path: Path) -> None:
    """[sidecar] settings in SIDECAR_CONFIG apply; an environment variable overrides them."""
    path = tmp_path / "sidecar.toml"
    path.write_text(
        '[sidecar]\nport = 9100\nqueue_url = "sqlite:///x.db"\ndry_run = true\n'
    )
    config = Config.from_env({"SIDECAR_CONFIG": str(path), "PORT": "9200"})
    assert config.port == 9200
    assert config.queue_url == "sqlite:///x.db"
    assert config.dry_run is True
    assert config.config_file == str(path)


def test_unknown_file_setting_is_named(tmp_path: Path) -> None:
    """A typo in the file is an error that names the file and the key."""
    path = tmp_path / "sidecar.toml"
    path.write_text("[sidecar]\nqueue_ulr = 'x'\n")
    with pytest.raises(
        ConfigError, match=r"sidecar\.toml: \[sidecar\] unknown setting\(s\): queue_ulr"
    ):
        Config.from_env({"SIDECAR_CONFIG": str(path)})


def test_unreadable_or_invalid_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing file and a file that is not TOML each give a one-line reason."""
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_env({"SIDECAR_CONFIG": str(tmp_path / "missing.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("[sidecar\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_env({"SIDECAR_CONFIG": str(bad)})


@pytest.mark.parametrize(
    ("variable", "value", "expected", "example"),
    [
        ("SIDECAR_SEVERITY_FIELD_ID", "90000O", "a numeric id", "=360001234567"),
        ("SIDECAR_DRY_RUN", "maybe", "a boolean", "SIDECAR_DRY_RUN=true"),
        ("SIDECAR_RETRY_BASE_SECONDS", "5s", "a number of seconds", "=5.0"),
        ("SIDECAR_AT_RISK_FRACTION", "75%", "a fraction between 0 and 1", "=0.75"),
        ("PORT", "80a", "a whole number", "PORT=8000"),
        ("SIDECAR_LOG_LEVEL", "verbose", "a log level: DEBUG, INFO", "=INFO"),
    ],
)
def test_bad_value_names_the_setting_the_value_the_form_and_an_example(
    variable: str, value: str, expected: str, example: str
) -> None:
    """An unparseable value is named with its variable, what it should be, and an example."""
    with pytest.raises(InvalidSetting) as info:
        Config.from_env({variable: value})
    message = str(info.value)
    assert f"{variable}={value!r}" in message
    assert f"expected {expected}" in message and example in message
    assert "ValueError" not in message
    assert info.value.setting == variable


def test_a_bad_value_in_the_file_is_named_by_file_and_key(tmp_path: Path) -> None:
    """From SIDECAR_CONFIG, the error names the file, the key and a line to write."""
    path = tmp_path / "sidecar.toml"
    path.write_text('[sidecar]\ndry_run = "maybe"\n')
    with pytest.raises(ConfigError) as info:
        Config.from_env({"SIDECAR_CONFIG": str(path)})
    assert f"{path}: [sidecar] dry_run='maybe' is not valid" in str(info.value)
    assert "dry_run = 'true'" in str(info.value)


def test_log_levels_are_the_real_ones() -> None:
    """SIDECAR_LOG_LEVEL takes logging's level names, in any case, and nothing else."""
    assert Config.from_env({"SIDECAR_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    with pytest.raises(ConfigError, match="SIDECAR_LOG_LEVEL='verbose'"):
        Config.from_env({"SIDECAR_LOG_LEVEL": "verbose"})


def test_a_misspelt_plan_is_refused_and_a_custom_one_is_warned_about() -> None:
    """'enterprize' would silently keep Enterprise orgs from paging: refused, with the fix."""
    with pytest.raises(ConfigError) as info:
        Config.from_env({"SIDECAR_ORG_PLANS": "ultra,enterprize"})
    assert "'enterprize' is not a Zendesk plan (did you mean 'enterprise'?)" in str(
        info.value
    )
    assert Config.from_env({}).warnings() == []
    # A custom option tag that merely starts like a plan is not a typo.
    assert Config.from_env({"SIDECAR_ORG_PLANS": "enterprise_plus"}).eligible_plans == (
        "enterprise_plus",
    )
    custom = Config.from_env({"SIDECAR_ORG_PLANS": "ultra,premier_plus"})
    (warning,) = custom.warnings()
    assert "'premier_plus' is not a Zendesk plan" in warning
    assert "'support_plan' field" in warning


def test_expected_form_is_known_for_every_typed_setting() -> None:
    """Every setting that can be refused has an expected form and an example to show."""
    for variable, _, _ in settings_table():
        expected, example = expected_form(variable)
        assert expected
        if expected != "text":
            assert example, variable


def test_secrets_never_print() -> None:
    """Secrets render as <SECRET> in repr, str and the config's repr."""
    config = Config.from_env(
        {
            "SIDECAR_ZENDESK_API_TOKEN": "tok-123",
            "SIDECAR_WEBHOOK_SECRET": "whsec-456",
            "SIDECAR_PAGERDUTY_ROUTING_KEY": "rk-789",
        }
    )
    shown = repr(config) + str(config) + f"{config.zendesk_api_token}"
    for secret in ("tok-123", "whsec-456", "rk-789"):
        assert secret not in shown
    assert repr(Secret("x")) == str(Secret("x")) == "<SECRET>"
    assert config.zendesk_api_token is not None
    assert config.zendesk_api_token.reveal() == "tok-123"


def test_connected_needs_subdomain_and_credentials() -> None:
    """Zendesk counts as connected with a subdomain and either email + token or an OAuth token."""
    assert Config.from_env(
        {"SIDECAR_ZENDESK_SUBDOMAIN": "acme", "SIDECAR_ZENDESK_OAUTH_TOKEN": "o"}
    ).zendesk_connected
    assert Config.from_env(
        {
            "SIDECAR_ZENDESK_SUBDOMAIN": "acme",
            "SIDECAR_ZENDESK_EMAIL": "a@b",
            "SIDECAR_ZENDESK_API_TOKEN": "t",
        }
    ).zendesk_connected
    assert not Config.from_env(
        {"SIDECAR_ZENDESK_SUBDOMAIN": "acme", "SIDECAR_ZENDESK_EMAIL": "a@b"}
    ).zendesk_connected


def test_settings_table_documents_every_variable() -> None:
    """The README's configuration table lists every setting with a meaning."""
    rows = settings_table()
    names = [name for name, _, _ in rows]
    assert "SIDECAR_WEBHOOK_SECRET" in names and "PORT" in names
    assert len(names) == len(set(names))
    assert all(doc for _, _, doc in rows)


def test_out_of_range_values_are_refused_with_their_variable() -> None:
    """An at-risk fraction outside 0..1 and an unknown time zone are refused at startup."""
    with pytest.raises(
        ConfigError, match="SIDECAR_AT_RISK_FRACTION must be between 0 and 1"
    ):
        Config.from_env({"SIDECAR_AT_RISK_FRACTION": "75"})
    with pytest.raises(ConfigError, match="SIDECAR_DUE_DATE_TIMEZONE='Mars/Olympus'"):
        Config.from_env({"SIDECAR_DUE_DATE_TIMEZONE": "Mars/Olympus"})


def test_secrets_may_not_come_from_the_file(tmp_path: Path) -> None:
    """A secret in the SIDECAR_CONFIG file is refused, naming the variable to use instead."""
    path = tmp_path / "sidecar.toml"
    path.write_text('[sidecar]\nzendesk_api_token = "tok-123"\n')
    with pytest.raises(
        ConfigError,
        match="secrets come from the environment only: set SIDECAR_ZENDESK_API_TOKEN",
    ) as info:
        Config.from_env({"SIDECAR_CONFIG": str(path)})
    assert "tok-123" not in str(info.value)
