"""Apps API answers of the contract double (tests/contract/zendesk_apps_oas.py).

Plausible, on-contract answers only; the rules a real build applies (manifest
checks, required settings) are the strict fake's (tests/fake_zendesk_apps.py).
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import zipfile
from typing import Any

from tests.fake_zendesk_apps import parse_multipart


class AppsAnswers:
    """Owned apps, build jobs and installations of the contract double."""

    def _init_apps(self) -> None:
        self._apps_ids = itertools.count(7001)
        self.app_uploads: dict[int, bytes] = {}
        self.apps: dict[int, dict[str, Any]] = {}
        self.app_jobs: dict[str, dict[str, Any]] = {}
        self.installations: dict[int, dict[str, Any]] = {}

    @staticmethod
    def _json(request: Any) -> dict[str, Any]:
        found = json.loads(request.body or "{}")
        return found if isinstance(found, dict) else {}

    def _UploadAppPackage(self, params: Any, query: Any, request: Any) -> Any:
        form = parse_multipart(request.body, request.headers["Content-Type"])
        upload_id = next(self._apps_ids)
        self.app_uploads[upload_id] = form["uploaded_data"]
        return {"id": upload_id}

    def _build(self, upload_id: int, app_id: int, name: str | None) -> dict[str, Any]:
        with zipfile.ZipFile(io.BytesIO(self.app_uploads[upload_id])) as archive:
            manifest = json.loads(archive.read("manifest.json"))
        app = self.apps.setdefault(app_id, {"id": app_id, "name": name})
        app["version"] = manifest["version"]
        job_id = f"job{next(self._apps_ids)}"
        self.app_jobs[job_id] = {
            "status": "completed",
            "app_id": app_id,
            "message": None,
        }
        return {"job_id": job_id}

    def _CreateApp(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._json(request)
        return self._build(sent["upload_id"], next(self._apps_ids), sent["name"])

    def _UpdateApp(self, params: Any, query: Any, request: Any) -> Any:
        return self._build(
            self._json(request)["upload_id"], int(params["app_id"]), None
        )

    def _ShowAppJobStatus(self, params: Any, query: Any, request: Any) -> Any:
        return {"id": params["job_id"], **self.app_jobs[params["job_id"]]}

    def _ListOwnedApps(self, params: Any, query: Any, request: Any) -> Any:
        return {"apps": copy.deepcopy(list(self.apps.values())), "next_page": None}

    def _ListAppInstallations(self, params: Any, query: Any, request: Any) -> Any:
        shown = []
        for inst in self.installations.values():
            item = copy.deepcopy(inst)
            item["settings"].pop("sidecar_secret", None)  # secure: never shown back
            shown.append(item)
        return {"installations": shown}

    def _InstallApp(self, params: Any, query: Any, request: Any) -> Any:
        sent = self._json(request)
        inst_id = next(self._apps_ids)
        self.installations[inst_id] = {
            "id": inst_id,
            "app_id": int(sent["app_id"]),
            "settings": sent["settings"],
        }
        return {"id": inst_id, "app_id": int(sent["app_id"])}

    def _UpdateAppInstallation(self, params: Any, query: Any, request: Any) -> Any:
        inst = self.installations[int(params["installation_id"])]
        inst["settings"].update(self._json(request)["settings"])
        return {"id": inst["id"], "app_id": inst["app_id"]}
