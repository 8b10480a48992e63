"""Render a Help Center request form from what a Zendesk account holds.

Evidence, not product: the project cannot run a real Help Center, so this
reads the account through the API (the active ticket forms and the ticket
fields) and draws the "Submit a request" page from those properties only:
the form's fields in the form's order, a field only if it is active and
``visible_in_portal``, labelled with ``title_in_portal``, an input when
``editable_in_portal`` and read-only otherwise, "*" when
``required_in_portal``, a drop-down's ``custom_field_options`` names as its
options. Nothing here knows which fields the sidecar made. The look follows
Zendesk's default theme (Copenhagen, zendesk/copenhagen_theme, Apache-2.0):
written here, not copied; docs/decisions.md, "The customer's request form".
"""

from __future__ import annotations

import base64
import html
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

# Field types the Help Center draws as a single-line input (Copenhagen's
# NewRequestForm: text, integer, decimal, regexp) and as a drop-down.
_INPUT_TYPES = {"subject", "text", "integer", "decimal", "regexp"}
_DROPDOWN_TYPES = {"tagger", "priority", "tickettype"}


@dataclass(frozen=True)
class PortalField:
    """One field as an end user sees it on the request form."""

    id: int
    type: str
    label: str
    editable: bool
    required: bool
    description: str
    options: tuple[tuple[str, str], ...]
    # A child of an end-user condition: hidden until its parent has the value.
    conditional: bool = False


@dataclass(frozen=True)
class PortalForm:
    """The form a customer gets: its name and its visible fields, in order."""

    name: str
    fields: tuple[PortalField, ...]


