"""Configuration, read once from an environment mapping and an optional TOML file.

Every setting has an environment variable (``SIDECAR_*``, and ``PORT``); the TOML
file named by ``SIDECAR_CONFIG`` may set the same settings under ``[sidecar]``
with the variable's name in lower case without the prefix (``queue_url``,
``zendesk_subdomain`` ...). The environment wins over the file.
Secrets come from the environment only (the file may not hold them) and are
wrapped in :class:`Secret` so that no repr, log line or error message can show them.
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sidecar.errors import ConfigError


class Secret:
    """A credential; prints as ``<SECRET>`` everywhere, ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<SECRET>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def split_secrets(secret: Secret) -> list[str]:
    """The comma-separated values of a secret that takes several (rotation), in order."""
    return [part.strip() for part in secret.reveal().split(",") if part.strip()]


# Values of Zendesk's "support plan" dropdown (option tags) the sidecar knows;
# "Enterprise Support is available as an add-on for Ultra and Enterprise customers."
PLANS = ("free", "team", "pro", "velocity", "ultra", "enterprise")
ENTERPRISE_SUPPORT_PLANS = ("ultra", "enterprise")
# The levels the logging module knows by name (its aliases WARN and FATAL included).
LOG_LEVELS = tuple(name for name in logging.getLevelNamesMapping() if name != "NOTSET")


def _text(value: str) -> str | None:
    return value.strip() or None


def _int(value: str) -> int:
    return int(value)


# A signature's timestamp is accepted this far either way at most: the webhook's
# replay claim (sidecar.queue.store.REPLAY_CLAIM_SECONDS) lives twice this, so
# it outlives every copy of a request that still verifies.
MAX_WEBHOOK_TOLERANCE_SECONDS = 1800


def _tolerance(value: str) -> int:
    seconds = int(value)
    if not 0 < seconds <= MAX_WEBHOOK_TOLERANCE_SECONDS:
        raise ValueError(
            f"between 1 and {MAX_WEBHOOK_TOLERANCE_SECONDS} seconds (the webhook's "
            f"replay claim lives {2 * MAX_WEBHOOK_TOLERANCE_SECONDS} s)"
        )
    return seconds


def _opt_int(value: str) -> int | None:
    return int(value) if value.strip() else None


def _seconds(value: str) -> float:
    return float(value)


def _fraction(value: str) -> float:
    return float(value)


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError("")
    return level


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("")  # the expected form says it all


def _plans(value: str) -> str:
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    if not names or not all(
        n.replace("_", "").replace("-", "").isalnum() for n in names
    ):
        raise ValueError("")
    for name in names:
        # A near miss of a standard plan is a typo that would silently keep
        # that plan's organizations from paging: refuse it (docs/decisions.md,
        # "Operator configuration and CLI"). Other names are custom option tags.
        near = _near_plan(name)
        if near is not None:
            raise ValueError(f"{name!r} is not a Zendesk plan (did you mean {near!r}?)")
    return ",".join(dict.fromkeys(names))


def _near_plan(name: str) -> str | None:
    """The standard plan ``name`` is a likely typo of, or None."""
    if name in PLANS:
        return None
    close = difflib.get_close_matches(name, PLANS, n=1, cutoff=0.85)
    return close[0] if close else None


def _secret(value: str) -> Secret | None:
    return Secret(value) if value else None


def _emoji_names(value: str) -> str:
    names = [n.strip().strip(":").lower() for n in value.split(",") if n.strip()]
    if not names or not all(
        n.replace("_", "").replace("-", "").replace("+", "").isalnum() for n in names
    ):
        raise ValueError("")
    return ",".join(dict.fromkeys(names))


# What each kind of setting expects, and an example, for error messages and
# `sidecar doctor`: (expected form, example value).
_FORMS: dict[Callable[[str], Any], tuple[str, str]] = {
    _int: ("a whole number", "300"),
    _tolerance: (
        f"a whole number of seconds, 1 to {MAX_WEBHOOK_TOLERANCE_SECONDS}",
        "300",
    ),
    _opt_int: ("a numeric id (digits only), or empty for none", "360001234567"),
    _seconds: ("a number of seconds (decimals allowed)", "5.0"),
    _fraction: ("a fraction between 0 and 1 (0.75 = 75 %)", "0.75"),
    _bool: ("a boolean: 1/0, true/false, yes/no or on/off", "true"),
    _log_level: (
        "a log level: DEBUG, INFO, WARNING, ERROR or CRITICAL",
        "INFO",
    ),
    _plans: (
        "plan option tags, comma-separated (Zendesk's plans: " + ", ".join(PLANS) + ")",
        "ultra,enterprise",
    ),
    _emoji_names: ("emoji names without colons, comma-separated", "ticket"),
}


