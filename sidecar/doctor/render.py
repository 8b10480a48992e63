"""The checklist as text for a person or JSON for monitoring."""

from __future__ import annotations

import json
from typing import Any

from sidecar.doctor.checks import Report


def as_text(report: Report, *, header: str) -> str:
    """One line per check under its section; a warn or fail says what to do next."""
    out = [header]
    section = None
    width = max((len(line.check) for line in report.lines), default=0)
    for line in report.lines:
        if line.section != section:
            section = line.section
            out.append(section)
        first, *more = line.detail.splitlines() or [""]
        out.append(f"  {line.status.label:<4}  {line.check:<{width}}  {first}")
        out.extend(f"        {'':<{width}}  {text.strip()}" for text in more)
        if line.next_step:
            out.append(f"        {'':<{width}}  -> {line.next_step}")
    calls = ", ".join(f"{n} {service}" for service, n in sorted(report.calls.items()))
    counts = {
        s: sum(1 for line in report.lines if line.status.label == s)
        for s in ("ok", "warn", "fail")
    }
    out.append(
        f"{report.status.label}: {counts['ok']} ok, {counts['warn']} warn, "
        f"{counts['fail']} fail"
        + (f"; API calls: {calls}" if calls else "; no API call")
        + "; nothing written"
    )
    return "\n".join(out)


def as_json(report: Report) -> str:
    """The report as one JSON object (``status``, ``checks``, ``calls``)."""
    data: dict[str, Any] = {
        "status": report.status.label,
        "exit_code": int(report.status),
        "checks": [
            {
                "section": line.section,
                "check": line.check,
                "status": line.status.label,
                "detail": line.detail,
                "next": line.next_step or None,
            }
            for line in report.lines
        ],
        "calls": dict(sorted(report.calls.items())),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)
