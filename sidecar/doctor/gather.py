"""Read what the checks need, through the existing adapters; write nothing.

Zendesk: Show Self, the ticket and organization fields, webhooks (and each of
the sidecar's webhooks' signing secret, with GET: a POST would reset it) and
triggers: 5 calls plus one per webhook, unmetered (the budget counts in the
queue store, which doctor must not write) and reported. Slack: auth.test and
one conversations.info per mapped channel. PagerDuty: no call (no event is
ever sent). The queue is opened only where it exists and only read.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from sidecar.commands.context import CliContext
from sidecar.commands.run import secret_file
from sidecar.config import Config, Secret
from sidecar.doctor import checks
from sidecar.doctor.checks import Line, Report
from sidecar.entitlements.loader import is_routing_key
from sidecar.entitlements.store import EntitlementsStore
from sidecar.errors import (
    AuthFailed,
    ConfigError,
    Gone,
    QueueUnavailable,
    SidecarError,
    UpstreamError,
)
from sidecar.queue.backend import sqlite_path
from sidecar.sla import read_policy_file, zendesk_schedule_refs
from sidecar.slack import api as slack_api
from sidecar.tasks.jobs import AUTH_SERVICES, auth_failed_flag
from sidecar.zendesk.budget import Shares, headroom
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours
from sidecar.zendesk.setup import ORG_WEBHOOK, TICKET_WEBHOOK

RECEIVER_PATH = "/webhooks/zendesk"


def run(
    context: CliContext, *, url: str | None, clock: Callable[[], float] = time.time
) -> Report:
    """Check the whole installation; each section whatever the others found.

    Only a configuration that does not parse stops it after the settings lines.
    """
    report = Report()
    report.lines += checks.check_settings(context.environ, parse=Config.from_env)
    try:
        config = context.config
    except ConfigError:
        report.lines.append(
            checks.fail(
                checks.CONFIG,
                "other checks",
                "skipped: the configuration does not parse",
                "fix the settings above, then run `sidecar doctor` again",
            )
        )
        return report
    report.lines.append(checks.check_policy(lambda: _describe_policy(context)))
    store: EntitlementsStore | None = None

    def describe_entitlements() -> str:
        nonlocal store
        store = EntitlementsStore.from_config(config, environ=context.environ)
        if store.path is None:
            return "no entitlements file (Zendesk organization fields only)"
        return f"{Path(store.path).resolve()}: {len(store.file.orgs)} organization(s)"

    report.lines.append(checks.check_entitlements(describe_entitlements))
    report.lines += checks.check_queue(_queue_state(context, config, clock))
    report.lines += _guarded(
        checks.ZENDESK,
        lambda: _zendesk(context, config, url=url, clock=clock, report=report),
    )
    report.lines += _guarded(checks.PAGERDUTY, lambda: _pagerduty(config, store))
    report.lines += _guarded(checks.SLACK, lambda: _slack(config, store, report=report))
    if store is None:
        report.lines.append(
            checks.warn(
                checks.PAGERDUTY,
                "entitled organizations",
                "not checked: the entitlements file did not load (above); nor "
                "were its Slack channels",
                "fix the entitlements file, then run `sidecar doctor` again",
            )
        )
    # Plan names are read from Zendesk but belong to the configuration.
    order = [
        checks.CONFIG,
        checks.QUEUE,
        checks.ZENDESK,
        checks.PAGERDUTY,
        checks.SLACK,
    ]
    report.lines.sort(key=lambda line: order.index(line.section))
    return report


def _guarded(section: str, run_section: Callable[[], list[Line]]) -> list[Line]:
    """The section's lines; a sidecar error it did not expect becomes one fail line."""
    try:
        return run_section()
    except SidecarError as exc:
        return [
            checks.fail(
                section,
                "section",
                f"could not be checked: {exc}",
                "fix what the message names, then run `sidecar doctor` again",
            )
        ]


