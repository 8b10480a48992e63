"""The entitlements store keeps the last good file and decides from it."""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path

import pytest

from sidecar.config import Config
from sidecar.domain.models import Organization
from sidecar.entitlements import EntitlementsError, EntitlementsStore

TODAY = date(2026, 6, 15)
ACME = Organization(
    id=42, name="Acme", external_id="ACME", fields={"support_plan": "ultra"}
)


def write(path: Path, text: str) -> None:
    path.write_text(text)
    # Make the change visible to the stamp even within one clock tick.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_from_config_loads_the_file(tmp_path: Path) -> None:
    """SIDECAR_ENTITLEMENTS_FILE is loaded with the configured field keys."""
    path = tmp_path / "e.toml"
    write(path, '[orgs."ext:acme"]\nenterprise_support = true\n')
    store = EntitlementsStore.from_config(
        Config(entitlements_file=str(path), org_plan_field="tier")
    )
    plain = Organization(
        id=42, name="Acme", external_id="ACME", fields={"tier": "ultra"}
    )
    decided = store.for_org(plain, today=TODAY)
    assert decided.entitled and decided.source == "file+zendesk"


def test_from_config_rejects_a_bad_file_at_start(tmp_path: Path) -> None:
    """A bad file at startup is an error, not silently ignored."""
    path = tmp_path / "e.toml"
    write(path, '[orgs."42"]\nplan = "nope"\n')
    with pytest.raises(EntitlementsError):
        EntitlementsStore.from_config(Config(entitlements_file=str(path)))


def test_orgs_in_the_config_file(tmp_path: Path) -> None:
    """Without SIDECAR_ENTITLEMENTS_FILE the [orgs] of SIDECAR_CONFIG are read."""
    path = tmp_path / "sidecar.toml"
    write(
        path, '[sidecar]\nlog_level = "INFO"\n[orgs."42"]\nenterprise_support = true\n'
    )
    store = EntitlementsStore.from_config(Config(config_file=str(path)))
    assert store.for_org(ACME, today=TODAY).entitled


def test_no_file_means_zendesk_only() -> None:
    """Without any file the Zendesk fields decide."""
    store = EntitlementsStore.from_config(Config())
    assert store.loaded and store.file.orgs == ()
    decided = store.for_org(ACME, today=TODAY)
    assert not decided.entitled and decided.source == "zendesk"
    assert store.reload() == [] and store.reload_if_changed() == []


def test_reload_keeps_last_good_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad edit is rejected whole; the last good file stays in force, and says so."""
    path = tmp_path / "e.toml"
    write(path, '[orgs."42"]\nenterprise_support = true\n')
    store = EntitlementsStore(path)
    assert store.reload() == []
    write(path, '[orgs."42"]\nenterprise_support = false\nplan = "gold"\n')
    with caplog.at_level(logging.ERROR, logger="sidecar.entitlements"):
        problems = store.reload()
    assert any("plan" in p for p in problems)
    assert "keeping the last good version" in problems[-1]
    assert "keeping the last good version" in caplog.text
    assert store.for_org(ACME, today=TODAY).entitled  # the good version still holds


def test_reload_applies_a_good_edit(tmp_path: Path) -> None:
    """A valid edit replaces the file in force."""
    path = tmp_path / "e.toml"
    write(path, '[orgs."42"]\nenterprise_support = true\n')
    store = EntitlementsStore(path)
    store.load()
    write(path, '[orgs."42"]\nenterprise_support = false\n')
    assert store.reload_if_changed() == []
    assert not store.for_org(ACME, today=TODAY).entitled


def test_first_load_failure_says_no_good_version(tmp_path: Path) -> None:
    """When no version was ever good, reload says Zendesk alone decides."""
    path = tmp_path / "e.toml"
    write(path, "not toml [")
    store = EntitlementsStore(path)
    problems = store.reload()
    assert not store.loaded and "Zendesk fields only" in problems[-1]


def test_reload_if_changed_skips_an_unchanged_file(tmp_path: Path) -> None:
    """An untouched file is not read again."""
    path = tmp_path / "e.toml"
    write(path, '[orgs."42"]\nenterprise_support = true\n')
    store = EntitlementsStore(path)
    first = store.load()
    assert store.reload_if_changed() == []
    assert store.file is first
