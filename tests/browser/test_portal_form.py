"""The Help Center request form as a customer sees it after `sidecar zendesk setup`.

The admin runs setup (the CLI) against the strict fake Zendesk; the form is
then drawn from what the account holds, read through the API as a Help
Center would (tests/browser/portal_form.py), and loaded once in headless
Chromium. Four frames in one page load: the screenshot (severity list open),
the form after `setup --require-severity`, after plain `setup`, and the
field as the old setup left it (not visible in the portal). Each frame
reports what it shows and what a customer can pick.

Skipped (with the reason shown) when Chromium is not installed; `.ci/run`
installs it. SIDECAR_PORTAL_SCREENSHOT=path keeps the screenshot there.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sidecar.cli import main
from tests.browser.harness import QuietHandler, chromium
from tests.browser.portal_form import read_form, render
from tests.fake_zendesk import FakeZendesk

EXECUTABLE = chromium()
pytestmark = [
    pytest.mark.skipif(
        EXECUTABLE is None,
        reason="chromium is not installed (apt-get install -y chromium): "
        "browser tests skipped",
    ),
    pytest.mark.xdist_group("portal_browser"),
]

URL = "https://sidecar.example.test/webhooks/zendesk"
# The seed's escalation path names these titles ("set the Issue Severity to
# SEV 1 - Critical (Business-Critical Impact)"); typed here, not imported, so
# a change to setup's options shows.
SEED_TITLES = [
    "SEV 1 - Critical (Business-Critical Impact)",
    "SEV 2 - High (Business Impact)",
    "SEV 3 - Medium (Degraded Service)",
    "SEV 4 - Low (Minor Impact)",
    "SEV 5 - Lowest (General Question)",
]
SIDECAR_ENV = (
    "SIDECAR_DUE_AT_FIELD_ID",
    "SIDECAR_DUE_DATE_FIELD_ID",
    "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
    "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
    "SIDECAR_BREACH_MINUTES_FIELD_ID",
)
FRAMES = ("shot", "required", "optional", "before")
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

# Injected after the form's own script: what the customer sees, then (unless
# this is the screenshot) every drop-down option picked as a customer would.
REPORTER = """<script>
(function () {
  var q = new URLSearchParams(location.search);
  var frame = q.get('frame');
  function text(el) { return el ? el.textContent.trim() : null; }
  var fields = Array.from(document.querySelectorAll('.form-field')).map(function (f) {
    var label = f.querySelector('label');
    var star = label.querySelector('.required');
    var own = Array.from(label.childNodes).filter(function (n) { return n.nodeType === 3; })
      .map(function (n) { return n.textContent; }).join('').trim();
    var box = f.querySelector('[role=combobox]');
    var control = box ? 'dropdown' : f.querySelector('textarea') ? 'textarea'
      : f.querySelector('input[readonly]') ? 'readonly' : 'input';
    return {
      id: Number(f.dataset.fieldId), label: own, star: !!star,
      starHidden: star ? star.getAttribute('aria-hidden') : null,
      ariaRequired: (box || f.querySelector('input,textarea')).getAttribute('aria-required'),
      control: control, hidden: f.hidden,
      options: Array.from(f.querySelectorAll('[role=option]')).map(text),
      visible: f.getBoundingClientRect().height > 0
    };
  });
  var picks = [];
  if (frame !== 'shot') {
    document.querySelectorAll('.combobox').forEach(function (box) {
      var input = box.querySelector('[role=combobox]');
      box.querySelectorAll('[role=option]').forEach(function (option, n) {
        input.click();
        var opened = !box.querySelector('[role=listbox]').hidden;
        box.querySelectorAll('[role=option]')[n].click();
        picks.push({field: Number(box.dataset.field), option: text(option),
          opened: opened, shown: text(input.querySelector('.value')),
          value: box.querySelector('input[type=hidden]').value,
          closed: box.querySelector('[role=listbox]').hidden});
      });
    });
  } else if (q.get('open')) {
    var toOpen = document.getElementById('request_custom_fields_' + q.get('open'));
    if (toOpen) { toOpen.click(); }
  }
  fetch('/report/' + frame, {method: 'POST', body: JSON.stringify({fields: fields, picks: picks})});
})();
</script>"""


def _setup(zendesk: FakeZendesk, *args: str) -> dict[str, str]:
    """Run `sidecar zendesk setup` as an admin would; the env lines it prints."""
    env: dict[str, str | None] = {
        "SIDECAR_CONFIG": None,
        "SIDECAR_SEVERITY_FIELD_ID": None,
        "SIDECAR_DUE_AT_FIELD_ID": None,
        "SIDECAR_DUE_DATE_FIELD_ID": None,
        **zendesk.env(),
    }
    result = CliRunner().invoke(
        main, ["zendesk", "setup", "--url", URL, *args], env=env
    )
    assert result.exit_code == 0, result.output
    return dict(
        line.split("=", 1)
        for line in result.output.splitlines()
        if "=" in line and line.split("=", 1)[0].isupper()
    )


def _account(zendesk: FakeZendesk) -> None:
    """A Help Center account before setup: system fields, one admin field, one form."""
    zendesk.empty_account()
    # System fields as Zendesk ships them: subject and description shown and
    # required for end users; status and priority agent-only.
    portal: dict[str, Any] = {"visible_in_portal": True, "editable_in_portal": True}
    subject = zendesk.add_ticket_field(
        title="Subject",
        type="subject",
        title_in_portal="Subject",
        required_in_portal=True,
        **portal,
    )
    description = zendesk.add_ticket_field(
        title="Description",
        type="description",
        title_in_portal="Description",
        required_in_portal=True,
        description="Please enter the details of your request. A member of our "
        "support staff will respond as soon as possible.",
        **portal,
    )
    status = zendesk.add_ticket_field(title="Status", type="status")
    priority = zendesk.add_ticket_field(title="Priority", type="priority")
    fmt = zendesk.add_ticket_field(
        title="Package format",
        type="tagger",
        options=[
            ("npm", "fmt_npm"),
            ("Python", "fmt_python"),
            ("Docker", "fmt_docker"),
        ],
        title_in_portal="Package format",
        **portal,
    )
    zendesk.add_ticket_form(
        "Default Ticket Form", [subject, description, status, priority, fmt]
    )


@dataclass
class _Site:
    """The rendered forms, the frames of the one page, what each frame reported."""

    pages: dict[str, str]
    frames: dict[str, str]
    reports: dict[str, Any] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


class _Handler(QuietHandler):
    site: _Site

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            frames = "".join(
                f'<iframe title="{name}" src="{src}"></iframe>'
                for name, src in self.site.frames.items()
            )
            page = (
                "<!DOCTYPE html><html><head><style>body{margin:0}"
                "iframe{border:0;display:block;width:100vw;height:100vh}"
                "iframe+iframe{position:absolute;top:3000px}</style></head>"
                f"<body>{frames}</body></html>"
            )
            self._send(200, page.encode(), "text/html")
        elif path.startswith("/form/"):
            self._send(200, self.site.pages[path].encode(), "text/html")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.site.reports[self.path.removeprefix("/report/")] = json.loads(
            self.rfile.read(length)
        )
        if len(self.site.reports) == len(FRAMES):
            self.site.done.set()
        self._send(204, b"", "text/plain")


def _form_page(zendesk: FakeZendesk) -> str:
    form = read_form(zendesk.url, email=zendesk.email, token=zendesk.api_token)
    return render(form, extra=REPORTER)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Set up three accounts, render their forms, load them once in Chromium."""
    tmp = tmp_path_factory.mktemp("portal")
    target = Path(os.environ.get("SIDECAR_PORTAL_SCREENSHOT") or tmp / "portal.png")
    with ExitStack() as stack:
        required, optional, before = (
            stack.enter_context(FakeZendesk()) for _ in range(3)
        )
        envs = {}
        for name, zendesk, args in (
            ("required", required, ("--require-severity",)),
            ("optional", optional, ()),
            ("before", before, ("--require-severity",)),
        ):
            _account(zendesk)
            envs[name] = _setup(zendesk, *args)
        # The old setup created Issue Severity without portal visibility.
        before.edit_ticket_field(
            int(envs["before"]["SIDECAR_SEVERITY_FIELD_ID"]),
            visible_in_portal=False,
            editable_in_portal=False,
            required_in_portal=False,
            title_in_portal=None,
        )
        severity = envs["required"]["SIDECAR_SEVERITY_FIELD_ID"]
        pages = {
            "/form/required": _form_page(required),
            "/form/optional": _form_page(optional),
            "/form/before": _form_page(before),
        }
        site = _Site(
            pages=pages,
            frames={
                "shot": f"/form/required?frame=shot&open={severity}",
                "required": "/form/required?frame=required",
                "optional": "/form/optional?frame=optional",
                "before": "/form/before?frame=before",
            },
        )
        handler = type("Handler", (_Handler,), {"site": site})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        stack.callback(server.server_close)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stack.callback(server.shutdown)
        assert EXECUTABLE is not None
        subprocess.run(
            [
                EXECUTABLE,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp / 'profile'}",
                "--window-size=960,980",
                "--virtual-time-budget=3000",
                f"--screenshot={target}",
                f"http://127.0.0.1:{server.server_port}/",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        site.done.wait(10)
        yield {"reports": dict(site.reports), "envs": envs, "screenshot": target}


def _fields(seen: dict[str, Any], frame: str) -> list[dict[str, Any]]:
    reports = seen["reports"]
    assert frame in reports, f"the {frame} form never rendered: {sorted(reports)}"
    fields: list[dict[str, Any]] = reports[frame]["fields"]
    return fields


def _severity(seen: dict[str, Any], frame: str) -> dict[str, Any] | None:
    """The Issue Severity field the customer sees on that form, if any."""
    return next(
        (f for f in _fields(seen, frame) if f["label"] == "Issue Severity"), None
    )


def test_the_form_was_loaded_and_photographed(seen: dict[str, Any]) -> None:
    """Every frame rendered in the one page load; the screenshot exists."""
    assert set(seen["reports"]) == set(FRAMES)
    assert seen["screenshot"].stat().st_size > 10_000


def test_the_customer_sees_issue_severity_with_the_seeds_five_titles(
    seen: dict[str, Any],
) -> None:
    """After setup: the admin's fields in their order, then Issue Severity, a drop-down of SEV 1…5."""
    fields = _fields(seen, "required")
    assert [f["label"] for f in fields] == [
        "Subject",
        "Description",
        "Package format",
        "Issue Severity",
    ]
    severity = _severity(seen, "required")
    assert severity is not None and severity["visible"] and not severity["hidden"]
    assert severity["control"] == "dropdown"
    assert severity["options"] == SEED_TITLES
    assert severity["id"] == int(seen["envs"]["required"]["SIDECAR_SEVERITY_FIELD_ID"])


def test_every_severity_can_be_picked(seen: dict[str, Any]) -> None:
    """A customer opens the list, picks each title; it shows and submits its tag."""
    severity = _severity(seen, "required")
    assert severity is not None
    picks = [
        p for p in seen["reports"]["required"]["picks"] if p["field"] == severity["id"]
    ]
    assert [p["option"] for p in picks] == SEED_TITLES
    for n, pick in enumerate(picks, start=1):
        assert pick["opened"] and pick["closed"], pick
        assert pick["shown"] == pick["option"]
        assert pick["value"] == f"sev_{n}"


def test_require_severity_marks_it_required(seen: dict[str, Any]) -> None:
    """--require-severity: an asterisk (hidden from screen readers) and aria-required; no "-" option."""
    severity = _severity(seen, "required")
    assert severity is not None
    assert severity["star"] and severity["starHidden"] == "true"
    assert severity["ariaRequired"] == "true"
    plain = _severity(seen, "optional")
    assert plain is not None
    assert not plain["star"] and plain["ariaRequired"] is None
    # Copenhagen's optional drop-down starts with an empty "-" choice.
    assert plain["options"] == ["-", *SEED_TITLES]


def test_no_field_the_sidecar_writes_is_on_the_form(seen: dict[str, Any]) -> None:
    """Due time, due date and the outcome fields are not visible in the portal."""
    for frame in ("required", "optional"):
        ours = {int(seen["envs"][frame][key]) for key in SIDECAR_ENV}
        shown = {f["id"] for f in _fields(seen, frame)}
        assert len(ours) == len(SIDECAR_ENV)
        assert not ours & shown, frame
        labels = {f["label"] for f in _fields(seen, frame)}
        assert not {label for label in labels if label.startswith("SLA")}


def test_as_the_old_setup_left_it_the_customer_cannot_set_the_severity(
    seen: dict[str, Any],
) -> None:
    """A severity field without portal visibility is not on the form: the same render shows the defect."""
    labels = [f["label"] for f in _fields(seen, "before")]
    assert labels == ["Subject", "Description", "Package format"]
    assert _severity(seen, "before") is None