def _describe_policy(context: CliContext) -> str:
    config = context.config
    policy = context.policy  # with the service's copy of its Zendesk schedules
    if config.policy_file is None:
        return f"built-in policy {policy.name!r}"
    return f"{Path(config.policy_file).resolve()}: policy {policy.name!r}"


def _schedule_refs(config: Config) -> list[str | int]:
    """The Zendesk schedules the policy file names (none when it does not load)."""
    if config.policy_file is None:
        return []
    try:
        return zendesk_schedule_refs(read_policy_file(config.policy_file))
    except SidecarError:
        return []  # the policy line says why


# --- queue ---------------------------------------------------------------------------


def _queue_state(
    context: CliContext, config: Config, clock: Callable[[], float]
) -> checks.QueueState:
    url = config.queue_url.strip()
    where = url
    try:
        if url.lower().startswith("sqlite:"):
            where = f"sqlite {sqlite_path(url).resolve()}"
        queue = context.queue()  # refuses to create a file that is not there
        if not url.lower().startswith("sqlite:"):
            where = queue.description
        queue.ping()
        oldest = [t for t in queue.oldest_ready().values() if t is not None]
        return checks.QueueState(
            where=where,
            depth=queue.depth(),
            scheduled=queue.scheduled(),
            dead_letters=len(queue.failed_jobs()),
            oldest_ready_age=max(0.0, clock() - min(oldest)) if oldest else None,
            refused=tuple(
                (service, since)
                for service in AUTH_SERVICES
                if (since := queue.get_flag(auth_failed_flag(service))) is not None
            ),
        )
    except (ConfigError, QueueUnavailable) as exc:
        return checks.QueueState(where=where, error=str(exc))


# --- Zendesk ---------------------------------------------------------------------------


def _zendesk(
    context: CliContext,
    config: Config,
    *,
    url: str | None,
    clock: Callable[[], float],
    report: Report,
) -> list[Line]:
    if not config.zendesk_connected:
        return [
            checks.warn(
                checks.ZENDESK,
                "connection",
                "skipped: not configured: webhooks are queued but no job runs",
                "set SIDECAR_ZENDESK_SUBDOMAIN and SIDECAR_ZENDESK_EMAIL + "
                "SIDECAR_ZENDESK_API_TOKEN (or SIDECAR_ZENDESK_OAUTH_TOKEN)",
            )
        ]
    try:
        client = context.zendesk()
    except ConfigError as exc:
        return [
            checks.fail(checks.ZENDESK, "connection", str(exc), "fix the setting named")
        ]
    try:
        lines = _zendesk_checks(client, config, url=url, clock=clock)
        refs = _schedule_refs(config)
        account = (
            _read(lines, "schedules", lambda: fetch_business_hours(client))
            if refs
            else None
        )
        if account is not None:
            lines += checks.check_zendesk_schedules(
                refs,
                account,
                stored=context.schedules.stored(),
                now=datetime.fromtimestamp(clock(), UTC).replace(microsecond=0),
                refresh_seconds=config.zendesk_schedules_refresh_seconds,
            )
        return lines
    finally:
        report.calls["zendesk"] = client.calls_made


