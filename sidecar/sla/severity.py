"""Parse what Zendesk sends for the "Issue Severity" field into 1..5 or None."""

from __future__ import annotations

import re

from sidecar.sla.errors import SeverityError

SEVERITIES = (1, 2, 3, 4, 5)

# Option tags (sev_1, sev1, severity_1, sev_1_-_critical...), titles ("SEV 1",
# "SEV 1 - Critical (Business-Critical Impact)") and "Critical (SEV 1)".
_LEADING = re.compile(r"^(?:sev|severity)[\s_-]*([1-5])(?![0-9])(?:[\s_-].*)?$", re.S)
_TRAILING = re.compile(r"^[a-z][a-z\s_-]*\(\s*(?:sev|severity)[\s_-]*([1-5])\s*\)$")


def parse_severity(value: object) -> int | None:
    """Return the severity 1..5, or None for an empty or missing value.

    Accepts integers 1-5 and the strings described above, case- and
    space-insensitive. Anything else raises :class:`SeverityError` naming the value.
    """
    if value is None:
        return None
    if type(value) is int:
        if 1 <= value <= 5:
            return value
        raise SeverityError(value)
    if not isinstance(value, str):
        raise SeverityError(value)
    text = " ".join(value.lower().split())
    if not text:
        return None
    if text.isdigit():
        number = int(text)
        if 1 <= number <= 5 and len(text) == 1:
            return number
        raise SeverityError(value)
    match = _LEADING.match(text) or _TRAILING.match(text)
    if match is None:
        raise SeverityError(value)
    return int(match.group(1))
