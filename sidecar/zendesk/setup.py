"""`sidecar zendesk setup`: create (or check) what the sidecar needs in Zendesk.

Fields (with their Help Center properties), the ticket forms that show them,
organization fields, the two webhooks, the trigger, three views and the
agents' "Page on-call" macro, each
found by a stable name first, so a second run writes nothing. An object that
exists but differs from what the sidecar wants (someone edited the trigger)
is reported, and rewritten only with ``repair``. ``dry_run`` reads and plans
and writes nothing. Requests go through ZendeskClient's request layer (see
docs/decisions.md, "Operator tooling").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sidecar.config import Config
from sidecar.domain.page_request import PAGE_REQUEST_TAG, REASON_PREFIX
from sidecar.errors import AuthFailed, ConfigError
from sidecar.net import unreachable_reason
from sidecar.zendesk.app_install import install_app
from sidecar.zendesk.events import trigger_body
from sidecar.zendesk.severity_options import severity_tags

SEVERITY_TITLE = "Issue Severity"
DUE_AT_TITLE = "SLA first response due"
DUE_DATE_TITLE = "SLA due date"
FIRST_RESPONSE_AT_TITLE = "SLA first response at"
FIRST_RESPONSE_DATE_TITLE = "SLA first response date"
BREACH_MINUTES_TITLE = "SLA minutes late"
# Issue 21: one due field per metric beyond the first response, created only
# for the metrics the policy in force uses (docs/decisions.md, "Metrics on the
# ticket"): (metric, env variable, Config attribute, title).
METRIC_DUE_FIELDS = (
    (
        "next_reply",
        "SIDECAR_NEXT_REPLY_DUE_FIELD_ID",
        "next_reply_due_field_id",
        "SLA next reply due",
    ),
    (
        "periodic_update",
        "SIDECAR_PERIODIC_UPDATE_DUE_FIELD_ID",
        "periodic_update_due_field_id",
        "SLA periodic update due",
    ),
    (
        "resolution",
        "SIDECAR_RESOLUTION_DUE_FIELD_ID",
        "resolution_due_field_id",
        "SLA resolution due",
    ),
)
VIEW_REPLY_SOON = "SLA reply due within the hour"
REPLY_SOON_TAG = "sla_reply_due_soon"  # sidecar/domain/metric_plan.py DUE_SOON_TAG
# The seed's wording (enterprise support page): the five levels and their impact.
SEVERITY_OPTIONS = (
    ("SEV 1 - Critical (Business-Critical Impact)", "sev_1"),
    ("SEV 2 - High (Business Impact)", "sev_2"),
    ("SEV 3 - Medium (Degraded Service)", "sev_3"),
    ("SEV 4 - Low (Minor Impact)", "sev_4"),
    ("SEV 5 - Lowest (General Question)", "sev_5"),
)
PLAN_OPTIONS = (
    ("Team", "team"),
    ("Pro", "pro"),
    ("Velocity", "velocity"),
    ("Ultra", "ultra"),
    ("Enterprise", "enterprise"),
)
TICKET_WEBHOOK = "Sidecar: ticket changes"
ORG_WEBHOOK = "Sidecar: organization events"
ORG_EVENTS = ("zen:event-type:organization.custom_field_changed",)
CATEGORY = "Sidecar"
TRIGGER = "Sidecar: reconcile on ticket changes"
VIEW_AT_RISK = "SLA at risk"
VIEW_BREACHED = "SLA breached"
VIEW_PAGED = "Paged on-call"
# The agents' way to page from a ticket (docs/decisions.md, "Agents page from
# the ticket"): the tag asks the reconcile to page; the internal note's
# placeholder is where the agent writes why, and the reconcile reads it back.
MACRO_PAGE = "Page on-call"
MACRO_PAGE_DESCRIPTION = (
    "Pages the on-call engineer through the sidecar. Write the reason after "
    "the placeholder and submit; the sidecar pages (or notes why not) and "
    "removes the tag."
)
# Actions reference (developer.zendesk.com, "Actions reference", macros):
# current_tags adds tags; comment_mode_is_public "false" makes the comment an
# internal note; comment_value fills the comment box.
MACRO_PAGE_ACTIONS = (
    {"field": "current_tags", "value": PAGE_REQUEST_TAG},
    {"field": "comment_mode_is_public", "value": "false"},
    {"field": "comment_value", "value": f"{REASON_PREFIX} "},
)
# The tag each view lists: the status tags of the plan and the page's own tag
# (sidecar/domain/plan.py PAGED_TAG).
VIEW_TAGS = (
    (VIEW_AT_RISK, "sla_at_risk"),
    (VIEW_BREACHED, "sla_breached"),
    (VIEW_PAGED, "oncall_paged"),
)
# Help Center: "To make a ticket field visible to end users, make it both
# visible and editable in Help Center" (Ticket Fields API page); OAS
# TicketFieldObject names the four portal properties. Their defaults are not
# documented, so every create sends them all.
SEVERITY_PORTAL = {
    "visible_in_portal": True,
    "editable_in_portal": True,
    "title_in_portal": SEVERITY_TITLE,
}
# The sidecar's own fields: written by the sidecar only. Nobody but agents sees
# them; Zendesk has no writable "read-only for agents" property (the Ticket
# Fields page lists `agent_can_edit` as read-only, the OAS not at all), so a
# hand edit is rewritten by the next reconcile instead.
OWN_FIELD_PORTAL = {"visible_in_portal": False, "editable_in_portal": False}

CREATE, OK, CONFIGURED, CHANGED, REPAIR, ADD = (
    "create",
    "up to date",
    "configured",
    "changed",
    "repair",
    "add fields",
)


@dataclass
class Step:
    """One object: what setup did (or would do) with it."""

    kind: str
    name: str
    action: str
    object_id: str = ""
    note: str = ""


@dataclass
class SetupResult:
    """The steps, the env lines to keep, and how many writes were made."""

    steps: list[Step] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    new_secrets: list[str] = field(default_factory=list)
    writes: int = 0
    notes: list[str] = field(default_factory=list)
    # {severity: the account's option tag}, what every severity write uses.
    severity_tags: dict[int, str] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return all(step.action in (OK, CONFIGURED) for step in self.steps)

    @property
    def drifted(self) -> list[Step]:
        return [step for step in self.steps if step.action == CHANGED]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _actions(actions: Any) -> str:
    """A macro's actions in a comparable form: order, and how a value is spelled, aside.

    Accounts read back ``comment_value`` as ``["channel:all", text]`` and
    booleans as JSON booleans where we send strings (macros read from live
    accounts in public code; the OAS ActionObject says string): the same
    macro either way, not a drift to report.
    """
    items = []
    for action in actions or ():
        if not isinstance(action, Mapping):
            continue
        value = action.get("value")
        if (
            isinstance(value, list)
            and len(value) == 2
            and str(value[0]).startswith("channel:")
        ):
            value = value[1]
        if isinstance(value, bool):
            value = "true" if value else "false"
        items.append({"field": action.get("field"), "value": value})
    return _canonical(sorted(items, key=_canonical))


def check_webhook_url(
    url: str, *, allow_unreachable: bool = False, allow_http: bool = False
) -> None:
    """Raise ConfigError unless Zendesk's servers could deliver to ``url``.

    Zendesk calls the endpoint from its own servers on the internet, so a
    loopback, private or link-local address (or a site-local name) is never
    reached: every delivery would fail while setup reported success. Zendesk
    accepts http endpoints, but its docs want authentication "only over HTTPS
    (TLS)" (docs/decisions.md, "Errors an operator can act on"); the ticket data
    would cross the internet in clear. Both have an explicit override.
    """
    form = "https://<public host>/webhooks/zendesk"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"--url {url!r}: not a web address; expected {form} (the sidecar's "
            "public address, as Zendesk reaches it)"
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"--url: credentials in the URL are refused (they would be stored in "
            f"the webhook); expected {form}"
        )
    reason = unreachable_reason(host)
    if reason and not allow_unreachable:
        raise ConfigError(
            f"--url {url!r}: Zendesk calls webhooks from its own servers on the "
            f"internet, and {reason}: every delivery would fail. Give the public "
            f"address ({form}) your ingress or tunnel serves; "
            "--allow-unreachable-url sets it anyway (tests, a tunnel added later)"
        )
    if parts.scheme == "http" and not (allow_http or (reason and allow_unreachable)):
        raise ConfigError(
            f"--url {url!r}: use https: Zendesk would send ticket data and the "
            f"signed deliveries in clear across the internet; expected {form} "
            "(--allow-http sets a plain http endpoint anyway)"
        )


class Setup:
    """Plan and apply the Zendesk objects for one webhook URL."""

    def __init__(
        self,
        api: Any,
        config: Config,
        *,
        url: str,
        dry_run: bool = False,
        repair: bool = False,
        allow_unreachable: bool = False,
        allow_http: bool = False,
        forms: Sequence[str] = (),
        require_severity: bool = False,
        app_dir: Path | None = None,
        metrics: Iterable[str] = (),
    ) -> None:
        check_webhook_url(
            url, allow_unreachable=allow_unreachable, allow_http=allow_http
        )
        self.api = api
        self.config = config
        self.url = url
        self.dry_run = dry_run
        self.repair = repair
        self.forms = tuple(forms)
        self.require_severity = require_severity
        self.app_dir = app_dir  # the agents' sidebar app (zendesk-app/), when asked
        # The metrics beyond the first response the policy in force uses: each
        # gets its due field (and next_reply the "reply due within the hour" view).
        self.metrics = frozenset(metrics)
        self.result = SetupResult()
        # Titles of the ticket fields this run creates (or would create).
        self._new_fields: list[str] = []

    # --- plumbing -----------------------------------------------------------------

    def _write(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        assert not self.dry_run
        self.result.writes += 1
        answer: dict[str, Any] = self.api.admin_request(method, path, json=body)
        return answer

    def _step(
        self, kind: str, name: str, action: str, object_id: object = "", note: str = ""
    ) -> None:
        self.result.steps.append(
            Step(
                kind,
                name,
                action,
                "" if object_id in (None, "") else str(object_id),
                note,
            )
        )

    # --- run ----------------------------------------------------------------------

    def run(self) -> SetupResult:
        """Read everything, then create or repair what is missing or changed."""
        ticket_fields = self.api.admin_list(
            "/api/v2/ticket_fields.json", "ticket_fields"
        )
        org_fields = self.api.admin_list(
            "/api/v2/organization_fields.json", "organization_fields"
        )
        # The options are checked before anything is written.
        self._severity_tags(ticket_fields, self._severity_id(ticket_fields))
        severity_portal: dict[str, Any] = dict(SEVERITY_PORTAL)
        if self.require_severity:
            severity_portal["required_in_portal"] = True
        severity = self._ticket_field(
            ticket_fields,
            env="SIDECAR_SEVERITY_FIELD_ID",
            configured=self.config.severity_field_id,
            title=SEVERITY_TITLE,
            body={
                "type": "tagger",
                "title": SEVERITY_TITLE,
                "custom_field_options": [
                    {"name": name, "value": tag} for name, tag in SEVERITY_OPTIONS
                ],
                **severity_portal,
            },
            portal=severity_portal,
        )
        own = [
            (
                "SIDECAR_DUE_AT_FIELD_ID",
                self.config.due_at_field_id,
                DUE_AT_TITLE,
                {
                    "type": "text",
                    "title": DUE_AT_TITLE,
                    "description": "First-response due time (UTC), written by the sidecar",
                },
            ),
            (
                "SIDECAR_DUE_DATE_FIELD_ID",
                self.config.due_date_field_id,
                DUE_DATE_TITLE,
                {"type": "date", "title": DUE_DATE_TITLE},
            ),
            # The first-response outcome, for attainment reporting (Explore,
            # `sidecar report`).
            *self._outcome_fields(),
            *self._metric_fields(),
        ]
        ours: list[tuple[str, str | None]] = [(SEVERITY_TITLE, severity)]
        for env, configured, title, body in own:
            field_id = self._ticket_field(
                ticket_fields,
                env=env,
                configured=configured,
                title=title,
                body={**body, **OWN_FIELD_PORTAL},
                # Visibility is the admin's choice; editing by end users never.
                portal={"editable_in_portal": False},
            )
            ours.append((title, field_id))
        self._forms(ours)
        self._org_field(
            org_fields,
            key=self.config.org_plan_field,
            body={
                "key": self.config.org_plan_field,
                "type": "dropdown",
                "title": "Support plan",
                "custom_field_options": [
                    {"name": name, "value": tag} for name, tag in PLAN_OPTIONS
                ],
            },
        )
        self._org_field(
            org_fields,
            key=self.config.org_enterprise_field,
            body={
                "key": self.config.org_enterprise_field,
                "type": "checkbox",
                "title": "Enterprise Support",
            },
        )
        hooks = self.api.admin_list("/api/v2/webhooks", "webhooks")
        ticket_hook = self._webhook(
            hooks, TICKET_WEBHOOK, ("conditional_ticket_events",)
        )
        self._webhook(hooks, ORG_WEBHOOK, ORG_EVENTS)
        if ticket_hook:
            self.result.env["ZENDESK_TICKET_WEBHOOK_ID"] = ticket_hook
        self._trigger(ticket_hook, self._dropdown(ticket_fields, severity))
        self._views(severity)
        self._macro()
        if self.app_dir is not None:
            install_app(self, self.app_dir)  # sidecar/zendesk/app_install.py
        return self.result

    # --- fields -------------------------------------------------------------------

    def _outcome_fields(self) -> list[tuple[str, int | None, str, dict[str, Any]]]:
        """The three outcome fields: (env variable, configured id, title, create body)."""
        config = self.config
        return [
            (
                "SIDECAR_FIRST_RESPONSE_AT_FIELD_ID",
                config.first_response_at_field_id,
                FIRST_RESPONSE_AT_TITLE,
                {
                    "type": "text",
                    "title": FIRST_RESPONSE_AT_TITLE,
                    "description": "When the first public agent reply came (UTC), "
                    "written by the sidecar",
                },
            ),
            (
                "SIDECAR_FIRST_RESPONSE_DATE_FIELD_ID",
                config.first_response_date_field_id,
                FIRST_RESPONSE_DATE_TITLE,
                {"type": "date", "title": FIRST_RESPONSE_DATE_TITLE},
            ),
            (
                "SIDECAR_BREACH_MINUTES_FIELD_ID",
                config.breach_minutes_field_id,
                BREACH_MINUTES_TITLE,
                {
                    "type": "integer",
                    "title": BREACH_MINUTES_TITLE,
                    "description": "Covered minutes the first reply came late",
                },
            ),
        ]

    def _metric_fields(self) -> list[tuple[str, int | None, str, dict[str, Any]]]:
        """The due field of each metric the policy uses beyond the first response."""
        return [
            (
                env,
                getattr(self.config, attribute),
                title,
                {
                    "type": "text",
                    "title": title,
                    "description": f"{title.removeprefix('SLA ')} (UTC), written by "
                    "the sidecar; empty when none is due",
                },
            )
            for metric, env, attribute, title in METRIC_DUE_FIELDS
            if metric in self.metrics
        ]

    def _ticket_field(
        self,
        fields: Sequence[Mapping[str, Any]],
        *,
        env: str,
        configured: int | None,
        title: str,
        body: dict[str, Any],
        portal: Mapping[str, Any],
    ) -> str | None:
        kind = "ticket field"
        if configured is not None:
            found = next((f for f in fields if f.get("id") == configured), None)
            if found is None:
                raise ConfigError(
                    f"{env}={configured}: Zendesk has no ticket field with that id"
                )
            self.result.env[env] = str(configured)
            self._portal(found, title, portal, CONFIGURED, f"from {env}")
            return str(configured)
        found = next(
            (f for f in fields if f.get("title") == title and f.get("active", True)),
            None,
        )
        if found is not None:
            if found.get("type") != body["type"]:
                # A field's type is settable only on create (OAS TicketFieldObject).
                self._step(
                    kind,
                    title,
                    CHANGED,
                    found.get("id"),
                    f"type is {found.get('type')!r}, not {body['type']!r}; "
                    "rename it and run setup again",
                )
                return None
            self.result.env[env] = str(found["id"])
            self._portal(found, title, portal, OK)
            return str(found["id"])
        self._new_fields.append(title)
        if self.dry_run:
            self._step(kind, title, CREATE)
            return None
        created = self._write(
            "POST", "/api/v2/ticket_fields.json", {"ticket_field": body}
        )
        field_id = str(created["ticket_field"]["id"])
        self._step(kind, title, CREATE, field_id)
        self.result.env[env] = field_id
        return field_id

    def _portal(
        self,
        found: Mapping[str, Any],
        title: str,
        portal: Mapping[str, Any],
        action: str,
        note: str = "",
    ) -> None:
        """Check (and with --repair rewrite) a found field's Help Center properties.

        A portal title the admin chose is kept; only a missing one is drift.
        Update Ticket Field sends just the differing properties: the options
        are the account's and are never sent (omitting one removes it, OAS
        UpdateTicketField).
        """
        field_id = str(found["id"])
        wanted = {
            key: value
            for key, value in portal.items()
            if not (key == "title_in_portal" and found.get(key))
        }
        differs = {
            key: value
            for key, value in wanted.items()
            if (bool(found.get(key)) if isinstance(value, bool) else found.get(key))
            != value
        }
        if not differs:
            self._step("ticket field", title, action, field_id, note)
            return
        said = ", ".join(
            f"{key} {found.get(key)!r} → {v!r}" for key, v in differs.items()
        )
        if self.repair and not self.dry_run:
            self._write(
                "PUT",
                f"/api/v2/ticket_fields/{field_id}.json",
                {"ticket_field": differs},
            )
            self._step("ticket field", title, REPAIR, field_id, f"rewrote {said}")
        else:
            self._step("ticket field", title, CHANGED, field_id, f"Help Center: {said}")

    def _severity_id(self, fields: Sequence[Mapping[str, Any]]) -> str | None:
        """The id of the severity field setup will use, if it exists already."""
        if self.config.severity_field_id is not None:
            return str(self.config.severity_field_id)
        found = next(
            (
                f
                for f in fields
                if f.get("title") == SEVERITY_TITLE and f.get("active", True)
            ),
            None,
        )
        return str(found["id"]) if found is not None else None

    def _severity_tags(
        self, fields: Sequence[Mapping[str, Any]], field_id: str | None
    ) -> None:
        """The account's tag for each severity: its own options, or ours when new.

        Raises ConfigError (before any other write) when a severity has no
        option: a ticket could not carry it, and Zendesk would drop the value
        silently.
        """
        found = next((f for f in fields if str(f.get("id")) == field_id), None)
        if found is None:
            self.result.severity_tags = {
                n: tag for n, (_, tag) in enumerate(SEVERITY_OPTIONS, start=1)
            }
        elif found.get("type") == "tagger":
            self.result.severity_tags = severity_tags(
                found.get("custom_field_options") or (),
                field=f"ticket field {found.get('title')!r} ({field_id})",
            )
        else:
            return
        self.result.notes.append(
            "severity tags: "
            + ", ".join(
                f"SEV {n} = {tag}"
                for n, tag in sorted(self.result.severity_tags.items())
            )
        )

    def _org_field(
        self, fields: Sequence[Mapping[str, Any]], *, key: str, body: dict[str, Any]
    ) -> None:
        kind = "organization field"
        found = next((f for f in fields if f.get("key") == key), None)
        if found is not None:
            if found.get("type") != body["type"]:
                self._step(
                    kind,
                    key,
                    CHANGED,
                    found.get("id"),
                    f"type is {found.get('type')!r}, not {body['type']!r}",
                )
            else:
                self._step(kind, key, OK, found.get("id"))
            return
        if self.dry_run:
            self._step(kind, key, CREATE)
            return
        created = self._write(
            "POST", "/api/v2/organization_fields.json", {"organization_field": body}
        )
        self._step(kind, key, CREATE, created["organization_field"]["id"])

    # --- ticket forms -----------------------------------------------------------------

    def _forms(self, ours: Sequence[tuple[str, str | None]]) -> None:
        """Append the sidecar's fields to each active form (or each ``--form``).

        A form shows a field (Help Center and agent workspace) only if its
        ``ticket_field_ids`` lists it, in that order (OAS TicketFormObject), so
        missing ids are appended and the admin's order is kept. Fields created
        in this run are added without asking; a form that lacks one of our
        fields on a later run (someone removed it, a new form) is drift.
        """
        try:
            forms = self.api.admin_list("/api/v2/ticket_forms.json", "ticket_forms")
        except AuthFailed as exc:
            # Plans without ticket forms answer 403 (go-zendesk PR #43: "ticket
            # form API is not available on essential plan"; terraform-provider-
            # zendesk PR #9): the fields then show on the one request form.
            if exc.status != 403 or self.forms:
                raise
            self.result.notes.append(
                "this account has no ticket forms (List Ticket Forms answered 403): "
                "the fields show on its single request form"
            )
            return
        if self.forms:
            chosen = []
            for wanted in self.forms:
                match = next(
                    (f for f in forms if wanted in (f.get("name"), str(f.get("id")))),
                    None,
                )
                if match is None:
                    names = ", ".join(
                        f"{f.get('name')!r} ({f.get('id')})" for f in forms
                    )
                    raise ConfigError(
                        f"--form {wanted!r}: no ticket form has that name or id "
                        f"(the account's forms: {names or 'none'})"
                    )
                chosen.append(match)
        else:
            chosen = [f for f in forms if f.get("active", True)]
        for form in chosen:
            self._form(form, ours)

    def _form(
        self, form: Mapping[str, Any], ours: Sequence[tuple[str, str | None]]
    ) -> None:
        kind = "ticket form"
        name = str(form.get("name"))
        form_id = str(form["id"])
        have = [int(i) for i in form.get("ticket_field_ids") or ()]
        # A field with no id is one a dry run would create (or one whose type
        # is wrong, already reported): only the first kind is appended.
        missing = [
            (title, field_id)
            for title, field_id in ours
            if (field_id is None and title in self._new_fields)
            or (field_id is not None and int(field_id) not in have)
        ]
        if not missing:
            self._step(kind, name, OK, form_id)
            return
        titles = ", ".join(title for title, _ in missing)
        new = any(title in self._new_fields for title, _ in missing)
        if not new and not self.repair:
            self._step(kind, name, CHANGED, form_id, f"lacks {titles}")
            return
        action = ADD if new else REPAIR
        if self.dry_run or any(field_id is None for _, field_id in missing):
            self._step(kind, name, action, form_id, f"appends {titles}")
            return
        # Update Ticket Form: the complete list (it replaces the form's).
        ids = have + [int(field_id) for _, field_id in missing if field_id]
        self._write(
            "PUT",
            f"/api/v2/ticket_forms/{form_id}.json",
            {"ticket_form": {"ticket_field_ids": ids}},
        )
        self._step(kind, name, action, form_id, f"appended {titles}")

    # --- webhooks -------------------------------------------------------------------

    def _webhook(
        self,
        hooks: Sequence[Mapping[str, Any]],
        name: str,
        subscriptions: Sequence[str],
    ) -> str | None:
        kind = "webhook"
        wanted = {
            "name": name,
            "endpoint": self.url,
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": list(subscriptions),
        }
        found = next((h for h in hooks if h.get("name") == name), None)
        if found is not None:
            hook_id = str(found["id"])
            differs = sorted(k for k, v in wanted.items() if found.get(k) != v)
            if not differs:
                self._step(kind, name, OK, hook_id)
            elif self.repair and not self.dry_run:
                self._write("PUT", f"/api/v2/webhooks/{hook_id}", {"webhook": wanted})
                self._step(kind, name, REPAIR, hook_id, f"rewrote {', '.join(differs)}")
            else:
                self._step(
                    kind, name, CHANGED, hook_id, f"differs in {', '.join(differs)}"
                )
            return hook_id
        if self.dry_run:
            self._step(kind, name, CREATE)
            return None
        created = self._write("POST", "/api/v2/webhooks", {"webhook": wanted})
        hook_id = str(created["webhook"]["id"])
        secret = self.api.admin_request(
            "GET", f"/api/v2/webhooks/{hook_id}/signing_secret"
        )["signing_secret"]["secret"]
        self.result.new_secrets.append(str(secret))
        self._step(kind, name, CREATE, hook_id, "signing secret printed below, once")
        return hook_id

    # --- trigger --------------------------------------------------------------------

    def loop_condition(self) -> dict[str, str] | None:
        """The condition that keeps our own API user's updates from firing the trigger.

        The JSON of "Current user is not <a user>" is not documented by Zendesk
        (docs/decisions.md); the trigger definitions say which values the "Current user"
        condition (subject ``role``) takes. When our user is among them, use it;
        otherwise there is no condition: our echo costs two reads and no write
        (the README's documented alternative), and every other API integration's
        updates still fire the trigger.
        """
        body = self.api.admin_request("GET", "/api/v2/triggers/definitions")
        conditions = (body.get("definitions") or {}).get("conditions_all") or []
        me = str(self.api.current_user_id())
        for condition in conditions:
            if condition.get("subject") != "role":
                continue
            operators = {o.get("value") for o in condition.get("operators") or ()}
            values = {str(v.get("value")) for v in condition.get("values") or ()}
            if "is_not" in operators and me in values:
                return {"field": "role", "operator": "is_not", "value": me}
        return None

    @staticmethod
    def _dropdown(
        fields: Sequence[Mapping[str, Any]], field_id: str | None
    ) -> str | None:
        """``field_id`` when it is a dropdown (new or found), else None.

        Only a dropdown's value goes in the trigger body: its option tags render
        as plain words, where a text field could render a quote into the JSON.
        """
        if field_id is None:
            return None
        found = next((f for f in fields if str(f.get("id")) == field_id), None)
        return field_id if found is None or found.get("type") == "tagger" else None

    def _desired_trigger(
        self, hook_id: str, category_id: str, severity_field: str | None
    ) -> dict[str, Any]:
        all_conditions: list[dict[str, str]] = []
        loop = self.loop_condition()
        if loop is not None:
            all_conditions.append(loop)
        else:
            self.result.notes.append(
                "the trigger has no 'Current user is not <sidecar>' condition: this "
                "account's trigger definitions do not offer it for our API user, so "
                "our own writes fire it too (two reads, no write each)"
            )
        return {
            "title": TRIGGER,
            "active": True,
            "category_id": category_id,
            "conditions": {
                "all": all_conditions,
                "any": [
                    {"field": "update_type", "operator": "is", "value": "Create"},
                    {"field": "update_type", "operator": "is", "value": "Change"},
                ],
            },
            "actions": [
                {
                    "field": "notification_webhook",
                    "value": [hook_id, trigger_body(severity_field)],
                }
            ],
        }

    def _category(self) -> str | None:
        categories = self.api.admin_list(
            "/api/v2/trigger_categories", "trigger_categories"
        )
        found = next((c for c in categories if c.get("name") == CATEGORY), None)
        if found is not None:
            return str(found["id"])
        if self.dry_run:
            self._step("trigger category", CATEGORY, CREATE)
            return None
        created = self._write(
            "POST",
            "/api/v2/trigger_categories",
            {"trigger_category": {"name": CATEGORY}},
        )
        category_id = str(created["trigger_category"]["id"])
        self._step("trigger category", CATEGORY, CREATE, category_id)
        return category_id

    def _trigger(self, hook_id: str | None, severity_field: str | None) -> None:
        kind = "trigger"
        triggers = self.api.admin_list("/api/v2/triggers.json", "triggers")
        found = next((t for t in triggers if t.get("title") == TRIGGER), None)
        category_id = str(found["category_id"]) if found else self._category()
        if hook_id is None or category_id is None:  # dry run: the webhook is new
            self._step(kind, TRIGGER, CREATE)
            return
        wanted = self._desired_trigger(hook_id, category_id, severity_field)
        if found is None:
            if self.dry_run:
                self._step(kind, TRIGGER, CREATE)
                return
            created = self._write("POST", "/api/v2/triggers.json", {"trigger": wanted})
            self.result.env["ZENDESK_TRIGGER_ID"] = str(created["trigger"]["id"])
            self._step(kind, TRIGGER, CREATE, created["trigger"]["id"])
            return
        trigger_id = str(found["id"])
        self.result.env["ZENDESK_TRIGGER_ID"] = trigger_id
        differs = [
            key
            for key in ("active", "conditions", "actions")
            if _canonical(_normal(key, found.get(key)))
            != _canonical(_normal(key, wanted[key]))
        ]
        if not differs:
            self._step(kind, TRIGGER, OK, trigger_id)
        elif self.repair and not self.dry_run:
            self._write(
                "PUT", f"/api/v2/triggers/{trigger_id}.json", {"trigger": wanted}
            )
            self._step(
                kind, TRIGGER, REPAIR, trigger_id, f"rewrote {', '.join(differs)}"
            )
        else:
            self._step(
                kind, TRIGGER, CHANGED, trigger_id, f"differs in {', '.join(differs)}"
            )

    # --- views ----------------------------------------------------------------------

    def _views(self, severity: str | None) -> None:
        views = self.api.admin_list("/api/v2/views.json", "views")
        # Sorted by the due-time text: ISO 8601 UTC text of one fixed width
        # sorts as time does (docs/decisions.md); the date field, if that is
        # all there is. Due time and severity are columns.
        due_at = self.result.env.get("SIDECAR_DUE_AT_FIELD_ID")
        sort = due_at or self.result.env.get("SIDECAR_DUE_DATE_FIELD_ID")
        columns: list[object] = ["nice_id", "description", "status", "requester"]
        columns += [int(fid) for fid in (severity, due_at) if fid is not None]
        for title, tag in VIEW_TAGS:
            self._view(views, title, tag, sort, columns)
        if "next_reply" in self.metrics:
            # One condition (the tag) lists every ticket a reply is due on
            # within the hour; sorted by the next reply's due time.
            reply_due = self.result.env.get("SIDECAR_NEXT_REPLY_DUE_FIELD_ID")
            reply_columns = [*columns]
            if reply_due is not None:
                reply_columns.append(int(reply_due))
            self._view(
                views, VIEW_REPLY_SOON, REPLY_SOON_TAG, reply_due or sort, reply_columns
            )

    def _view(
        self,
        views: Sequence[Mapping[str, Any]],
        title: str,
        tag: str,
        sort: str | None,
        columns: Sequence[object],
    ) -> None:
        kind = "view"
        conditions = [
            {"field": "status", "operator": "less_than", "value": "solved"},
            {"field": "current_tags", "operator": "includes", "value": tag},
        ]
        # View writes: flat all/any and an output object (OAS CreateView).
        wanted = {
            "title": title,
            "all": conditions,
            "output": {
                "columns": list(columns),
                "sort_by": sort or "created",
                "sort_order": "asc",
            },
        }
        found = next((v for v in views if v.get("title") == title), None)
        if found is None:
            if self.dry_run:
                self._step(kind, title, CREATE)
                return
            created = self._write("POST", "/api/v2/views.json", {"view": wanted})
            self._step(kind, title, CREATE, created["view"]["id"])
            return
        # Reads come back as conditions + execution (OAS ViewObject).
        execution = found.get("execution") or {}
        have_sort = (execution.get("sort") or {}).get("id")
        have_columns = [str(c.get("id")) for c in execution.get("columns") or ()]
        differs = []
        if _canonical((found.get("conditions") or {}).get("all")) != _canonical(
            conditions
        ):
            differs.append("conditions")
        if have_columns != [str(c) for c in columns]:
            differs.append("columns")
        if str(have_sort) != str(sort or "created"):
            differs.append("sort")
        view_id = str(found["id"])
        if not differs:
            self._step(kind, title, OK, view_id)
        elif self.repair and not self.dry_run:
            self._write("PUT", f"/api/v2/views/{view_id}.json", {"view": wanted})
            self._step(kind, title, REPAIR, view_id, f"rewrote {', '.join(differs)}")
        else:
            self._step(
                kind, title, CHANGED, view_id, f"differs in {', '.join(differs)}"
            )

    def _macro(self) -> None:
        """The shared "Page on-call" macro, found by title (List/Create/Update Macro)."""
        kind, title = "macro", MACRO_PAGE
        macros = self.api.admin_list("/api/v2/macros.json", "macros")
        wanted = {
            "title": title,
            "description": MACRO_PAGE_DESCRIPTION,
            "active": True,
            "actions": [dict(a) for a in MACRO_PAGE_ACTIONS],
        }
        found = next((m for m in macros if m.get("title") == title), None)
        if found is None:
            if self.dry_run:
                self._step(kind, title, CREATE)
                return
            created = self._write("POST", "/api/v2/macros.json", {"macro": wanted})
            self._step(kind, title, CREATE, created["macro"]["id"])
            return
        differs = []
        if _actions(found.get("actions")) != _actions(wanted["actions"]):
            differs.append("actions")
        if found.get("active") is False:
            differs.append("active")
        macro_id = str(found["id"])
        if not differs:
            self._step(kind, title, OK, macro_id)
        elif self.repair and not self.dry_run:
            self._write("PUT", f"/api/v2/macros/{macro_id}.json", {"macro": wanted})
            self._step(kind, title, REPAIR, macro_id, f"rewrote {', '.join(differs)}")
        else:
            self._step(
                kind, title, CHANGED, macro_id, f"differs in {', '.join(differs)}"
            )


def _normal(key: str, value: Any) -> Any:
    """Compare trigger parts as Zendesk means them (condition order is not meaning)."""
    if key == "conditions" and isinstance(value, dict):
        return {
            part: sorted((value.get(part) or []), key=_canonical)
            for part in ("all", "any")
        }
    return value


# What `sh`, systemd's EnvironmentFile and Compose's env_file all read as a
# bare value (README, "Connecting Zendesk with one command"): anything else is
# single-quoted. Zendesk's ids are digits and its signing secrets base64.
_BARE = re.compile(r"^[A-Za-z0-9_.,:/+=@%-]*$")


def _shell_value(value: str) -> str:
    return value if _BARE.match(value) else "'" + value.replace("'", "'\\''") + "'"


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("'\\''", "'")
    return value


def env_lines(result: SetupResult) -> list[str]:
    """The result as lines for an env file (secrets only when created now)."""
    lines = [
        f"{key}={_shell_value(value)}" for key, value in sorted(result.env.items())
    ]
    if result.new_secrets:
        secrets = ",".join(result.new_secrets)
        lines.append(f"SIDECAR_WEBHOOK_SECRET={_shell_value(secrets)}")
    return lines


def merge_env_file(
    text: str,
    lines: Sequence[str],
    *,
    accumulate: Sequence[str] = ("SIDECAR_WEBHOOK_SECRET",),
) -> str:
    """Update KEY=VALUE lines of an env file, keeping every other line.

    A webhook secret (the keys in ``accumulate``) is added to the secrets
    already in the file, so a second run (which prints no secret) never drops one.
    """
    updates = dict(line.split("=", 1) for line in lines)
    out: list[str] = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line else None
        if key in updates:
            value = updates.pop(key)
            if key in accumulate:
                had = _unquoted(line.split("=", 1)[1].strip())
                new = _unquoted(value)
                old = [s for s in had.split(",") if s]
                value = _shell_value(",".join(dict.fromkeys([*old, *new.split(",")])))
            out.append(f"{key}={value}")
        else:
            out.append(line)
    out.extend(f"{key}={value}" for key, value in updates.items())
    return "\n".join(out) + "\n"


__all__ = [
    "Setup",
    "SetupResult",
    "Step",
    "check_webhook_url",
    "env_lines",
    "merge_env_file",
]