def _zendesk_checks(
    client: ZendeskClient,
    config: Config,
    *,
    url: str | None,
    clock: Callable[[], float],
) -> list[Line]:
    account = config.zendesk_url or f"https://{config.zendesk_subdomain}.zendesk.com"
    started = clock()
    try:
        me = client.whoami()
    except AuthFailed as exc:
        who = config.zendesk_email or "the OAuth token"
        return [
            checks.fail(
                checks.ZENDESK,
                "credentials",
                f"{account} refused {who}: {exc}",
                "check SIDECAR_ZENDESK_EMAIL and SIDECAR_ZENDESK_API_TOKEN (or "
                "SIDECAR_ZENDESK_OAUTH_TOKEN) and SIDECAR_ZENDESK_SUBDOMAIN; the "
                "token must be active (Admin Center > Apps and integrations > Zendesk API)",
            )
        ]
    except UpstreamError as exc:
        return [
            checks.fail(
                checks.ZENDESK,
                "credentials",
                f"cannot reach {account}: {exc}",
                "check the network from this machine, SIDECAR_ZENDESK_SUBDOMAIN and "
                "SIDECAR_ZENDESK_URL",
            )
        ]
    answered = clock()
    lines = checks.check_api_user(me.role, me.id, me.email)
    lines.append(
        checks.check_clock(
            _skew((started + answered) / 2, client.last_headers),
            tolerance_seconds=config.webhook_tolerance_seconds,
        )
    )
    rate = headroom(client.last_headers)

    ticket_fields = _read(lines, "ticket fields", client.list_ticket_fields)
    if ticket_fields is not None:
        lines += checks.check_fields(checks.fields_wanted(config), ticket_fields)
        severity = checks.check_severity_options(
            config.severity_field_id,
            ticket_fields,
            slack_enabled=config.slack_enabled,
        )
        if severity is not None:
            lines.append(severity)
    org_fields = _read(lines, "organization fields", client.list_organization_fields)
    if org_fields is not None:
        # Plan names are configuration, checked against the account's options.
        lines += checks.check_plans(
            config.eligible_plans,
            org_fields,
            plan_field=config.org_plan_field,
            enterprise_field=config.org_enterprise_field,
        )
    hooks = _read(lines, "webhooks", client.list_webhooks)
    if hooks is not None:
        ours = select_hooks(hooks, url=url)
        secrets = _webhook_secrets(config)
        states = [_hook_state(client, hook, secrets) for hook in ours]
        lines += checks.check_webhooks(states, url=url, secrets_set=bool(secrets))
        triggers = _read(lines, "triggers", client.list_triggers)
        if triggers is not None:
            lines.append(
                checks.check_trigger(
                    triggers, hook_ids=[str(h.get("id")) for h in ours], url=url
                )
            )
    rate = headroom(client.last_headers) or rate
    lines.append(
        checks.check_budget(
            rate,
            share=config.budget_requests,
            low_water=Shares().low_water,
            calls=client.calls_made,
        )
    )
    return lines


def _read(lines: list[Line], what: str, read: Callable[[], Any]) -> Any:
    """``read()``, or None after adding a line saying why it failed."""
    try:
        return read()
    except AuthFailed as exc:
        lines.append(
            checks.fail(
                checks.ZENDESK,
                what,
                f"not readable: {exc}",
                "make the API user an admin (SIDECAR_ZENDESK_EMAIL)",
            )
        )
    except UpstreamError as exc:
        lines.append(
            checks.fail(
                checks.ZENDESK,
                what,
                f"not readable: {exc}",
                "run `sidecar doctor` again; if it persists, check status.zendesk.com",
            )
        )
    return None


def _skew(local: float, headers: Mapping[str, str]) -> float | None:
    """Our clock minus Zendesk's (seconds), from the answer's Date header."""
    value = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not value:
        return None
    try:
        theirs = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    # Date has whole seconds (truncated): on average half a second later.
    return local - (theirs + 0.5)


def select_hooks(
    hooks: Sequence[Mapping[str, Any]], *, url: str | None
) -> list[dict[str, Any]]:
    """The sidecar's webhooks: by setup's names, the URL, or the receiver's path."""
    return [
        dict(h)
        for h in hooks
        if h.get("name") in (TICKET_WEBHOOK, ORG_WEBHOOK)
        or (url is not None and h.get("endpoint") == url)
        or str(h.get("endpoint") or "").rstrip("/").endswith(RECEIVER_PATH)
    ]


