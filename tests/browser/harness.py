"""Show the sidebar app as an agent sees it: headless Chromium, a fake ZAF, the real sidecar.

One HTTP server on 127.0.0.1 plays the Zendesk agent workspace: it serves the
app's assets (the ZAF SDK's URL swapped for ``zaf_shim.js``), a page with one
sidebar iframe per scenario, the scenario data ZAF would hand the app (read
from the fake Zendesk's ticket), and ``/proxy``, which does what Zendesk's
proxy does for ``client.request({secure: true})``: refuse a URL outside the
manifest's ``domainWhitelist`` and put the secure setting in place of
``{{setting.sidecar_secret}}``. The sidecar is the real app factory on a fake
Zendesk, its tickets reconciled by the real reconciler.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from sidecar.app import create_app
from sidecar.config import Config
from sidecar.domain.oncall import ACKNOWLEDGED, IncidentEvent
from sidecar.sla import format_utc
from sidecar.tasks import oncall_back
from sidecar.tasks.handler import ReconcilerFactory
from sidecar.tasks.queue import JobQueue
from tests.e2e.conftest import (
    DUE_AT_FIELD,
    SEVERITY_FIELD,
    connected_env,
    define_fields,
)
from tests.fake_pagerduty import FakePagerDuty
from tests.fake_pagerduty_rest import FakePagerDutyRest, shift_now
from tests.fake_zendesk import SUBDOMAIN, FakeZendesk
from tests.support import free_port

APP_DIR = Path(__file__).resolve().parents[2] / "zendesk-app"
SHIM = Path(__file__).with_name("zaf_shim.js")
SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
APP_SECRET = "browser-test-app-secret-0123456789"
SCENARIOS = ("pending", "at_risk", "breached", "met", "not_entitled", "unreachable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def chromium() -> str | None:
    """Return the Chromium executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Workspace:
    """The running fakes, sidecar and workspace server; what the app reported."""

    url: str
    scenarios: dict[str, dict[str, Any]]
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


def _tickets(zendesk: FakeZendesk, now: datetime) -> dict[str, int]:
    agent = zendesk.add_user(role="agent", name="Ana Agent")
    ago = lambda minutes: format_utc(now - timedelta(minutes=minutes))  # noqa: E731
    made = {
        # SEV 4: a day of core hours (Mon-Fri 05:00-01:00 UTC): nights and
        # weekends in the why.
        "pending": zendesk.add_ticket(
            organization_id=10,
            custom_fields={SEVERITY_FIELD: "sev_4"},
            created_at=ago(30),
        ),
        # SEV 2: 2 h round the clock; at risk from 90 min. SEV 1/2 of an
        # entitled org page once: the worker's escalation tags them.
        "at_risk": zendesk.add_ticket(
            organization_id=10,
            custom_fields={SEVERITY_FIELD: "sev_2"},
            created_at=ago(100),
            tags=["oncall_paged"],
        ),
        "breached": zendesk.add_ticket(
            organization_id=10,
            custom_fields={SEVERITY_FIELD: "sev_1"},
            created_at=ago(72),
            tags=["oncall_paged"],
        ),
        "met": zendesk.add_ticket(
            organization_id=10,
            custom_fields={SEVERITY_FIELD: "sev_2"},
            created_at=ago(180),
            tags=["oncall_paged", "oncall_resolved"],
        ),
        "not_entitled": zendesk.add_ticket(
            organization_id=11,
            custom_fields={SEVERITY_FIELD: "sev_1"},
            created_at=ago(10),
        ),
        "unreachable": zendesk.add_ticket(
            organization_id=10,
            custom_fields={SEVERITY_FIELD: "sev_2"},
            created_at=ago(50),
            tags=["oncall_paged"],
        ),
    }
    # SEV 3 (issue 21): the policy below sets a next reply, a periodic update
    # and a resolution paused in pending; the customer wrote an hour ago.
    made["metrics"] = zendesk.add_ticket(
        organization_id=10,
        custom_fields={SEVERITY_FIELD: "sev_3"},
        created_at=ago(180),
        status="open",
    )
    zendesk.add_comment(made["met"], agent, at=ago(135), body="On it.")
    requester = zendesk.ticket(made["metrics"]).requester_id
    zendesk.add_comment(made["metrics"], agent, at=ago(150), body="Looking.")
    zendesk.set_status(made["metrics"], "pending", at=ago(120))
    zendesk.set_status(made["metrics"], "open", at=ago(90))
    zendesk.add_comment(made["metrics"], requester, at=ago(60), body="Still down.")
    return made


