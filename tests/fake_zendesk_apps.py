"""The Apps API part of FakeZendesk: private app upload, build jobs, installations.

Zendesk's OpenAPI document has no /api/v2/apps paths, so each rule cites
what does describe them: the developer guide "Creating and managing private
apps with the Zendesk API" (developer.zendesk.com/documentation/apps/
app-developer-guide/creating-and-managing-private-apps), Zendesk's own CLI
zcli (@zendesk/zcli-apps 1.0.1: dist/utils/createApp.js, uploadApp.js,
commands/apps/update.js) and the package validator Zendesk runs on a build,
zendesk/zendesk_apps_support (lib/zendesk_apps_support/validations/manifest.rb).
Handlers run under the fake's lock and return ``(Reply, None)``.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import re
import zipfile
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

APPS_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/api/v2/apps/uploads(?:\.json)?$"), "_apps_upload"),
    ("GET", re.compile(r"^/api/v2/apps/owned(?:\.json)?$"), "_apps_owned"),
    (
        "GET",
        re.compile(r"^/api/v2/apps/job_statuses/([0-9a-f]+)(?:\.json)?$"),
        "_apps_job",
    ),
    (
        "GET",
        re.compile(r"^/api/v2/apps/installations(?:\.json)?$"),
        "_apps_list_installations",
    ),
    (
        "POST",
        re.compile(r"^/api/v2/apps/installations(?:\.json)?$"),
        "_apps_install",
    ),
    (
        "PUT",
        re.compile(r"^/api/v2/apps/installations/(\d+)(?:\.json)?$"),
        "_apps_put_installation",
    ),
    ("POST", re.compile(r"^/api/v2/apps(?:\.json)?$"), "_apps_create"),
    ("PUT", re.compile(r"^/api/v2/apps/(\d+)(?:\.json)?$"), "_apps_update"),
]

# zendesk_apps_support validations/manifest.rb: REQUIRED_MANIFEST_FIELDS
# (author, defaultLocale), missing_location_error, missing_framework_version.
REQUIRED_MANIFEST = ("author", "defaultLocale", "location", "frameworkVersion")
# manifest.rb SECURE_PARAM_SCOPES.
SECURE_PARAM_SCOPES = frozenset(
    {
        "header",
        "body",
        "url",
        "jwt_secret_key",
        "jwt_claim",
        "basic_auth_username",
        "basic_auth_password",
    }
)


def parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body as {field: bytes or text}."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        form[str(name)] = part.get_payload(decode=True)
    return form


def _reply(status: int, body: Any) -> tuple[Any, None]:
    from tests.fake_zendesk import Reply

    return Reply(status, body, {}), None


def _invalid(description: str) -> tuple[Any, None]:
    return _reply(422, {"error": "RecordInvalid", "description": description})


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What Zendesk's build refuses in a manifest (zendesk_apps_support manifest.rb)."""
    problems = [f"missing {key}" for key in REQUIRED_MANIFEST if not manifest.get(key)]
    for param in manifest.get("parameters") or ():
        name = param.get("name")
        if name == "name":  # name_as_parameter_name_error
            problems.append("a parameter may not be called name")
        scopes = param.get("scopes")
        if scopes is not None:
            if not param.get("secure"):  # field_requires_secure_parameter
                problems.append(f"{name}: scopes need a secure parameter")
            elif not scopes or set(scopes) - SECURE_PARAM_SCOPES:
                problems.append(f"{name}: invalid scopes {scopes}")
    return problems


