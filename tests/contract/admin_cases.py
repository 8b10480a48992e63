"""Drive `sidecar zendesk setup` through every path that sends admin requests.

``ZendeskClient.admin_request`` / ``admin_list`` are generic: the contract of
what they send is decided by their call sites. Those are all in
``sidecar/zendesk/setup.py`` (tests/contract/test_zendesk_admin_requests.py
keeps it so); driving the setup through each of its paths (dry run, first run
on an empty account, second run, an object changed through the API, the
report and the repair) sends every request it can send.
"""

from __future__ import annotations

from typing import Any

from sidecar.config import Config
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.setup import (
    DUE_AT_TITLE,
    MACRO_PAGE,
    ORG_WEBHOOK,
    SEVERITY_TITLE,
    TRIGGER,
    VIEW_AT_RISK,
    Setup,
)

URL = "https://sidecar.example.test/webhooks/zendesk"
# Organization field keys the double does not have yet, so they are created.
CONFIG = Config(org_plan_field="sidecar_plan", org_enterprise_field="sidecar_es")


def run_setup(client: ZendeskClient, **options: Any) -> Any:
    return Setup(client, CONFIG, url=URL, **options).run()


def find(client: ZendeskClient, path: str, key: str, field: str, name: str) -> Any:
    return next(o for o in client.admin_list(path, key) if o.get(field) == name)


def drift(client: ZendeskClient) -> None:
    """Change a webhook, the trigger, a view, a form and a field as an admin's script would."""
    fields = client.admin_list("/api/v2/ticket_fields.json", "ticket_fields")
    severity = next(f["id"] for f in fields if f.get("title") == SEVERITY_TITLE)
    due_at = next(f["id"] for f in fields if f.get("title") == DUE_AT_TITLE)
    client.admin_request(
        "PUT",
        f"/api/v2/ticket_fields/{due_at}.json",
        json={"ticket_field": {"editable_in_portal": True}},
    )
    form = next(
        f
        for f in client.admin_list("/api/v2/ticket_forms.json", "ticket_forms")
        if f.get("active")
    )
    client.admin_request(
        "PUT",
        f"/api/v2/ticket_forms/{form['id']}.json",
        json={
            "ticket_form": {
                "ticket_field_ids": [
                    i for i in form["ticket_field_ids"] if i != severity
                ]
            }
        },
    )
    hook = find(client, "/api/v2/webhooks", "webhooks", "name", ORG_WEBHOOK)
    changed = {
        k: hook[k]
        for k in ("name", "http_method", "request_format", "status", "subscriptions")
    }
    client.admin_request(
        "PUT",
        f"/api/v2/webhooks/{hook['id']}",
        json={"webhook": {**changed, "endpoint": "https://elsewhere.example.test/"}},
    )
    trigger = find(client, "/api/v2/triggers.json", "triggers", "title", TRIGGER)
    # The Conditions reference's bare all/any form, as Admin Center scripts send it.
    client.admin_request(
        "PUT",
        f"/api/v2/triggers/{trigger['id']}.json",
        json={
            "trigger": {
                "title": trigger["title"],
                "category_id": trigger["category_id"],
                "all": [
                    {"field": "current_via_id", "operator": "is_not", "value": "5"}
                ],
                "any": trigger["conditions"]["any"],
                "actions": trigger["actions"],
            }
        },
    )
    view = find(client, "/api/v2/views.json", "views", "title", VIEW_AT_RISK)
    client.admin_request(
        "PUT",
        f"/api/v2/views/{view['id']}.json",
        json={
            "view": {"all": [{"field": "status", "operator": "is", "value": "open"}]}
        },
    )
    macro = find(client, "/api/v2/macros.json", "macros", "title", MACRO_PAGE)
    # An admin took the tag out of the macro (UpdateMacro sends title + actions).
    client.admin_request(
        "PUT",
        f"/api/v2/macros/{macro['id']}.json",
        json={
            "macro": {
                "title": MACRO_PAGE,
                "actions": [{"field": "comment_value", "value": "Paging!"}],
            }
        },
    )


def drive_setup(client: ZendeskClient) -> None:
    """Every path of the setup, in the order an admin would meet them."""
    planned = run_setup(client, dry_run=True)
    assert planned.writes == 0
    created = run_setup(client)
    assert created.writes == 17 and len(created.new_secrets) == 2
    again = run_setup(client)
    assert again.up_to_date and again.writes == 0
    drift(client)
    reported = run_setup(client)
    assert {s.name for s in reported.drifted} == {
        ORG_WEBHOOK,
        TRIGGER,
        VIEW_AT_RISK,
        DUE_AT_TITLE,
        MACRO_PAGE,
        "Web",
    }
    assert reported.writes == 0
    repaired = run_setup(client, repair=True)
    assert repaired.writes == 6
    assert run_setup(client).up_to_date