def _get(base_url: str, path: str, *, email: str, token: str) -> dict[str, Any]:
    credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
    request = urllib.request.Request(
        base_url + path, headers={"Authorization": f"Basic {credentials}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.load(response)
    return body


def _all(base_url: str, path: str, key: str, **auth: str) -> list[dict[str, Any]]:
    """Every page of a list endpoint (``next_page`` until null)."""
    found: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        page = _get(base_url, url, **auth)
        found.extend(page.get(key) or [])
        nxt = page.get("next_page")
        url = nxt.removeprefix(base_url) if nxt else None
    return found


def read_form(
    base_url: str, *, email: str, token: str, name: str | None = None
) -> PortalForm:
    """Read the account's forms and fields and return the form a customer gets.

    With ticket forms, the default active end-user form (or the one named);
    without any, every field in the account's order, as Zendesk does then.
    """
    auth = {"email": email, "token": token}
    forms = [
        f
        for f in _all(base_url, "/api/v2/ticket_forms.json", "ticket_forms", **auth)
        if f.get("active") and f.get("end_user_visible", True)
    ]
    fields = _all(base_url, "/api/v2/ticket_fields.json", "ticket_fields", **auth)
    if not forms:
        return PortalForm("Submit a request", portal_fields(None, fields))
    if name is not None:
        form = next(f for f in forms if f["name"] == name)
    else:
        form = next((f for f in forms if f.get("default")), forms[0])
    return PortalForm(
        str(form.get("display_name") or form["name"]), portal_fields(form, fields)
    )


def portal_fields(
    form: dict[str, Any] | None, fields: list[dict[str, Any]]
) -> tuple[PortalField, ...]:
    """The fields an end user sees, in the form's order (or the account's)."""
    by_id = {f["id"]: f for f in fields}
    order = (
        [by_id[i] for i in form["ticket_field_ids"] if i in by_id]
        if form is not None
        else fields
    )
    children = {
        child
        for condition in (form or {}).get("end_user_conditions") or []
        for child in (
            c["id"] if isinstance(c, dict) else c
            for c in condition.get("child_fields") or []
        )
    }
    shown: list[PortalField] = []
    for field in order:
        if not field.get("active", True) or not field.get("visible_in_portal"):
            continue
        options = field.get("custom_field_options") or field.get("system_field_options")
        shown.append(
            PortalField(
                id=int(field["id"]),
                type=str(field["type"]),
                # title_in_portal is the end users' title; a field without one
                # falls back to its title (UNCONFIRMED, docs/decisions.md).
                label=str(field.get("title_in_portal") or field["title"]),
                editable=bool(field.get("editable_in_portal")),
                required=bool(field.get("required_in_portal")),
                description=str(field.get("description") or ""),
                options=tuple((str(o["name"]), str(o["value"])) for o in options or []),
                conditional=field["id"] in children,
            )
        )
    return tuple(shown)


def _control(field: PortalField) -> str:
    name = f"request[custom_fields][{field.id}]"
    fid = f"request_custom_fields_{field.id}"
    required = ' required aria-required="true"' if field.required else ""
    hint = f' aria-describedby="{fid}_hint"' if field.description else ""
    if not field.editable:
        # Visible but not editable: shown, never filled in by the customer.
        return f'<input id="{fid}" type="text" value="-" readonly{hint}>'
    if field.type in _DROPDOWN_TYPES:
        # Garden's Combobox (not editable) as Copenhagen's DropDown uses it: an
        # optional drop-down starts with a "-" option, a required one has none.
        items = [] if field.required else [("-", "")]
        items += list(field.options)
        options = "".join(
            f'<li role="option" id="{fid}_opt{n}" data-value="{html.escape(value)}"'
            f' aria-selected="false">{html.escape(label)}</li>'
            for n, (label, value) in enumerate(items)
        )
        return (
            f'<div class="combobox" data-field="{field.id}">'
            f'<input type="hidden" name="{name}" value="">'
            f'<div id="{fid}" class="combobox-input" role="combobox" tabindex="0"'
            f' aria-haspopup="listbox" aria-expanded="false"'
            f' aria-controls="{fid}_list" aria-labelledby="{fid}_label"{required}{hint}>'
            '<span class="value">-</span></div>'
            f'<ul id="{fid}_list" class="listbox" role="listbox" hidden>{options}</ul>'
            "</div>"
        )
    if field.type in ("description", "textarea"):
        return (
            f'<textarea id="{fid}" name="{name}" rows="6"{required}{hint}></textarea>'
        )
    if field.type == "checkbox":
        return f'<input id="{fid}" type="checkbox" name="{name}"{hint}>'
    if field.type == "date":
        return f'<input id="{fid}" type="date" name="{name}"{required}{hint}>'
    if field.type in _INPUT_TYPES:
        return f'<input id="{fid}" type="text" name="{name}"{required}{hint}>'
    return f'<input id="{fid}" type="text" name="{name}"{required}{hint}>'


def _field(field: PortalField) -> str:
    fid = f"request_custom_fields_{field.id}"
    star = (
        '<span class="required" aria-hidden="true">*</span>' if field.required else ""
    )
    hint = (
        f'<p class="hint" id="{fid}_hint">{html.escape(field.description)}</p>'
        if field.description
        else ""
    )
    hidden = " hidden" if field.conditional else ""
    return (
        f'<div class="form-field" data-field-id="{field.id}"'
        f' data-type="{html.escape(field.type)}"{hidden}>'
        f'<label id="{fid}_label" for="{fid}">{html.escape(field.label)}{star}</label>'
        f"{hint}{_control(field)}</div>"
    )


# Copenhagen's look, written for this page: its default settings (brand
# #17494D, text #2F3941, links #1F73B7, system fonts), its header, breadcrumbs
# and 650 px form, and the Zendesk Garden field styles its React request form
# uses (14 px semibold labels, 40 px inputs with a #D8DCDE border and 4 px
# radius, a blue focus ring, a listbox with a shadow).
CSS = """
*{box-sizing:border-box}
body{margin:0;color:#2F3941;background:#fff;font-size:15px;line-height:1.5;
 font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;
 -webkit-font-smoothing:antialiased}
a{color:#1F73B7;text-decoration:none}
.header{max-width:1160px;margin:0 auto;padding:0 5%;height:71px;display:flex;
 align-items:center;justify-content:space-between}
.logo{display:flex;align-items:center;gap:10px;font-weight:600;color:#2F3941}
.logo i{width:32px;height:32px;border-radius:6px;background:#17494D;display:inline-block}
.user-nav{display:flex;align-items:center;gap:28px;font-size:14px}
.user-nav .sign-in{background:#17494D;color:#fff;border-radius:4px;padding:6px 16px}
.container{max-width:1160px;margin:0 auto;padding:0 5%}
.sub-nav{padding:18px 0 26px;font-size:13px;color:#68737D}
.sub-nav a{color:#68737D}
.sub-nav span{margin:0 6px}
h1{font-size:32px;font-weight:600;margin:0 0 32px;color:#2F3941}
.form{max-width:650px;margin-bottom:40px}
.form-field~.form-field{margin-top:24px}
.form-field label{display:block;font-size:14px;font-weight:600;line-height:20px;
 margin-bottom:8px}
.form-field .required{margin-left:2px}
.form-field .hint{color:#68737D;font-size:14px;line-height:20px;margin:-4px 0 8px}
.form-field input[type=text],.form-field input[type=date],.form-field textarea,
.combobox-input{width:100%;min-height:40px;padding:9px 12px;font:inherit;font-size:14px;
 line-height:20px;color:#2F3941;background:#fff;border:1px solid #D8DCDE;border-radius:4px}
.form-field textarea{min-height:120px;resize:vertical}
.form-field input[readonly]{background:#F8F9F9;color:#68737D}
.form-field input:focus,.form-field textarea:focus,.combobox-input:focus,
.combobox-input[aria-expanded=true]{outline:none;border-color:#1F73B7;
 box-shadow:0 0 0 3px rgba(31,115,183,.35)}
.combobox{position:relative}
.combobox-input{cursor:pointer;padding-right:36px;position:relative}
.combobox-input::after{content:"";position:absolute;right:14px;top:13px;width:8px;
 height:8px;border-right:1.5px solid #68737D;border-bottom:1.5px solid #68737D;
 transform:rotate(45deg)}
.combobox-input[aria-expanded=true]::after{top:19px;transform:rotate(225deg)}
.listbox{position:absolute;z-index:10;left:0;right:0;top:44px;margin:0;padding:4px 0;
 list-style:none;background:#fff;border:1px solid #D8DCDE;border-radius:4px;
 box-shadow:0 20px 28px 0 rgba(4,68,77,.15)}
.listbox li{padding:8px 12px 8px 36px;font-size:14px;line-height:20px;cursor:pointer;
 position:relative}
.listbox li:hover,.listbox li.active{background:rgba(31,115,183,.08)}
.listbox li[aria-selected=true]::before{content:"";position:absolute;left:14px;top:12px;
 width:5px;height:9px;border-right:2px solid #1F73B7;border-bottom:2px solid #1F73B7;
 transform:rotate(45deg)}
.form footer{margin-top:40px;padding-top:30px;border-top:1px solid #E9EBED}
.button-primary{background:#17494D;color:#fff;border:0;border-radius:4px;min-height:40px;
 padding:0 22px;font:inherit;font-size:14px;font-weight:600;cursor:pointer}
"""

# Garden's Combobox behaviour, enough for a customer: open, pick, close.
SCRIPT = """
document.querySelectorAll('.combobox').forEach(function (box) {
  var input = box.querySelector('[role=combobox]');
  var list = box.querySelector('[role=listbox]');
  var hidden = box.querySelector('input[type=hidden]');
  function open(yes) { list.hidden = !yes; input.setAttribute('aria-expanded', String(yes)); }
  input.addEventListener('click', function () { open(list.hidden); });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' || e.key === ' ' || e.key === 'ArrowDown') { open(true); e.preventDefault(); }
    if (e.key === 'Escape') { open(false); }
  });
  list.querySelectorAll('[role=option]').forEach(function (option) {
    option.addEventListener('click', function () {
      list.querySelectorAll('[role=option]').forEach(function (o) {
        o.setAttribute('aria-selected', String(o === option));
      });
      hidden.value = option.dataset.value;
      input.querySelector('.value').textContent = option.textContent;
      open(false);
      input.dispatchEvent(new Event('change', {bubbles: true}));
    });
  });
});
"""


def render(form: PortalForm, *, brand: str = "Acme Support", extra: str = "") -> str:
    """Return the "Submit a request" page for ``form`` (``extra`` before </body>)."""
    fields = "".join(_field(f) for f in form.fields)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Submit a request – {html.escape(brand)}</title>"
        f"<style>{CSS}</style></head><body>"
        f'<header class="header"><a class="logo" href="#"><i></i>{html.escape(brand)}</a>'
        '<nav class="user-nav"><a href="#">Submit a request</a>'
        '<a href="#">Ana Customer</a></nav></header>'
        '<main class="container"><nav class="sub-nav" aria-label="Breadcrumbs">'
        f'<a href="#">{html.escape(brand)}</a><span>›</span>Submit a request</nav>'
        f'<h1>Submit a request</h1><form class="form" data-form="{html.escape(form.name)}"'
        " novalidate>"
        f"{fields}"
        '<footer><button class="button-primary" type="submit">Submit</button></footer>'
        f"</form></main><script>{SCRIPT}</script>{extra}</body></html>"
    )