class AppsMixin:
    """Private apps of the fake account (mixed into FakeZendesk)."""

    _ids: itertools.count[int]

    def _apps_init(self) -> None:
        self._app_uploads: dict[int, bytes] = {}
        self._apps: dict[int, dict[str, Any]] = {}
        self._app_jobs: dict[str, dict[str, Any]] = {}
        self._installations: dict[int, dict[str, Any]] = {}
        self._job_ids = itertools.count(0xA000)
        # Polls a build job answers "working" before it completes (zcli polls).
        self.app_job_polls = 1
        # UNCONFIRMED: whether List Owned Apps shows the manifest's version;
        # tests turn it off to see setup's answer without it.
        self.apps_show_version = True

    # --- test helpers --------------------------------------------------------

    def app_list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._apps.values()))

    def installation_list(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self._installations.values()))

    # --- routes --------------------------------------------------------------

    def _apps_upload(self, arg: Any, query: Any, payload: Any) -> Any:
        # Upload App Package: multipart form with the zip in `uploaded_data`;
        # 201 with the upload's id (zcli createApp.js uploadAppPkg checks 201).
        data = payload.get("uploaded_data") if isinstance(payload, dict) else None
        if not isinstance(data, bytes | bytearray):
            return _reply(
                400, {"error": "InvalidValue", "description": "uploaded_data missing"}
            )
        upload_id = next(self._ids)
        self._app_uploads[upload_id] = bytes(data)
        return _reply(201, {"id": upload_id})

    def _manifest_of(self, upload_id: Any) -> tuple[dict[str, Any] | None, str]:
        data = self._app_uploads.get(upload_id)
        if data is None:
            return None, "upload not found"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                manifest = json.loads(archive.read("manifest.json"))
                for location in (manifest.get("location") or {}).values():
                    for options in location.values():
                        url = options.get("url") if isinstance(options, dict) else None
                        # manifest.rb invalid_location_uri_error: a relative
                        # url must name a file in the package.
                        if url and "://" not in url and url not in names:
                            return None, f"location url {url} is not in the package"
        except (zipfile.BadZipFile, KeyError, ValueError):
            return None, "not a zip with a manifest.json"
        problems = manifest_problems(manifest)
        return (None, "; ".join(problems)) if problems else (manifest, "")

    def _new_job(
        self, manifest: dict[str, Any] | None, message: str, app_id: int | None
    ) -> str:
        job_id = f"{next(self._job_ids):x}"
        self._app_jobs[job_id] = {
            "id": job_id,
            "polls_left": self.app_job_polls,
            "status": "failed" if manifest is None else "completed",
            "message": message or None,
            "app_id": app_id,
        }
        return job_id

    def _apps_create(self, arg: Any, query: Any, payload: Any) -> Any:
        # Create App: {upload_id, name} (zcli deployApp) -> {job_id}; the build
        # runs as a job (developer guide: "query the build status").
        body = payload if isinstance(payload, dict) else {}
        if "upload_id" not in body or not body.get("name"):
            return _invalid("upload_id and name are required")
        manifest, message = self._manifest_of(body["upload_id"])
        app_id = None
        if manifest is not None:
            app_id = next(self._ids)
            self._apps[app_id] = self._app_json(app_id, str(body["name"]), manifest)
        return _reply(202, {"job_id": self._new_job(manifest, message, app_id)})

    def _apps_update(self, app_id: int, query: Any, payload: Any) -> Any:
        # Update App: PUT /api/v2/apps/{id} {upload_id} (zcli apps:update).
        if app_id not in self._apps:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        body = payload if isinstance(payload, dict) else {}
        if "upload_id" not in body:
            return _invalid("upload_id is required")
        manifest, message = self._manifest_of(body["upload_id"])
        if manifest is not None:
            name = self._apps[app_id]["name"]
            self._apps[app_id] = self._app_json(app_id, name, manifest)
        return _reply(202, {"job_id": self._new_job(manifest, message, app_id)})

    def _app_json(
        self, app_id: int, name: str, manifest: dict[str, Any]
    ) -> dict[str, Any]:
        app: dict[str, Any] = {
            "id": app_id,
            "name": name,
            "framework_version": manifest.get("frameworkVersion"),
            "parameters": copy.deepcopy(manifest.get("parameters") or []),
            "installable": True,
        }
        if self.apps_show_version:
            app["version"] = manifest.get("version")
        return app

    def _apps_job(self, job_id: str, query: Any, payload: Any) -> Any:
        # Get Job Status: queued/working until done, then completed with app_id
        # or failed with a message (zcli uploadApp.js getUploadJobStatus).
        job = self._app_jobs.get(job_id)
        if job is None:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        if job["polls_left"] > 0:
            job["polls_left"] -= 1
            return _reply(200, {"id": job_id, "status": "working", "message": None})
        return _reply(
            200,
            {k: job[k] for k in ("id", "status", "message", "app_id")},
        )

    def _apps_owned(self, arg: Any, query: Any, payload: Any) -> Any:
        return _reply(200, {"apps": self.app_list(), "next_page": None})

    def _apps_list_installations(self, arg: Any, query: Any, payload: Any) -> Any:
        # Secure settings are never shown back (a secure setting is not
        # "available to the app's JavaScript", nor to the API here: UNCONFIRMED
        # for the API, modelled conservatively).
        shown = []
        for inst in self._installations.values():
            app = self._apps.get(inst["app_id"], {})
            secure = {p["name"] for p in app.get("parameters", []) if p.get("secure")}
            item = copy.deepcopy(inst)
            item["settings"] = {
                k: v for k, v in inst["settings"].items() if k not in secure
            }
            shown.append(item)
        return _reply(200, {"installations": shown})

    def _check_settings(self, app_id: int, settings: Any) -> str:
        if not isinstance(settings, dict) or not settings.get("name"):
            # zcli always sends settings.name (createProductInstallation).
            return "settings.name is required"
        app = self._apps.get(app_id)
        if app is None:
            return "app not found"
        missing = [
            p["name"]
            for p in app["parameters"]
            if p.get("required") and settings.get(p["name"]) in (None, "")
        ]
        return f"required settings missing: {', '.join(missing)}" if missing else ""

    def _apps_install(self, arg: Any, query: Any, payload: Any) -> Any:
        body = payload if isinstance(payload, dict) else {}
        try:
            app_id = int(body.get("app_id"))  # zcli sends it as a string
        except (TypeError, ValueError):
            return _invalid("app_id is required")
        problem = self._check_settings(app_id, body.get("settings"))
        if problem:
            return _invalid(problem)
        inst_id = next(self._ids)
        self._installations[inst_id] = {
            "id": inst_id,
            "app_id": app_id,
            "product": "support",
            "enabled": True,
            "settings": copy.deepcopy(body["settings"]),
        }
        return _reply(
            201,
            {k: v for k, v in self._installations[inst_id].items() if k != "settings"},
        )

    def _apps_put_installation(self, inst_id: int, query: Any, payload: Any) -> Any:
        inst = self._installations.get(inst_id)
        if inst is None:
            return _reply(404, {"error": "RecordNotFound", "description": "Not found"})
        settings = (payload or {}).get("settings")
        problem = self._check_settings(
            inst["app_id"], {**inst["settings"], **(settings or {})}
        )
        if problem:
            return _invalid(problem)
        inst["settings"].update(settings or {})
        return _reply(200, {"id": inst_id, "app_id": inst["app_id"]})
