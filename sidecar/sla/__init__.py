"""The SLA engine: pure business-time arithmetic, policies and due times (no I/O).

The rest of the product uses :func:`first_response_due` and :func:`evaluate`
(first response) and :func:`measure_all` (every metric a policy sets);
conventions are in the README ("SLA semantics") and ``schedule.py``.
"""

from __future__ import annotations

from sidecar.sla.business_hours import (
    BusinessHours,
    Holiday,
    ScheduleBook,
    UnknownZendeskSchedule,
    interval_windows,
)
from sidecar.sla.due import (
    STATUSES,
    Explanation,
    SlaState,
    evaluate,
    explain,
    first_response_due,
)
from sidecar.sla.errors import NoTargetError, PolicyError, SeverityError, SlaInputError
from sidecar.sla.loader import (
    ZendeskLookup,
    load_policies,
    load_policy,
    parse_policies,
    read_policy_file,
    select_policy,
    zendesk_schedule_refs,
)
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
    "BusinessHours",
    "Cycle",
    "Explanation",
    "Holiday",
    "MetricState",
    "NoTargetError",
    "Policy",
    "PolicyError",
    "Reply",
    "Schedule",
    "ScheduleBook",
    "Segment",
    "SeverityError",
    "SlaInputError",
    "SlaState",
    "StatusChange",
    "Target",
    "UnknownZendeskSchedule",
    "Window",
    "ZendeskLookup",
    "author_of",
    "evaluate",
    "explain",
    "first_response_due",
    "format_duration",
    "format_utc",
    "interval_windows",
    "load_policies",
    "load_policy",
    "measure",
    "measure_all",
    "parse_duration",
    "parse_policies",
    "parse_severity",
    "parse_window",
    "read_policy_file",
    "select_policy",
    "zendesk_schedule_refs",
]