def _webhook_secrets(config: Config) -> list[str]:
    """The secrets the receiver accepts (or the one `sidecar serve` generated)."""
    if config.webhook_secret:
        raw = config.webhook_secret.reveal()
    else:
        path = secret_file(config)
        raw = path.read_text().strip() if path.is_file() else ""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hook_state(
    client: ZendeskClient, hook: Mapping[str, Any], secrets: Sequence[str]
) -> checks.HookState:
    hook_id = str(hook.get("id"))
    known: bool | None
    try:
        secret: Secret = client.webhook_signing_secret(hook_id)
        known = any(
            hmac.compare_digest(secret.reveal().encode(), s.encode()) for s in secrets
        )
    except (UpstreamError, ValueError):
        known = None
    return checks.HookState(
        id=hook_id,
        name=str(hook.get("name") or hook_id),
        status=str(hook.get("status") or "unknown"),
        endpoint=str(hook.get("endpoint") or ""),
        secret_known=known,
    )


# --- PagerDuty ----------------------------------------------------------------------------


def _pagerduty(config: Config, store: EntitlementsStore | None) -> list[Line]:
    key = config.pagerduty_routing_key
    orgs = [
        checks.OrgKeys(entry.label, entry.pagerduty_routing_key is not None)
        for entry in (store.file.orgs if store is not None else ())
        if entry.enterprise_support is not False
    ]
    lines = checks.check_pagerduty(
        default_key_length=len(key.reveal()) if key else None,
        default_key_ok=bool(key) and is_routing_key(key.reveal() if key else ""),
        orgs=orgs,
    )
    secret = config.pagerduty_webhook_secret
    secrets = [s for s in (secret.reveal() if secret else "").split(",") if s.strip()]
    lines.append(
        checks.check_pagerduty_webhooks(
            secrets=len(secrets), paging=key is not None or bool(orgs)
        )
    )
    return lines


# --- Slack ------------------------------------------------------------------------------------


def _slack(
    config: Config, store: EntitlementsStore | None, *, report: Report
) -> list[Line]:
    mapped = [
        (entry.slack_channel, entry.label)
        for entry in (store.file.orgs if store is not None else ())
        if entry.slack_channel
    ]
    if not config.slack_enabled:
        detail = "skipped: not configured"
        step = "set SIDECAR_SLACK_SIGNING_SECRET and SIDECAR_SLACK_BOT_TOKEN"
        if mapped:
            return [
                checks.warn(
                    checks.SLACK,
                    "app",
                    f"{detail}, but {len(mapped)} channel(s) are mapped in the "
                    "entitlements file",
                    step,
                )
            ]
        return [checks.ok(checks.SLACK, "app", f"{detail} ({step} to turn it on)")]
    client = slack_api.web_client(config)
    calls = 1
    try:
        bot = slack_api.bot_identity(client)
    except AuthFailed as exc:
        report.calls["slack"] = calls
        return [
            checks.fail(
                checks.SLACK,
                "token",
                f"Slack refused SIDECAR_SLACK_BOT_TOKEN: {exc}",
                "copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions "
                "into SIDECAR_SLACK_BOT_TOKEN",
            )
        ]
    except UpstreamError as exc:
        report.calls["slack"] = calls
        return [
            checks.fail(
                checks.SLACK,
                "token",
                f"cannot reach Slack: {exc}",
                "check the network from this machine and SIDECAR_SLACK_API_URL",
            )
        ]
    lines = checks.check_slack_identity(
        user_id=bot.user_id, team=bot.team, scopes=bot.scopes
    )
    states = []
    for channel, org in mapped:
        calls += 1
        try:
            member = slack_api.bot_in_channel(client, channel)
            states.append(checks.ChannelState(channel, org, member=member))
        except AuthFailed:
            # The token itself passed auth.test: what is refused is a scope.
            states.append(checks.ChannelState(channel, org, error="missing_scope"))
        except Gone:
            states.append(checks.ChannelState(channel, org, error="channel_not_found"))
        except UpstreamError as exc:
            states.append(checks.ChannelState(channel, org, error=str(exc)))
    report.calls["slack"] = calls
    return lines + checks.check_channels(states)
