"""`sidecar zendesk setup --app`: every Apps API request checked against the published contract."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sidecar.config import Secret
from sidecar.zendesk.app_install import APP_DIR
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.setup import Setup
from tests.contract.admin_cases import CONFIG, URL
from tests.contract.checker import find_operation, zendesk_violations
from tests.contract.zendesk_apps_oas import APPS_OPERATIONS
from tests.contract.zendesk_double import SUBDOMAIN, ContractZendesk

APP_CONFIG = dataclasses.replace(
    CONFIG,
    app_secret=Secret("contract-app-secret"),
    severity_field_id=111,  # the double's severity and due fields
    due_at_field_id=112,
)


@pytest.fixture
def zendesk() -> Iterator[ContractZendesk]:
    with ContractZendesk() as double:
        yield double


@pytest.fixture
def client() -> Iterator[ZendeskClient]:
    with ZendeskClient(
        SUBDOMAIN, email="bot@acme.test", api_token=Secret("contract-token")
    ) as zd:
        yield zd


def run(client: ZendeskClient, app_dir: Path, **options: bool) -> object:
    return Setup(client, APP_CONFIG, url=URL, app_dir=app_dir, **options).run()


def test_every_apps_request_of_setup_is_on_contract(
    zendesk: ContractZendesk, client: ZendeskClient, tmp_path: Path
) -> None:
    """Dry run, install, again, a new version, a changed setting and its repair."""
    run(client, APP_DIR, dry_run=True)
    run(client, APP_DIR)
    run(client, APP_DIR)
    newer = tmp_path / "app"
    shutil.copytree(
        APP_DIR, newer, ignore=shutil.ignore_patterns("node_modules", "tmp")
    )
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "version": "9.9.9"}))
    run(client, newer)
    (installation,) = zendesk.installations.values()
    installation["settings"]["sidecar_url"] = "https://old.example.test"
    run(client, newer)
    run(client, newer, repair=True)
    problems = [p for r in zendesk.captured for p in zendesk_violations(r)]
    assert not problems, "\n".join(problems)
    sent = set()
    for request in zendesk.captured:
        op, _ = find_operation(request.method, urlsplit(request.url).path)
        assert op is not None
        sent.add(op.name)
    missing = {op.name for op in APPS_OPERATIONS} - sent
    assert not missing, f"Apps API fragments no request exercises: {sorted(missing)}"
    assert installation["settings"]["sidecar_url"] == "https://sidecar.example.test"
    assert [a["version"] for a in zendesk.apps.values()] == ["9.9.9"]
