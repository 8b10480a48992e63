"""The checklist's lines, each a pure function of what was read (no I/O here).

Every function takes values gathered by :mod:`sidecar.doctor.gather` and
returns :class:`Line` objects: ok, warn or fail, what was found, and for a
warn or fail the next step, naming the setting or the command that fixes it.
One module per section; everything is re-exported here.
"""

from sidecar.doctor.checks.configuration import (
    CONFIG,
    KNOWN_SETTINGS,
    check_entitlements,
    check_plans,
    check_policy,
    check_settings,
)
from sidecar.doctor.checks.lines import (
    Line,
    Report,
    Status,
    fail,
    ok,
    options_of,
    warn,
    worst,
)
from sidecar.doctor.checks.pagerduty import (
    PAGERDUTY,
    OrgKeys,
    check_pagerduty,
    check_pagerduty_webhooks,
)
from sidecar.doctor.checks.queue import (
    QUEUE,
    STALE_READY_SECONDS,
    QueueState,
    check_queue,
)
from sidecar.doctor.checks.schedules import check_zendesk_schedules
from sidecar.doctor.checks.slack import (
    APP_SCOPES,
    SLACK,
    ChannelState,
    check_channels,
    check_slack_identity,
)
from sidecar.doctor.checks.zendesk import (
    CLOCK_OK_SECONDS,
    TYPE_NAMES,
    ZENDESK,
    FieldWant,
    HookState,
    check_api_user,
    check_budget,
    check_clock,
    check_fields,
    check_severity_options,
    check_trigger,
    check_webhooks,
    fields_wanted,
)

__all__ = [
    "APP_SCOPES",
    "CLOCK_OK_SECONDS",
    "CONFIG",
    "KNOWN_SETTINGS",
    "PAGERDUTY",
    "QUEUE",
    "SLACK",
    "STALE_READY_SECONDS",
    "TYPE_NAMES",
    "ZENDESK",
    "ChannelState",
    "FieldWant",
    "HookState",
    "Line",
    "OrgKeys",
    "QueueState",
    "Report",
    "Status",
    "check_api_user",
    "check_budget",
    "check_channels",
    "check_clock",
    "check_entitlements",
    "check_fields",
    "check_pagerduty",
    "check_pagerduty_webhooks",
    "check_plans",
    "check_policy",
    "check_queue",
    "check_settings",
    "check_severity_options",
    "check_slack_identity",
    "check_trigger",
    "check_webhooks",
    "check_zendesk_schedules",
    "fail",
    "fields_wanted",
    "ok",
    "options_of",
    "warn",
    "worst",
]