# The seed's default policy (core hours: nights and weekends in the why), with
# the other metrics for SEV 3 only, which no first-response scenario uses.
POLICY = """
[schedules.core]
timezone = "UTC"
mon = ["05:00-01:00"]
tue = ["05:00-01:00"]
wed = ["05:00-01:00"]
thu = ["05:00-01:00"]
fri = ["05:00-01:00"]

[policies.default]
sev1 = { target = "1h", schedule = "24/7" }
sev2 = { target = "2h", schedule = "24/7" }
sev4 = { target = "1d", schedule = "core" }
sev5 = { target = "1d", schedule = "core" }

[policies.default.sev3]
first_response = { target = "6h", schedule = "24/7" }
next_reply = { target = "4h", schedule = "24/7" }
periodic_update = { target = "8h", schedule = "24/7" }
resolution = { target = "1d", schedule = "24/7", pause = ["pending", "hold"] }
"""


def _scenario(
    zendesk: FakeZendesk, ticket_id: int, *, sidecar_url: str, user: dict[str, Any]
) -> dict[str, Any]:
    ticket = zendesk.ticket(ticket_id).to_json()
    fields = {str(f["id"]): f["value"] for f in ticket["custom_fields"]}
    return {
        "subdomain": SUBDOMAIN,
        "settings": {
            "sidecar_url": sidecar_url,
            "severity_field_id": SEVERITY_FIELD,
            "due_at_field_id": DUE_AT_FIELD,
        },
        "ticket": {
            "id": ticket_id,
            "updated_at": ticket["updated_at"],
            "tags": ticket["tags"],
            "custom_fields": fields,
        },
        "currentUser": user,
    }


def _page(scenarios: tuple[str, ...]) -> str:
    frames = "".join(
        f"<figure><figcaption>{name.replace('_', ' ')}</figcaption>"
        f'<iframe title="{name}" src="/app/iframe.html?scenario={name}"></iframe></figure>'
        for name in scenarios
    )
    return (
        "<!DOCTYPE html><html><head><style>"
        "body{margin:0;padding:12px;background:#f8f9f9;font:13px system-ui,sans-serif;"
        "display:grid;grid-template-columns:repeat(3,340px);gap:12px}"
        "figure{margin:0;background:#fff;border:1px solid #d8dcde;border-radius:4px}"
        "figcaption{padding:6px 12px;font-weight:600;color:#2f3941;"
        "border-bottom:1px solid #e9ebed;text-transform:capitalize}"
        "iframe{border:0;width:100%;height:640px;display:block;padding:0 8px;box-sizing:border-box}"
        f"</style></head><body>{frames}</body></html>"
    )