def _setting(env: str, parse: Callable[[str], Any], default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "parse": parse, "doc": doc})


DEFAULT_QUEUE_URL = "sqlite:///sidecar-queue.db"


@dataclass(frozen=True)
class Config:
    """All settings; tests build it directly, production calls :meth:`from_env`."""

    # --- web / queue ------------------------------------------------------
    webhook_secret: Secret | None = _setting(
        "SIDECAR_WEBHOOK_SECRET",
        _secret,
        None,
        "Zendesk webhook signing secret; several, comma-separated, for several "
        "webhooks or a rotation. Required by the production entry points; "
        "`sidecar serve` generates one when unset.",
    )
    webhook_tolerance_seconds: int = _setting(
        "SIDECAR_WEBHOOK_TOLERANCE",
        _tolerance,
        300,
        "How far (seconds, either way, at most 1800) a signature timestamp may be "
        "from now.",
    )
    body_read_seconds: float = _setting(
        "SIDECAR_BODY_READ_SECONDS",
        _seconds,
        5.0,
        "Longest a webhook body may take to arrive; a slower upload gets 408 "
        "(Zendesk gives up after 10 s).",
    )
    slow_uploads: int = _setting(
        "SIDECAR_SLOW_UPLOADS",
        _int,
        4,
        "Uploads per web process that may still be arriving after 0.5 s; "
        "beyond that a slow upload gets 503 + Retry-After at once.",
    )
    queue_url: str = _setting(
        "SIDECAR_QUEUE_URL",
        str,
        DEFAULT_QUEUE_URL,
        "`sqlite:///path/queue.db` (default: sidecar-queue.db in the working "
        "directory) or `redis://host:port/db` for scale-out; `?queue=NAME` "
        "(a-z, 0-9, _) keeps several deployments apart in one Redis database.",
    )
    port: int = _setting("PORT", _int, 8000, "HTTP port of the web process.")
    config_file: str | None = _setting(
        "SIDECAR_CONFIG",
        _text,
        None,
        "TOML file with settings under [sidecar]; the environment wins.",
    )
    log_level: str = _setting(
        "SIDECAR_LOG_LEVEL",
        _log_level,
        "INFO",
        "Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )
    retry_base_seconds: float = _setting(
        "SIDECAR_RETRY_BASE_SECONDS",
        _seconds,
        5.0,
        "First retry delay of a failed job; doubles per attempt (8 attempts, max 15 min). "
        "Urgent jobs (pages, SEV 1/2) start at 1 s or this, whichever is less, "
        "doubling to 30 s (27 attempts).",
    )
    worker_metrics_listen: str | None = _setting(
        "SIDECAR_WORKER_METRICS_LISTEN",
        _text,
        None,
        "`[HOST:]PORT` where `sidecar worker` serves its own /metrics (jobs, Zendesk "
        "calls; HOST defaults to 0.0.0.0), for a worker in its own container; unset: "
        "none. `sidecar serve` folds the worker's metrics into the web's /metrics.",
    )

    # --- SLA policy -------------------------------------------------------
    policy_file: str | None = _setting(
        "SIDECAR_POLICY_FILE",
        _text,
        None,
        "TOML policy file (schedules, policies); unset: the built-in default policy.",
    )
    policy_name: str | None = _setting(
        "SIDECAR_POLICY_NAME",
        _text,
        None,
        "Which policy of the file applies; unset: the file's only policy.",
    )
    at_risk_fraction: float = _setting(
        "SIDECAR_AT_RISK_FRACTION",
        _fraction,
        0.75,
        "Share of the target elapsed at which a ticket turns `sla_at_risk`.",
    )

    # --- Zendesk ----------------------------------------------------------
    zendesk_subdomain: str | None = _setting(
        "SIDECAR_ZENDESK_SUBDOMAIN",
        _text,
        None,
        "Zendesk subdomain (acme for acme.zendesk.com).",
    )
    zendesk_email: str | None = _setting(
        "SIDECAR_ZENDESK_EMAIL",
        _text,
        None,
        "Email of the API user (with an API token).",
    )
    zendesk_api_token: Secret | None = _setting(
        "SIDECAR_ZENDESK_API_TOKEN", _secret, None, "Zendesk API token."
    )
    zendesk_oauth_token: Secret | None = _setting(
        "SIDECAR_ZENDESK_OAUTH_TOKEN",
        _secret,
        None,
        "Zendesk OAuth token (instead of email + API token).",
    )
    zendesk_url: str | None = _setting(
        "SIDECAR_ZENDESK_URL",
        _text,
        None,
        "Base URL override, e.g. http://127.0.0.1:9000 (test doubles, egress proxies).",
    )
    severity_field_id: int | None = _setting(
        "SIDECAR_SEVERITY_FIELD_ID",
        _opt_int,
        None,
        'Ticket field id of the "Issue Severity" dropdown.',
    )
    due_at_field_id: int | None = _setting(
        "SIDECAR_DUE_AT_FIELD_ID",
        _opt_int,
        None,
        "Text ticket field id for the ISO 8601 UTC due time.",
    )
    due_date_field_id: int | None = _setting(
        "SIDECAR_DUE_DATE_FIELD_ID",
        _opt_int,
        None,
        "Optional date ticket field id (YYYY-MM-DD) for views.",
    )
    due_date_timezone: str = _setting(
        "SIDECAR_DUE_DATE_TIMEZONE",
        str,
        "UTC",
        "IANA zone whose local date goes in the date field.",
    )
    first_response_at_field_id: int | None = _setting(
        "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
        _opt_int,
        None,
        "Optional text ticket field id: when the first public agent reply came "
        "(ISO 8601 UTC), written with `sla_met`/`sla_breached`.",
    )
    first_response_date_field_id: int | None = _setting(
        "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
        _opt_int,
        None,
        "Optional date ticket field id: the first reply's date (in "
        "SIDECAR_DUE_DATE_TIMEZONE), for Explore filters.",
    )
    breach_minutes_field_id: int | None = _setting(
        "SIDECAR_BREACH_MINUTES_FIELD_ID",
        _opt_int,
        None,
        "Optional numeric ticket field id: by how many covered minutes a breached "
        "first response was late (rounded up).",
    )
    next_reply_due_field_id: int | None = _setting(
        "SIDECAR_NEXT_REPLY_DUE_FIELD_ID",
        _opt_int,
        None,
        "Optional text ticket field id: when the next reply is due (ISO 8601 "
        "UTC; empty when none is due). For policies that set `next_reply`.",
    )
    periodic_update_due_field_id: int | None = _setting(
        "SIDECAR_PERIODIC_UPDATE_DUE_FIELD_ID",
        _opt_int,
        None,
        "Optional text ticket field id: when the next periodic update is due "
        "(ISO 8601 UTC). For policies that set `periodic_update`.",
    )
    resolution_due_field_id: int | None = _setting(
        "SIDECAR_RESOLUTION_DUE_FIELD_ID",
        _opt_int,
        None,
        "Optional text ticket field id: when the resolution is due (ISO 8601 "
        "UTC; empty while paused). For policies that set `resolution`.",
    )
    dry_run: bool = _setting(
        "SIDECAR_DRY_RUN",
        _bool,
        False,
        "Shadow mode: read and compute, log the diff, write nothing.",
    )
    budget_requests: int = _setting(
        "SIDECAR_ZENDESK_BUDGET_REQUESTS",
        _int,
        350,
        "Zendesk requests the whole deployment may make per budget window (default "
        "half of Enterprise's 700 a minute; raise with the High Volume add-on).",
    )
    budget_updates: int = _setting(
        "SIDECAR_ZENDESK_BUDGET_UPDATES",
        _int,
        30,
        "Ticket updates the whole deployment may make per budget window (the account "
        "has 100 a minute, agents' own updates included: they keep 70).",
    )
    budget_window_seconds: float = _setting(
        "SIDECAR_ZENDESK_BUDGET_WINDOW",
        _seconds,
        60.0,
        "Length of the budget's sliding window, in seconds.",
    )
    budget_reserve: float = _setting(
        "SIDECAR_ZENDESK_BUDGET_RESERVE",
        _fraction,
        0.2,
        "Share of each budget kept for SEV 1/2 work of entitled organizations "
        "(due-time write, page marker); ordinary work stops short of it.",
    )
    budget_bulk: float = _setting(
        "SIDECAR_ZENDESK_BUDGET_BULK",
        _fraction,
        0.5,
        "Part of the ordinary (non-reserved) share that backfill and replay may "
        "use per window; live work keeps the rest, and bulk work pauses while "
        "live work waits.",
    )
    org_plan_field: str = _setting(
        "SIDECAR_ORG_PLAN_FIELD",
        str,
        "support_plan",
        "Organization field key of the support plan.",
    )
    org_enterprise_field: str = _setting(
        "SIDECAR_ORG_ENTERPRISE_FIELD",
        str,
        "enterprise_support",
        "Organization field key of the Enterprise Support checkbox.",
    )
    org_plans: str = _setting(
        "SIDECAR_ORG_PLANS",
        _plans,
        "ultra,enterprise",
        "Plans (support_plan option tags, comma-separated) that may hold Enterprise Support.",
    )
    org_cache_seconds: int = _setting(
        "SIDECAR_ORG_CACHE_SECONDS",
        _int,
        300,
        "How long an organization read is reused.",
    )
    open_ticket_counts_seconds: int = _setting(
        "SIDECAR_OPEN_TICKET_COUNTS_SECONDS",
        _int,
        300,
        "How often the worker counts unsolved tickets per SLA status with Zendesk "
        "Search (4 requests, lowest budget priority) for /metrics; 0 turns it off.",
    )
    zendesk_schedules_refresh_seconds: int = _setting(
        "SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS",
        _int,
        300,
        "How often the worker re-reads the Zendesk schedules the policy names "
        "(Business Hours API, 1 + one request per schedule); a change applies to "
        "the open tickets. 0: only at start.",
    )
    entitlements_file: str | None = _setting(
        "SIDECAR_ENTITLEMENTS_FILE",
        _text,
        None,
        "TOML entitlements file (dates, enhanced SLAs, routing keys, Slack, CSM).",
    )

    # --- on-call ----------------------------------------------------------
    pagerduty_routing_key: Secret | None = _setting(
        "SIDECAR_PAGERDUTY_ROUTING_KEY",
        _secret,
        None,
        "PagerDuty Events API v2 routing key.",
    )
    pagerduty_url: str = _setting(
        "SIDECAR_PAGERDUTY_URL",
        str,
        "https://events.pagerduty.com/v2/enqueue",
        "Events API v2 endpoint (http://127.0.0.1:PORT/... accepted for test doubles).",
    )
    pagerduty_webhook_secret: Secret | None = _setting(
        "SIDECAR_PAGERDUTY_WEBHOOK_SECRET",
        _secret,
        None,
        "Signing secret of the PagerDuty V3 webhook subscription (POST "
        "/webhooks/pagerduty); old and new, comma-separated, during a rotation. "
        "Unset: the endpoint refuses every delivery.",
    )
    pagerduty_webhook_max_age_seconds: int = _setting(
        "SIDECAR_PAGERDUTY_WEBHOOK_MAX_AGE",
        _int,
        3600,
        "Oldest PagerDuty event (seconds since its occurred_at) the endpoint "
        "accepts; PagerDuty retries a delivery for about 20 minutes.",
    )
    pagerduty_api_token: Secret | None = _setting(
        "SIDECAR_PAGERDUTY_API_TOKEN",
        _secret,
        None,
        "PagerDuty REST API key: read-only is enough for the on-call lookup (unset: "
        "the sidebar and `sidecar explain` do not show who is on call); "
        "`sidecar pagerduty setup` needs write access.",
    )
    pagerduty_api_url: str = _setting(
        "SIDECAR_PAGERDUTY_API_URL",
        str,
        "https://api.pagerduty.com",
        "PagerDuty REST API base URL (http://127.0.0.1:PORT accepted for test doubles).",
    )
    pagerduty_oncall_policies: str | None = _setting(
        "SIDECAR_PAGERDUTY_ONCALL_POLICIES",
        _text,
        None,
        'Who answers each routing key, for "on call now": ROUTE=ESCALATION_POLICY_ID '
        "or ROUTE=service:SERVICE_ID, comma-separated; ROUTE is `default` "
        "(SIDECAR_PAGERDUTY_ROUTING_KEY) or a key's fingerprint (`sidecar explain`).",
    )
    page_request_any_org: bool = _setting(
        "SIDECAR_PAGE_REQUEST_ANY_ORG",
        _bool,
        False,
        'Whether the "Page on-call" macro pages for organizations without '
        "Enterprise Support too; off: such a request gets a private note saying why.",
    )

    # --- Slack app (on when both the signing secret and the bot token are set) --
    slack_signing_secret: Secret | None = _setting(
        "SIDECAR_SLACK_SIGNING_SECRET",
        _secret,
        None,
        "Slack app signing secret (Basic Information > App Credentials).",
    )
    slack_bot_token: Secret | None = _setting(
        "SIDECAR_SLACK_BOT_TOKEN",
        _secret,
        None,
        "Slack bot token (xoxb-…, OAuth & Permissions).",
    )
    slack_api_url: str = _setting(
        "SIDECAR_SLACK_API_URL",
        str,
        "https://slack.com/api/",
        "Slack Web API base URL (test doubles, egress proxies).",
    )
    slack_emoji: str = _setting(
        "SIDECAR_SLACK_EMOJI",
        _emoji_names,
        "ticket,admission_tickets",
        "Reactions that open a ticket (emoji names without colons, comma-separated).",
    )

    # --- the agents' ticket sidebar app (zendesk-app/) -----------------------
    app_secret: Secret | None = _setting(
        "SIDECAR_APP_SECRET",
        _secret,
        None,
        "Shared secret of the ticket sidebar app: the app's secure setting "
        "`sidecar_secret` holds the same value, sent by Zendesk's proxy as "
        "`Authorization: Bearer …` to GET /api/tickets/<id>/sla. Several, "
        "comma-separated, while rotating (`setup --app` installs the first). "
        "Unset: the endpoint answers 401.",
    )

    def __post_init__(self) -> None:
        if not 0.5 <= self.body_read_seconds <= 9:
            raise ConfigError(
                "SIDECAR_BODY_READ_SECONDS must be between 0.5 and 9 (Zendesk "
                f"gives up after 10 s), got {self.body_read_seconds}"
            )
        if self.slow_uploads < 0:
            raise ConfigError(
                f"SIDECAR_SLOW_UPLOADS must be 0 or more, got {self.slow_uploads}"
            )
        if not 0 <= self.at_risk_fraction <= 1:
            raise ConfigError(
                "SIDECAR_AT_RISK_FRACTION must be between 0 and 1 (0.75 = at risk "
                f"once 75% of the target has elapsed), got {self.at_risk_fraction}"
            )
        if (
            self.open_ticket_counts_seconds != 0
            and self.open_ticket_counts_seconds < 60
        ):
            raise ConfigError(
                "SIDECAR_OPEN_TICKET_COUNTS_SECONDS must be 0 (off) or at least 60, "
                f"got {self.open_ticket_counts_seconds}"
            )
        if (
            self.zendesk_schedules_refresh_seconds != 0
            and self.zendesk_schedules_refresh_seconds < 60
        ):
            raise ConfigError(
                "SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS must be 0 (only at start) "
                f"or at least 60, got {self.zendesk_schedules_refresh_seconds}"
            )
        if self.budget_requests < 1 or self.budget_updates < 1:
            raise ConfigError(
                "SIDECAR_ZENDESK_BUDGET_REQUESTS and SIDECAR_ZENDESK_BUDGET_UPDATES "
                "must be at least 1"
            )
        if not 0 < self.budget_bulk <= 1:
            raise ConfigError(
                "SIDECAR_ZENDESK_BUDGET_BULK must be more than 0 and at most 1 "
                f"(0.5 = half the ordinary share), got {self.budget_bulk}"
            )
        if self.budget_window_seconds <= 0 or not 0 <= self.budget_reserve < 1:
            raise ConfigError(
                "SIDECAR_ZENDESK_BUDGET_WINDOW must be more than 0 and "
                "SIDECAR_ZENDESK_BUDGET_RESERVE between 0 and 1 (0.2 = 20 %)"
            )
        try:
            ZoneInfo(self.due_date_timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(
                f"SIDECAR_DUE_DATE_TIMEZONE={self.due_date_timezone!r} is not an IANA "
                "time zone (e.g. UTC, Europe/London)"
            ) from None

    @property
    def eligible_plans(self) -> tuple[str, ...]:
        """The plans that may hold Enterprise Support (SIDECAR_ORG_PLANS)."""
        return tuple(self.org_plans.split(","))

    @property
    def slack_enabled(self) -> bool:
        """True when the Slack app is configured (signing secret and bot token)."""
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def zendesk_connected(self) -> bool:
        """True when there are Zendesk credentials to connect with."""
        return bool(
            self.zendesk_subdomain
            and (
                self.zendesk_oauth_token
                or (self.zendesk_email and self.zendesk_api_token)
            )
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Build the config from an environment mapping and the file it names."""
        file_values: Mapping[str, Any] = {}
        config_path = environ.get("SIDECAR_CONFIG", "").strip()
        if config_path:
            file_values = _read_file_settings(config_path)
        values: dict[str, Any] = {}
        for f in fields(cls):
            env = f.metadata["env"]
            key = env.removeprefix("SIDECAR_").lower()
            if env in environ:
                raw = environ[env]
            elif key in file_values:
                raw = file_values[key]
                if not isinstance(raw, str):
                    raw = str(raw).lower() if isinstance(raw, bool) else str(raw)
            else:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise InvalidSetting(
                    f, raw, in_file=None if env in environ else config_path, why=exc
                ) from None
        return cls(**values)

    def warnings(self) -> list[str]:
        """What is allowed but worth saying loudly at start (custom plan names)."""
        custom = [name for name in self.eligible_plans if name not in PLANS]
        if not custom:
            return []
        return [
            f"SIDECAR_ORG_PLANS={self.org_plans}: {', '.join(map(repr, custom))} "
            f"{'is not a Zendesk plan' if len(custom) == 1 else 'are not Zendesk plans'} "
            f"({', '.join(PLANS)}): organizations get Enterprise Support (and SEV 1/2 "
            f"pages) only if their {self.org_plan_field!r} field carries exactly that "
            "option tag; `sidecar orgs check` lists the organizations it decides"
        ]


def expected_form(env: str) -> tuple[str, str]:
    """Return (expected form, example value) of the setting named ``env``."""
    for f in fields(Config):
        if f.metadata["env"] == env:
            expected, example = _FORMS.get(f.metadata["parse"], ("text", ""))
            if f.default is not None and not isinstance(f.default, bool):
                example = str(f.default)  # the default is the best example
            return expected, example
    raise KeyError(env)


class InvalidSetting(ConfigError):
    """A setting's value cannot be parsed; the message says what to write instead.

    It names the setting, the value (never a secret's), the expected form and
    an example; ``setting``, ``expected`` and ``example`` carry them for
    `sidecar doctor`.
    """

    def __init__(
        self,
        f: Field[Any],
        raw: str,
        *,
        in_file: str | None = None,
        why: Exception | None = None,
    ) -> None:
        self.setting = f.metadata["env"]
        self.expected, self.example = expected_form(self.setting)
        secret = f.metadata["parse"] is _secret
        shown = "<SECRET>" if secret else repr(raw)
        if in_file is None:
            where, example = self.setting, f"{self.setting}={self.example}"
        else:
            key = self.setting.removeprefix("SIDECAR_").lower()
            where = f"{in_file}: [sidecar] {key}"
            example = f"{key} = {self.example!r}"
        detail = str(why) if why is not None and not secret else ""
        # float()/int() say only "could not convert": the expected form says more.
        if detail.startswith(("could not convert", "invalid literal")):
            detail = ""
        super().__init__(
            f"{where}={shown} is not valid{': ' + detail if detail else ''}; "
            f"expected {self.expected}, e.g. {example}"
        )


def _read_file_settings(path: str) -> Mapping[str, Any]:
    try:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(
            f"SIDECAR_CONFIG={path}: cannot read ({exc.strerror})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    section = data.get("sidecar", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [sidecar] must be a table")
    known = {f.metadata["env"].removeprefix("SIDECAR_").lower() for f in fields(Config)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{path}: [sidecar] unknown setting(s): {', '.join(unknown)}")
    secrets = sorted(
        f.metadata["env"]
        for f in fields(Config)
        if f.metadata["parse"] is _secret
        and f.metadata["env"].removeprefix("SIDECAR_").lower() in section
    )
    if secrets:
        raise ConfigError(
            f"{path}: secrets come from the environment only: set "
            f"{', '.join(secrets)} there and remove it from the file"
        )
    return section


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, for the README and `sidecar config`."""
    rows = []
    for f in fields(Config):
        default = f.default
        shown = "—" if default is None else str(default)
        rows.append((f.metadata["env"], shown, f.metadata["doc"]))
    return rows
