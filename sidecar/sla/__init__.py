"""The SLA engine: pure business-time arithmetic, policies and due times (no I/O).

The rest of the product uses :func:`first_response_due` and :func:`evaluate`
(first response) and :func:`measure_all` (every metric a policy sets);
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
from sidecar.sla.metrics import (
    Cycle,
    MetricState,
    Reply,
    StatusChange,
    author_of,
    measure,
    measure_all,
)
from sidecar.sla.policy import (
    CORE_HOURS,
    DAY_MODES,
    DEFAULT_POLICY,
    METRICS,
    PAUSABLE_STATUSES,
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
    "METRICS",
    "PAUSABLE_STATUSES",
    "SEVERITIES",
    "STATUSES",
    "TWENTY_FOUR_SEVEN",
    "Cycle",
    "Explanation",
    "MetricState",
    "NoTargetError",
    "Policy",
    "PolicyError",
    "Reply",
    "Schedule",
    "Segment",
    "SeverityError",
    "SlaInputError",
    "SlaState",
    "StatusChange",
    "Target",
    "Window",
    "author_of",
    "evaluate",
    "explain",
    "first_response_due",
    "format_duration",
    "format_utc",
    "load_policies",
    "load_policy",
    "measure",
    "measure_all",
    "parse_duration",
    "parse_policies",
    "parse_severity",
    "parse_window",
]