class QuietHandler(BaseHTTPRequestHandler):
    """A test page server's handler: no access log, one call to answer."""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Handler(QuietHandler):
    workspace: Workspace
    secret: str

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(
                200, _page(tuple(self.workspace.scenarios)).encode(), "text/html"
            )
        elif path == "/zaf_shim.js":
            self._send(200, SHIM.read_bytes(), "text/javascript")
        elif path.startswith("/scenario/"):
            name = path.removeprefix("/scenario/").removesuffix(".json")
            body = json.dumps(self.workspace.scenarios[name]).encode()
            self._send(200, body, "application/json")
        elif path.startswith("/app/"):
            file = (APP_DIR / "assets" / path.removeprefix("/app/")).resolve()
            if APP_DIR not in file.parents or not file.is_file():
                self._send(404, b"not found", "text/plain")
                return
            data = file.read_bytes()
            if file.name == "iframe.html":
                data = data.replace(SDK_URL.encode(), b"/zaf_shim.js")
            ctype = {
                ".html": "text/html",
                ".js": "text/javascript",
                ".css": "text/css",
            }.get(file.suffix, "application/octet-stream")
            self._send(200, data, ctype)
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/report/"):
            self.workspace.reports[self.path.removeprefix("/report/")] = payload
            if len(self.workspace.reports) == len(self.workspace.scenarios):
                self.workspace.done.set()
            self._send(204, b"", "text/plain")
            return
        if self.path == "/proxy":
            self._proxy(payload)
            return
        self._send(404, b"not found", "text/plain")

    def _proxy(self, options: dict[str, Any]) -> None:
        url = str(options.get("url", ""))
        allowed = {
            s["settings"]["sidecar_url"] for s in self.workspace.scenarios.values()
        }
        # Zendesk's proxy only sends secure settings to the manifest's domainWhitelist.
        if not options.get("secure") or not any(
            url.startswith(a + "/") for a in allowed
        ):
            self._send(403, b'{"error": "domain not whitelisted"}', "application/json")
            return
        headers = {
            k: str(v).replace("{{setting.sidecar_secret}}", self.secret)
            for k, v in (options.get("headers") or {}).items()
        }
        request = urllib.request.Request(
            url, headers=headers, method=options.get("type", "GET")
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                self._send(response.status, response.read(), "application/json")
        except urllib.error.HTTPError as exc:
            self._send(exc.code, exc.read(), "application/json")
        except OSError:
            self._send(
                502, b'{"error": "proxy: upstream unreachable"}', "application/json"
            )


@contextmanager
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """Start Zendesk and PagerDuty fakes, the sidecar and the workspace server."""
    with (
        FakeZendesk() as zendesk,
        FakePagerDuty() as pagerduty,
        FakePagerDutyRest() as rest,
    ):
        define_fields(zendesk)
        # Who answers the default routing key now (PagerDuty's REST API).
        rest.add_policy(
            "PEP1",
            "Support escalation",
            [shift_now("Tim Wright", 1), shift_now("Ana Lima", 2)],
        )
        zendesk.add_org(
            10,
            name="Acme Corp",
            fields={"support_plan": "enterprise", "enterprise_support": True},
        )
        zendesk.add_org(11, name="Small Shop", fields={"support_plan": "team"})
        policy = tmp_path / "sidebar-policy.toml"
        policy.write_text(POLICY)
        env = connected_env(
            tmp_path,
            zendesk,
            pagerduty,
            SIDECAR_APP_SECRET=APP_SECRET,
            SIDECAR_POLICY_FILE=str(policy),
            SIDECAR_PAGERDUTY_API_TOKEN=rest.token,
            SIDECAR_PAGERDUTY_API_URL=rest.url,
            SIDECAR_PAGERDUTY_ONCALL_POLICIES="default=PEP1",
        )
        config = Config.from_env(env)
        queue = JobQueue.from_url(config.queue_url)
        now = datetime.now(UTC).replace(microsecond=0)
        tickets = _tickets(zendesk, now)
        reconciler = ReconcilerFactory(config, queue=queue).reconciler()
        for tid in tickets.values():
            reconciler.reconcile(tid)  # the ticket carries its due field and tags
        # On-call acknowledged the at-risk ticket's page in PagerDuty: the
        # worker's own handler puts it on the ticket and in the store (issue 22).
        oncall_back.OncallBack(
            zendesk=lambda: reconciler.zendesk,
            states=oncall_back.states_for(config, queue),
        ).apply(
            tickets["at_risk"],
            IncidentEvent(
                event_id="browser-ack",
                event_type=ACKNOWLEDGED,
                occurred_at=format_utc(now - timedelta(minutes=4)),
                agent="Dana Oncall",
                incident_id="PBROWSR",
                incident_number=7,
                incident_url="https://acme.pagerduty.com/incidents/PBROWSR",
                incident_key=f"zendesk-acme-ticket-{tickets['at_risk']}",
                assignees=("Dana Oncall",),
            ),
        )
        server = make_server(
            "127.0.0.1", 0, create_app(config, queue=queue), threaded=True
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sidecar_url = f"http://127.0.0.1:{server.server_port}"
        closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        users = {
            "default": {
                "name": "Ana Agent",
                "locale": "en-GB",
                "timeZone": {"name": "Berlin", "ianaName": "Europe/Berlin"},
            },
            "unreachable": {
                "name": "Ana Agent",
                "locale": "en-US",
                "timeZone": {
                    "name": "Eastern Time (US & Canada)",
                    "ianaName": "America/New_York",
                },
            },
        }
        scenarios = {
            name: _scenario(
                zendesk,
                tid,
                sidecar_url=closed if name == "unreachable" else sidecar_url,
                user=users.get(name, users["default"]),
            )
            for name, tid in tickets.items()
        }
        ws_server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        handler = _Handler
        ws = Workspace(
            url=f"http://127.0.0.1:{ws_server.server_port}/", scenarios=scenarios
        )
        handler.workspace = ws
        handler.secret = APP_SECRET
        threading.Thread(target=ws_server.serve_forever, daemon=True).start()
        try:
            yield ws
        finally:
            ws_server.shutdown()
            ws_server.server_close()
            server.shutdown()
            server.server_close()
            queue.close()


def shoot(ws: Workspace, *, executable: str, screenshot: Path, profile: Path) -> None:
    """Load the workspace page once in headless Chromium and save a screenshot."""
    subprocess.run(
        [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1080,2000",  # three rows of sidebars
            "--virtual-time-budget=6000",
            f"--screenshot={screenshot}",
            ws.url,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
