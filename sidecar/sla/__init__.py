"""The SLA engine: pure business-time arithmetic, policies and due times (no I/O).

The rest of the product uses :func:`first_response_due` and :func:`evaluate`;
conventions are in the README ("SLA semantics") and ``schedule.py``.
"""

from __future__ import annotations

from sidecar.sla.due import (
    STATUSES,
    Explanation,
    SlaState,
    evaluate,
    explain,
    first_response_due,
)
from sidecar.sla.errors import NoTargetError, PolicyError, SeverityError, SlaInputError
from sidecar.sla.loader import load_policies, load_policy, parse_policies
from sidecar.sla.policy import (
    CORE_HOURS,
    DAY_MODES,
    DEFAULT_POLICY,
    Policy,
    Target,
    parse_duration,
)
from sidecar.sla.schedule import (
    DAY_NAMES,
    TWENTY_FOUR_SEVEN,
    Schedule,
    Segment,
    Window,
    format_duration,
    format_utc,
    parse_window,
)
from sidecar.sla.severity import SEVERITIES, parse_severity

__all__ = [
    "CORE_HOURS",
    "DAY_MODES",
    "DAY_NAMES",
    "DEFAULT_POLICY",
    "SEVERITIES",
    "STATUSES",
    "TWENTY_FOUR_SEVEN",
    "Explanation",
    "NoTargetError",
    "Policy",
    "PolicyError",
    "Schedule",
    "Segment",
    "SeverityError",
    "SlaInputError",
    "SlaState",
    "Target",
    "Window",
    "evaluate",
    "explain",
    "first_response_due",
    "format_duration",
    "format_utc",
    "load_policies",
    "load_policy",
    "parse_duration",
    "parse_policies",
    "parse_severity",
    "parse_window",
]
