"""What the request-form render takes from the account: pure, no browser."""

from __future__ import annotations

from typing import Any

from tests.browser.portal_form import PortalForm, portal_fields, render


def _field(fid: int, title: str, **properties: Any) -> dict[str, Any]:
    return {"id": fid, "type": "text", "title": title, "active": True, **properties}


FIELDS = [
    _field(
        1, "Subject", type="subject", visible_in_portal=True, editable_in_portal=True
    ),
    _field(2, "Internal", visible_in_portal=False, editable_in_portal=False),
    _field(3, "Old", active=False, visible_in_portal=True, editable_in_portal=True),
    _field(
        4,
        "Issue Severity",
        type="tagger",
        visible_in_portal=True,
        editable_in_portal=True,
        required_in_portal=True,
        title_in_portal="How bad is it?",
        custom_field_options=[{"name": "SEV 1", "value": "sev_1"}],
    ),
    _field(5, "Contract", visible_in_portal=True, editable_in_portal=False),
]


def test_the_forms_order_and_only_fields_visible_in_the_portal() -> None:
    """The form's order; hidden and inactive fields left out; title_in_portal as the label."""
    form = {"ticket_field_ids": [5, 4, 3, 2, 1, 99], "end_user_conditions": []}
    shown = portal_fields(form, FIELDS)
    assert [f.id for f in shown] == [5, 4, 1]
    assert shown[1].label == "How bad is it?" and shown[1].required
    assert shown[1].options == (("SEV 1", "sev_1"),)
    assert not shown[0].editable and shown[2].label == "Subject"


def test_without_ticket_forms_every_visible_field_in_the_accounts_order() -> None:
    """No form: the account's own order."""
    assert [f.id for f in portal_fields(None, FIELDS)] == [1, 4, 5]


def test_a_child_of_an_end_user_condition_starts_hidden() -> None:
    """A conditional field waits for its parent's value."""
    form = {
        "ticket_field_ids": [1, 4],
        "end_user_conditions": [
            {"parent_field_id": 1, "value": "x", "child_fields": [{"id": 4}]}
        ],
    }
    assert [f.conditional for f in portal_fields(form, FIELDS)] == [False, True]


def test_the_page_marks_required_and_read_only() -> None:
    """An asterisk hidden from screen readers, aria-required, a read-only box."""
    page = render(PortalForm("Default", portal_fields(None, FIELDS)))
    assert 'How bad is it?<span class="required" aria-hidden="true">*</span>' in page
    assert 'aria-required="true"' in page
    assert 'id="request_custom_fields_5" type="text" value="-" readonly' in page
    assert "Internal" not in page and "Old" not in page
