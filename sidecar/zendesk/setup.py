"""`sidecar zendesk setup`: create (or check) what the sidecar needs in Zendesk.

Fields, organization fields, the two webhooks, the trigger and two views, each
found by a stable name first, so a second run writes nothing. An object that
exists but differs from what the sidecar wants (someone edited the trigger)
is reported, and rewritten only with ``repair``. ``dry_run`` reads and plans
and writes nothing. Requests go through ZendeskClient's request layer (see
docs/decisions.md, "Operator tooling").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.config import Config
from sidecar.errors import ConfigError
from sidecar.webhooks.events import trigger_body
from sidecar.zendesk.app_install import install_app

SEVERITY_TITLE = "Issue Severity"
DUE_AT_TITLE = "SLA first response due"
DUE_DATE_TITLE = "SLA due date"
FIRST_RESPONSE_AT_TITLE = "SLA first response at"
FIRST_RESPONSE_DATE_TITLE = "SLA first response date"
BREACH_MINUTES_TITLE = "SLA minutes late"
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

CREATE, OK, CONFIGURED, CHANGED, REPAIR = (
    "create",
    "up to date",
    "configured",
    "changed",
    "repair",
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

    @property
    def up_to_date(self) -> bool:
        return all(step.action in (OK, CONFIGURED) for step in self.steps)

    @property
    def drifted(self) -> list[Step]:
        return [step for step in self.steps if step.action == CHANGED]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


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
        app_dir: Path | None = None,
    ) -> None:
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise ConfigError(f"--url {url!r}: Zendesk calls webhooks over https only")
        self.api = api
        self.config = config
        self.url = url
        self.dry_run = dry_run
        self.repair = repair
        self.app_dir = app_dir  # the agents' sidebar app (zendesk-app/), when asked
        self.result = SetupResult()

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
            },
        )
        self._ticket_field(
            ticket_fields,
            env="SIDECAR_DUE_AT_FIELD_ID",
            configured=self.config.due_at_field_id,
            title=DUE_AT_TITLE,
            body={
                "type": "text",
                "title": DUE_AT_TITLE,
                "description": "First-response due time (UTC), written by the sidecar",
                "editable_in_portal": False,
            },
        )
        due_date = self._ticket_field(
            ticket_fields,
            env="SIDECAR_DUE_DATE_FIELD_ID",
            configured=self.config.due_date_field_id,
            title=DUE_DATE_TITLE,
            body={"type": "date", "title": DUE_DATE_TITLE},
        )
        # The first-response outcome, for attainment reporting (Explore, `sidecar report`).
        for env, configured, title, body in self._outcome_fields():
            self._ticket_field(
                ticket_fields, env=env, configured=configured, title=title, body=body
            )
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
        self._views(due_date)
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
                    "editable_in_portal": False,
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

    def _ticket_field(
        self,
        fields: Sequence[Mapping[str, Any]],
        *,
        env: str,
        configured: int | None,
        title: str,
        body: dict[str, Any],
    ) -> str | None:
        kind = "ticket field"
        if configured is not None:
            if not any(f.get("id") == configured for f in fields):
                raise ConfigError(
                    f"{env}={configured}: Zendesk has no ticket field with that id"
                )
            self._step(kind, title, CONFIGURED, configured, f"from {env}")
            self.result.env[env] = str(configured)
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
            self._step(kind, title, OK, found.get("id"))
            self.result.env[env] = str(found["id"])
            return str(found["id"])
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

    def _views(self, due_date: str | None) -> None:
        views = self.api.admin_list("/api/v2/views.json", "views")
        sort = due_date or self.result.env.get("SIDECAR_DUE_AT_FIELD_ID")
        for title, tag in (
            (VIEW_AT_RISK, "sla_at_risk"),
            (VIEW_BREACHED, "sla_breached"),
        ):
            self._view(views, title, tag, sort)

    def _view(
        self, views: Sequence[Mapping[str, Any]], title: str, tag: str, sort: str | None
    ) -> None:
        kind = "view"
        conditions = [
            {"field": "status", "operator": "less_than", "value": "solved"},
            {"field": "current_tags", "operator": "includes", "value": tag},
        ]
        columns: list[object] = ["nice_id", "description", "status", "requester"]
        if sort is not None:
            columns.append(int(sort))
        # View writes: flat all/any and an output object (OAS CreateView).
        wanted = {
            "title": title,
            "all": conditions,
            "output": {
                "columns": columns,
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
        have_sort = ((found.get("execution") or {}).get("sort") or {}).get("id")
        differs = []
        if _canonical((found.get("conditions") or {}).get("all")) != _canonical(
            conditions
        ):
            differs.append("conditions")
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


def _normal(key: str, value: Any) -> Any:
    """Compare trigger parts as Zendesk means them (condition order is not meaning)."""
    if key == "conditions" and isinstance(value, dict):
        return {
            part: sorted((value.get(part) or []), key=_canonical)
            for part in ("all", "any")
        }
    return value


def env_lines(result: SetupResult) -> list[str]:
    """The result as lines for an env file (secrets only when created now)."""
    lines = [f"{key}={value}" for key, value in sorted(result.env.items())]
    if result.new_secrets:
        lines.append(f"SIDECAR_WEBHOOK_SECRET={','.join(result.new_secrets)}")
    return lines


def merge_env_file(text: str, lines: Sequence[str]) -> str:
    """Update KEY=VALUE lines of an env file, keeping every other line.

    A webhook secret is added to the secrets already in the file, so a second
    run (which prints no secret) never drops one.
    """
    updates = dict(line.split("=", 1) for line in lines)
    out: list[str] = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line else None
        if key in updates:
            value = updates.pop(key)
            if key == "SIDECAR_WEBHOOK_SECRET":
                old = [s for s in line.split("=", 1)[1].split(",") if s]
                value = ",".join(dict.fromkeys([*old, *value.split(",")]))
            out.append(f"{key}={value}")
        else:
            out.append(line)
    out.extend(f"{key}={value}" for key, value in updates.items())
    return "\n".join(out) + "\n"


__all__ = ["Setup", "SetupResult", "Step", "env_lines", "merge_env_file"]
