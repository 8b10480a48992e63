"""Install or update the agents' sidebar app (zendesk-app/) through the Apps API.

The flow is Zendesk's own ("Creating and managing private apps with the
Zendesk API", developer.zendesk.com; the same calls as zcli's
apps:create/apps:update): upload the zip (``POST /api/v2/apps/uploads``,
multipart field ``uploaded_data``), build it (``POST /api/v2/apps`` with
``upload_id`` and ``name``, or ``PUT /api/v2/apps/{id}`` with ``upload_id``),
poll ``GET /api/v2/apps/job_statuses/{job_id}`` until ``completed`` (or
``failed`` with a message), then install it (``POST
/api/v2/apps/installations`` with ``app_id`` and ``settings``; ``settings.name``
is the installation's title). Found by the manifest's name, so a second run
with the same version writes nothing.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sidecar.config import Config, split_secrets
from sidecar.errors import ConfigError

APP_DIR = Path(__file__).resolve().parents[2] / "zendesk-app"
# What goes in the package: the app, not its tests or node tooling (.zcliignore).
PACKAGE_PARTS = ("manifest.json", "translations", "assets", "README.md")
JOB_POLLS = 30
JOB_POLL_SECONDS = 1.0
# Settings Zendesk does not return (secure) are compared by nobody; --repair
# sends them again (docs/decisions.md, "The agent's sidebar app").
SECURE = frozenset({"sidecar_secret"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same files, the same bytes


@dataclass(frozen=True)
class AppPackage:
    """The app folder's manifest and its zip."""

    name: str
    version: str
    data: bytes


def package(app_dir: Path) -> AppPackage:
    """Zip the app folder (manifest, translations, assets) reproducibly."""
    manifest_path = app_dir / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--app {app_dir}: no readable manifest.json ({exc.__class__.__name__}); "
            "point it at the repository's zendesk-app folder"
        ) from None
    files = []
    for part in PACKAGE_PARTS:
        path = app_dir / part
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(app_dir).as_posix(), _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return AppPackage(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        data=buffer.getvalue(),
    )


def sidecar_base(webhook_url: str) -> str:
    """Return the sidecar's base URL from the webhook URL setup was given."""
    parts = urlsplit(webhook_url)
    return f"{parts.scheme}://{parts.netloc}"


def desired_settings(config: Config, *, name: str, webhook_url: str) -> dict[str, Any]:
    """The installation's settings: the app's title, the sidecar URL, secret, field ids."""
    if not config.app_secret:
        raise ConfigError(
            "SIDECAR_APP_SECRET is not set: the app sends it to the sidecar "
            "(generate one, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`, set it on the sidecar, run again)"
        )
    if config.severity_field_id is None or config.due_at_field_id is None:
        raise ConfigError(
            "the app needs SIDECAR_SEVERITY_FIELD_ID and SIDECAR_DUE_AT_FIELD_ID: "
            "run setup once without --app, keep the env lines it prints, run again"
        )
    return {
        "name": name,
        "sidecar_url": sidecar_base(webhook_url),
        # The first of several (rotation: new,old): the one agents' apps send.
        "sidecar_secret": split_secrets(config.app_secret)[0],
        "severity_field_id": config.severity_field_id,
        "due_at_field_id": config.due_at_field_id,
    }


