"""The sidebar app as an agent sees it: headless Chromium, fake ZAF, the real sidecar.

Skipped (with the reason shown) when Chromium is not installed; `.ci/run`
installs it. SIDECAR_SCREENSHOT=path keeps the screenshot there (docs/).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import Workspace, chromium, shoot, workspace

EXECUTABLE = chromium()
pytestmark = [
    pytest.mark.skipif(
        EXECUTABLE is None,
        reason="chromium is not installed (apt-get install -y chromium): "
        "browser tests skipped",
    ),
    # One worker loads the page once for every test of this module.
    pytest.mark.xdist_group("sidebar_browser"),
]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Load the six sidebars once; what each reported, and the screenshot."""
    tmp = tmp_path_factory.mktemp("browser")
    target = Path(os.environ.get("SIDECAR_SCREENSHOT") or tmp / "sidebar.png")
    with workspace(tmp) as ws:
        assert EXECUTABLE is not None
        shoot(ws, executable=EXECUTABLE, screenshot=target, profile=tmp / "profile")
        ws.done.wait(10)
        yield {"ws": ws, "reports": dict(ws.reports), "screenshot": target}


def _report(seen: dict[str, Any], name: str) -> dict[str, Any]:
    reports = seen["reports"]
    assert name in reports, f"the {name} sidebar never rendered: {sorted(reports)}"
    return reports[name]


def test_every_scenario_rendered_and_was_photographed(seen: dict[str, Any]) -> None:
    """All six sidebars rendered in one page load, and the screenshot exists."""
    ws: Workspace = seen["ws"]
    assert set(seen["reports"]) == set(ws.scenarios)
    assert seen["screenshot"].stat().st_size > 10_000


def test_pending_shows_the_countdown_in_the_agents_zone_and_the_why(
    seen: dict[str, Any],
) -> None:
    """On track, "due in …· HH:MM your time", SEV 4, Enterprise Support, the why."""
    r = _report(seen, "pending")
    assert r["status"] == "pending"
    assert "On track" in r["text"]
    assert re.search(r"due in .+ · .*\d\d:\d\d your time", r["text"]), r["text"]
    assert "SEV 4" in r["text"]
    assert "Enterprise Support · Enterprise plan" in r["text"]
    assert "Why this due time" in r["text"] and "Counted" in r["text"]
    assert re.search(r"\bCES?T\b", r["text"])  # the agent is in Europe/Berlin
    # A SEV 4 does not page by itself: the agent is told how to page anyway.
    assert "apply the macro \u201cPage on-call\u201d" in r["text"]


def test_at_risk_and_breached_say_so_in_words(seen: dict[str, Any]) -> None:
    """At risk: due in ~20 min; breached: "breached 12 min ago" and the page."""
    at_risk = _report(seen, "at_risk")
    assert at_risk["status"] == "at_risk" and "At risk" in at_risk["text"]
    assert re.search(r"due in (19|20) min", at_risk["text"]), at_risk["text"]
    breached = _report(seen, "breached")
    assert breached["status"] == "breached" and "Breached" in breached["text"]
    assert re.search(r"breached 1[12] min ago", breached["text"]), breached["text"]
    assert "Paged, not acknowledged yet" in breached["text"]
    assert "zendesk-acme-ticket-" in breached["text"]
    # Who PagerDuty pages first for the ticket's routing key (REST API).
    assert "On call now" in breached["text"]
    assert "Tim Wright (Support escalation, level 1)" in breached["text"]
    assert "Ana Lima" not in breached["text"]  # level 2 is not paged first


def test_an_acknowledged_page_says_who_and_when(seen: dict[str, Any]) -> None:
    """On-call acknowledged in PagerDuty: who, at what time in the agent's zone, the incident (issue 22)."""
    r = _report(seen, "at_risk")
    assert re.search(r"Acknowledged by Dana Oncall at \d\d:\d\d", r["text"]), r["text"]
    assert "Assigned to Dana Oncall" in r["text"]
    assert "PagerDuty incident #7" in r["text"]


def test_met_shows_the_first_response(seen: dict[str, Any]) -> None:
    """Met: the first response's time instead of a countdown."""
    r = _report(seen, "met")
    assert r["status"] == "met" and "Met" in r["text"]
    assert re.search(r"responded 2 h 1\d min ago", r["text"]), r["text"]
    assert "none yet" not in r["text"]
    assert "Paged, resolved" in r["text"]


def test_not_entitled_shows_no_clock_and_why_not(seen: dict[str, Any]) -> None:
    """A plain organization's SEV 1: No SLA, not entitled with the reason, not paged."""
    r = _report(seen, "not_entitled")
    assert r["status"] == "none" and "No SLA" in r["text"]
    assert "Not entitled · Team plan" in r["text"]
    assert "Not paged" in r["text"]
    assert r["text"].count("Enterprise Support is off") == 1
    # Not pageable (default policy): no on-call row, no macro hint.
    assert "On call now" not in r["text"] and "Page on-call" not in r["text"]


def test_unreachable_sidecar_still_shows_the_clock_and_says_so(
    seen: dict[str, Any],
) -> None:
    """The ticket's own tags and due field keep the countdown; a notice says why."""
    r = _report(seen, "unreachable")
    assert "The sidecar is unreachable right now" in r["text"]
    assert r["status"] == "pending"
    # The date shows when the due instant falls on another local day (sla.js,
    # localTime): here from about 22:50 in the agent's New York evening.
    assert re.search(
        r"due in (69|70) min · (\w{3}, \w{3} \d{1,2}, )?\d\d:\d\d (AM|PM) your time",
        r["text"],
    ), r["text"]
    assert "unknown (sidecar unreachable)" in r["text"]
    assert "Paged" in r["text"]  # from the ticket's oncall_paged tag


def test_the_ticking_countdown_is_not_a_live_region(seen: dict[str, Any]) -> None:
    """Screen readers are not read the countdown every second; only state changes."""
    for name in seen["reports"]:
        assert seen["reports"][name]["countdownLive"] is None


def test_every_other_metric_has_its_clock(seen: dict[str, Any]) -> None:
    """Issue 21: next reply, periodic update and resolution, each with its state and due time."""
    r = _report(seen, "metrics")
    text = r["text"]
    assert "Other targets" in text
    # The customer wrote an hour ago: a 4 h next reply is due in 3 h (on track).
    assert re.search(r"Next reply\s+On track\s+due in (2 h 59 min|3 h)", text), text
    assert re.search(r"Periodic update\s+On track\s+due in 5 h (29|30) min", text), text
    # 1 d from creation, plus the half hour pending.
    assert re.search(r"Resolution\s+On track\s+due in 21 h (29|30) min", text), text
    assert "your time" in text
