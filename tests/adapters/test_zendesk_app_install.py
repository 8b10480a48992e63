"""`sidecar zendesk setup --app`: the sidebar app through the Apps API, against FakeZendesk."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sidecar.cli import main
from sidecar.zendesk.app_install import APP_DIR
from tests.fake_zendesk import FakeZendesk
from tests.fake_zendesk_admin import ADMIN_WRITES

URL = "https://sidecar.example.test/webhooks/zendesk"
APP_SECRET = "app-secret-for-setup-0123456789"


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    """An empty account set up once (fields, webhooks...), build jobs done at first poll."""
    with FakeZendesk() as fake:
        fake.empty_account()
        fake.app_job_polls = 0
        yield fake


@pytest.fixture
def env(zendesk: FakeZendesk) -> dict[str, str | None]:
    """The environment after a first setup: its field ids, and the app's secret."""
    base: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_SEVERITY_FIELD_ID": None,
        "SIDECAR_DUE_AT_FIELD_ID": None,
        "SIDECAR_DUE_DATE_FIELD_ID": None,
        **zendesk.env(),
    }
    first = CliRunner().invoke(main, ["zendesk", "setup", "--url", URL], env=base)
    assert first.exit_code == 0, first.output
    lines = dict(
        line.split("=", 1)
        for line in first.output.splitlines()
        if line.startswith("SIDECAR_") and "FIELD_ID" in line
    )
    return {**base, **lines, "SIDECAR_APP_SECRET": APP_SECRET}


def run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(main, ["zendesk", "setup", "--url", URL, *args], env=env)


def app_writes(zendesk: FakeZendesk) -> list[str]:
    return [
        f"{c.method} {c.path}"
        for c in zendesk.calls()
        if c.method in ADMIN_WRITES and "/apps" in c.path
    ]


def test_dry_run_shows_the_app_and_writes_nothing(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """--dry-run lists the app and its installation to create; no Apps API write."""
    result = run(env, "--app", str(APP_DIR), "--dry-run")
    assert result.exit_code == 0, result.output
    assert re.search(r"^app +Sidecar SLA +create .*version 1.0.0", result.output, re.M)
    assert "app installation" in result.output
    assert app_writes(zendesk) == []


def test_first_run_uploads_builds_and_installs_with_the_settings(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """Upload, create (job), install: the settings carry URL, secret and field ids."""
    result = run(env, "--app", str(APP_DIR))
    assert result.exit_code == 0, result.output
    assert app_writes(zendesk) == [
        "POST /api/v2/apps/uploads.json",
        "POST /api/v2/apps.json",
        "POST /api/v2/apps/installations.json",
    ]
    (app,) = zendesk.app_list()
    assert (app["name"], app["version"]) == ("Sidecar SLA", "1.0.0")
    (inst,) = zendesk.installation_list()
    assert inst["app_id"] == app["id"]
    assert inst["settings"] == {
        "name": "Sidecar SLA",
        "sidecar_url": "https://sidecar.example.test",
        "sidecar_secret": APP_SECRET,
        "severity_field_id": int(str(env["SIDECAR_SEVERITY_FIELD_ID"])),
        "due_at_field_id": int(str(env["SIDECAR_DUE_AT_FIELD_ID"])),
    }
    assert APP_SECRET not in result.output


def test_the_package_holds_the_app_and_not_its_tooling(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """The zip has the manifest, translations and assets; no node_modules, tests or package.json."""
    run(env, "--app", str(APP_DIR))
    (upload,) = zendesk.calls(method="POST", path_contains="/apps/uploads")
    data = upload.json["uploaded_data"]  # the multipart form, as the fake parsed it
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"manifest.json", "translations/en.json", "assets/iframe.html"} <= names
    assert "assets/sla.js" in names and "assets/app.js" in names
    assert not any(n.startswith(("node_modules", "test/", "package")) for n in names), (
        names
    )


def test_second_run_writes_nothing(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """Same version, same settings: up to date, no write."""
    run(env, "--app", str(APP_DIR))
    before = app_writes(zendesk)
    again = run(env, "--app", str(APP_DIR))
    assert again.exit_code == 0, again.output
    assert app_writes(zendesk) == before
    assert "up to date: nothing written" in again.output


def _copy_app(tmp_path: Path, **manifest_changes: object) -> Path:
    target = tmp_path / "app"
    shutil.copytree(
        APP_DIR, target, ignore=shutil.ignore_patterns("node_modules", "tmp")
    )
    manifest = json.loads((target / "manifest.json").read_text())
    for key, value in manifest_changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_a_new_version_updates_the_app_in_place(
    zendesk: FakeZendesk, env: dict[str, str | None], tmp_path: Path
) -> None:
    """A changed manifest version uploads and PUTs the same app; the installation stays."""
    run(env, "--app", str(APP_DIR))
    (app,) = zendesk.app_list()
    newer = _copy_app(tmp_path, version="1.1.0")
    plan = run(env, "--app", str(newer), "--dry-run")
    assert "1.0.0 -> 1.1.0" in plan.output
    result = run(env, "--app", str(newer))
    assert result.exit_code == 0, result.output
    assert app_writes(zendesk)[-2:] == [
        "POST /api/v2/apps/uploads.json",
        f"PUT /api/v2/apps/{app['id']}.json",
    ]
    assert [a["version"] for a in zendesk.app_list()] == ["1.1.0"]
    assert len(zendesk.installation_list()) == 1


def test_a_build_job_is_polled_until_it_completes(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """The build job answers "working" first; setup polls until "completed"."""
    zendesk.app_job_polls = 1
    result = run(env, "--app", str(APP_DIR))
    assert result.exit_code == 0, result.output
    polls = [c for c in zendesk.calls(method="GET") if "job_statuses" in c.path]
    assert len(polls) == 2


def test_a_failed_build_says_why(
    zendesk: FakeZendesk, env: dict[str, str | None], tmp_path: Path
) -> None:
    """A manifest Zendesk refuses (no author) fails the job; setup names the reason."""
    broken = _copy_app(tmp_path, author=None)
    result = run(env, "--app", str(broken))
    assert result.exit_code != 0
    assert "could not build the app: missing author" in result.output
    assert zendesk.installation_list() == []


def test_without_the_app_secret_setup_says_what_to_set(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """No SIDECAR_APP_SECRET: a message naming it and how to make one; nothing written."""
    result = run({**env, "SIDECAR_APP_SECRET": None}, "--app", str(APP_DIR))
    assert result.exit_code != 0
    assert "SIDECAR_APP_SECRET is not set" in result.output
    assert "Traceback" not in result.output
    assert app_writes(zendesk) == []


def test_a_hand_edited_setting_is_drift_until_repair(
    zendesk: FakeZendesk, env: dict[str, str | None]
) -> None:
    """Someone changed the sidecar URL in Admin Center: reported, then --repair rewrites it."""
    run(env, "--app", str(APP_DIR))
    (inst,) = zendesk.installation_list()
    zendesk._installations[inst["id"]]["settings"]["sidecar_url"] = "https://old.test"
    drift = run(env, "--app", str(APP_DIR))
    assert drift.exit_code == 1
    assert "changed" in drift.output and "sidecar_url" in drift.output
    repaired = run(env, "--app", str(APP_DIR), "--repair")
    assert repaired.exit_code == 0, repaired.output
    (inst,) = zendesk.installation_list()
    assert inst["settings"]["sidecar_url"] == "https://sidecar.example.test"
    assert (
        app_writes(zendesk)[-1] == f"PUT /api/v2/apps/installations/{inst['id']}.json"
    )