class AppInstaller:
    """Plan and apply the app and its installation; report steps through ``step``."""

    def __init__(
        self,
        api: Any,
        *,
        step: Callable[..., None],
        write: Callable[..., dict[str, Any]],
        dry_run: bool,
        repair: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.step = step
        self.write = write
        self.dry_run = dry_run
        self.repair = repair
        self.sleep = sleep

    def run(self, pkg: AppPackage, settings: Mapping[str, Any]) -> None:
        """Create, update or leave the app, then its installation."""
        owned = [
            a
            for a in self.api.admin_list("/api/v2/apps/owned.json", "apps")
            if a.get("name") == pkg.name
        ]
        app = owned[0] if owned else None
        if app is None:
            if self.dry_run:
                self.step("app", pkg.name, "create", note=f"version {pkg.version}")
                self.step("app installation", pkg.name, "create")
                return
            app_id = self._build("POST", "/api/v2/apps.json", pkg, name=pkg.name)
            self.step("app", pkg.name, "create", app_id, f"version {pkg.version}")
        else:
            app_id = int(app["id"])
            current = app.get("version")
            if current == pkg.version:
                self.step("app", pkg.name, "up to date", app_id, f"version {current}")
            elif current is None and not self.repair:
                self.step(
                    "app",
                    pkg.name,
                    "changed",
                    app_id,
                    "Zendesk shows no version: --repair uploads the package",
                )
            elif self.dry_run:
                self.step(
                    "app", pkg.name, "update", app_id, f"{current} -> {pkg.version}"
                )
            else:
                self._build("PUT", f"/api/v2/apps/{app_id}.json", pkg)
                self.step(
                    "app", pkg.name, "update", app_id, f"{current} -> {pkg.version}"
                )
        self._installation(app_id, settings)

    def _build(self, method: str, path: str, pkg: AppPackage, **body: Any) -> int:
        upload = self.write(
            "POST",
            "/api/v2/apps/uploads.json",
            files={"uploaded_data": ("app.zip", pkg.data, "application/zip")},
        )
        job = self.write(method, path, json={"upload_id": upload["id"], **body})
        return self._wait(str(job["job_id"]))

    def _wait(self, job_id: str) -> int:
        for _ in range(JOB_POLLS):
            status = self.api.admin_request(
                "GET", f"/api/v2/apps/job_statuses/{job_id}.json"
            )
            if status.get("status") == "completed":
                return int(status["app_id"])
            if status.get("status") == "failed":
                raise ConfigError(
                    f"Zendesk could not build the app: {status.get('message')} "
                    "(fix zendesk-app/ and run setup again)"
                )
            self.sleep(JOB_POLL_SECONDS)
        raise ConfigError(
            f"the app's build job {job_id} did not finish in "
            f"{JOB_POLLS * JOB_POLL_SECONDS:.0f} s: run setup again later"
        )

    def _installation(self, app_id: int | None, settings: Mapping[str, Any]) -> None:
        found = [
            i
            for i in self.api.admin_list(
                "/api/v2/apps/installations.json", "installations"
            )
            if i.get("app_id") == app_id
        ]
        name = str(settings["name"])
        if not found:
            if self.dry_run:
                self.step("app installation", name, "create")
                return
            made = self.write(
                "POST",
                "/api/v2/apps/installations.json",
                json={"app_id": app_id, "settings": dict(settings)},
            )
            self.step("app installation", name, "create", made.get("id", ""))
            return
        installation = found[0]
        shown = installation.get("settings") or {}
        differs = sorted(
            key
            for key, value in settings.items()
            if key not in SECURE and str(shown.get(key)) != str(value)
        )
        if not differs and not self.repair:
            self.step("app installation", name, "up to date", installation["id"])
            return
        if self.dry_run or (differs and not self.repair):
            action = "repair" if self.repair else "changed"
            self.step(
                "app installation", name, action, installation["id"], ", ".join(differs)
            )
            return
        self.write(
            "PUT",
            f"/api/v2/apps/installations/{installation['id']}.json",
            json={"settings": dict(settings)},
        )
        self.step(
            "app installation",
            name,
            "repair",
            installation["id"],
            ", ".join(differs) or "settings sent again (the secret too)",
        )


def install_app(setup: Any, app_dir: Path) -> None:
    """Install or update the sidebar app as part of ``setup`` (its API, flags, steps)."""
    pkg = package(app_dir)
    settings = desired_settings(setup.config, name=pkg.name, webhook_url=setup.url)

    def write(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        assert not setup.dry_run
        setup.result.writes += 1
        answer: dict[str, Any] = setup.api.admin_request(method, path, **kwargs)
        return answer

    AppInstaller(
        setup.api,
        step=setup._step,
        write=write,
        dry_run=setup.dry_run,
        repair=setup.repair,
    ).run(pkg, settings)
