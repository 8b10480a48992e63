"""Zendesk's published contract for the Apps API calls of `sidecar zendesk setup --app`.

None of these paths is in the Support OpenAPI document. Sources:
* "Creating and managing private apps with the Zendesk API"
  (developer.zendesk.com/documentation/apps/app-developer-guide/
  creating-and-managing-private-apps): upload the package, create the app with
  the upload_id, query the job status until 'completed' (the app id) or
  'failed' (a message), install with the app id; update = upload + rebuild;
* Zendesk's CLI zcli (@zendesk/zcli-apps 1.0.1) for the exact requests:
  dist/utils/createApp.js (multipart `uploaded_data`, 201; `{upload_id, name}`;
  POST installations `{app_id, settings: {name, ...}}`, 200/201),
  dist/utils/uploadApp.js (job_statuses `{status, message, app_id}`; GET
  installations `{installations: [{id, app_id}]}`; PUT installations/{id}
  `{settings}`), dist/commands/apps/update.js (PUT /api/v2/apps/{id}
  `{upload_id}`);
* the Apps API reference page (JSON format: `id`, `name`, ... read-only) for
  GET /api/v2/apps/owned's `apps` list.
"""

from __future__ import annotations

from tests.contract.zendesk_oas import ID_STRING, TEXT, Operation, Schema

APP_READ: Schema = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}
INSTALLATION_READ: Schema = {
    "type": "object",
    "required": ["id", "app_id"],
    "properties": {
        "id": {"type": "integer"},
        "app_id": {"type": "integer"},
        "settings": {"type": "object"},
    },
}
# The settings the manifest declares, plus `name` (the installation's title,
# always sent by zcli). Values are strings or numbers as the admin form holds them.
SETTINGS: Schema = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": TEXT},
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
JOB_ID: Schema = {"type": "string", "pattern": "^[0-9A-Za-z]{1,64}$"}


def _closed(required: list[str], properties: dict[str, Schema]) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


APPS_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "UploadAppPackage",
        "POST",
        "/api/v2/apps/uploads",
        source="developer guide step 1; zcli createApp.js uploadAppPkg: multipart "
        "form, the zip in `uploaded_data`, 201 with the upload's id",
        form=("uploaded_data",),
        status=201,
        response={"type": "object", "required": ["id"]},
        oas_gap="the whole Apps API",
    ),
    Operation(
        "CreateApp",
        "POST",
        "/api/v2/apps",
        source="developer guide step 2; zcli deployApp: {upload_id, name} -> "
        "{job_id} (202 Accepted: UNCONFIRMED, zcli does not check it)",
        body=_closed(
            ["upload_id", "name"], {"upload_id": {"type": "integer"}, "name": TEXT}
        ),
        status=202,
        response={"type": "object", "required": ["job_id"]},
        oas_gap="the whole Apps API",
    ),
    Operation(
        "UpdateApp",
        "PUT",
        "/api/v2/apps/{app_id}",
        source="developer guide 'Updating an app'; zcli apps:update: {upload_id} "
        "-> {job_id}",
        path_params={"app_id": ID_STRING},
        body=_closed(["upload_id"], {"upload_id": {"type": "integer"}}),
        status=202,
        response={"type": "object", "required": ["job_id"]},
        oas_gap="the whole Apps API",
    ),
    Operation(
        "ShowAppJobStatus",
        "GET",
        "/api/v2/apps/job_statuses/{job_id}",
        source="developer guide step 3; zcli getUploadJobStatus: status "
        "'completed' with app_id, or 'failed' with message",
        path_params={"job_id": JOB_ID},
        response={
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["queued", "working", "completed", "failed"]},
                "app_id": {"type": ["integer", "null"]},
                "message": {"type": ["string", "null"]},
            },
        },
        oas_gap="the whole Apps API",
    ),
    Operation(
        "ListOwnedApps",
        "GET",
        "/api/v2/apps/owned",
        source="Apps API reference, List Owned Apps: {apps: [app]}",
        response={
            "type": "object",
            "required": ["apps"],
            "properties": {"apps": {"type": "array", "items": APP_READ}},
        },
        oas_gap="the whole Apps API",
    ),
    Operation(
        "ListAppInstallations",
        "GET",
        "/api/v2/apps/installations",
        source="zcli updateProductInstallation: {installations: [{id, app_id, "
        "settings}]}",
        response={
            "type": "object",
            "required": ["installations"],
            "properties": {
                "installations": {"type": "array", "items": INSTALLATION_READ}
            },
        },
        oas_gap="the whole Apps API",
    ),
    Operation(
        "InstallApp",
        "POST",
        "/api/v2/apps/installations",
        source="developer guide step 4; zcli createProductInstallation: {app_id, "
        "settings: {name, ...}}, 200 or 201",
        body=_closed(
            ["app_id", "settings"],
            {"app_id": {"type": ["integer", "string"]}, "settings": SETTINGS},
        ),
        status=201,
        response={"type": "object", "required": ["id"]},
        oas_gap="the whole Apps API",
    ),
    Operation(
        "UpdateAppInstallation",
        "PUT",
        "/api/v2/apps/installations/{installation_id}",
        source="zcli updateProductInstallation: {settings: {name, ...}}, 200 or 201",
        path_params={"installation_id": ID_STRING},
        body=_closed(["settings"], {"settings": SETTINGS}),
        response={"type": "object"},
        oas_gap="the whole Apps API",
    ),
)
