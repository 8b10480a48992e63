"""What the Slack app shows and reads: the prompt, the modal, the thread messages.

Pure: no Slack client, no clock, no environment. The web side and the worker
build and parse Slack's JSON here, so the wording and the limits (Block Kit:
a modal title at most 24 characters, an option text 75, ``private_metadata``
3,000, a button ``value`` 2,000) live in one place and are unit-tested.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MODAL_CALLBACK = "zendesk_ticket_modal"
SHORTCUT_CALLBACK = "create_zendesk_ticket"
OPEN_MODAL_ACTION = "open_zendesk_ticket_modal"
SEVERITY_BLOCK, SEVERITY_ACTION = "severity", "severity_choice"
SUBJECT_BLOCK, SUBJECT_ACTION = "subject", "subject_input"
DESCRIPTION_BLOCK, DESCRIPTION_ACTION = "description", "description_input"

# Block Kit limits (api.slack.com/reference/block-kit: plain_text_input
# max_length <= 3000, button value <= 2000, view private_metadata <= 3000).
SUBJECT_MAX = 150
DESCRIPTION_MAX = 3000
BUTTON_VALUE_MAX = 2000
METADATA_MAX = 3000
QUOTE_MAX = 2500

# The seed policy's Issue Severity options (the support page's names) and the
# examples it gives, shown in the modal so customers pick the contractual one.
SEVERITY_NAMES = {
    1: "SEV 1 - Critical (Business-Critical Impact)",
    2: "SEV 2 - High (Business Impact)",
    3: "SEV 3 - Medium",
    4: "SEV 4 - Low",
    5: "SEV 5 - Lowest",
}
SEVERITY_HINTS = {
    1: "Platform unavailable via UI, CLI and API. Pages on-call 24/7.",
    2: "Some features interrupted or severely degraded. Pages on-call 24/7.",
    3: "Partial, non-critical loss of function. Core support hours.",
    4: "Minor issue or question. Core support hours.",
    5: "General feedback or request. Core support hours.",
}
SEVERITY_EXAMPLES = (
    "*SEV 1* – broad impact platform outage · platform completely unavailable "
    "via UI, CLI and API · unable to push or pull any packages.\n"
    "*SEV 2* – service interruptions to some but not all platform features · "
    "severe delay or consistent failure in push/pull actions · issues "
    "restricted to a single package format · platform unavailable or severely "
    "degraded via UI, CLI or API."
)


@dataclass(frozen=True)
class MessageRef:
    """The Slack message a ticket is about, and the thread that follows the ticket.

    ``thread_ts`` is the thread's parent: the message itself when it is
    top-level (chat.postMessage wants the parent's ts, never a reply's).
    """

    channel: str
    ts: str
    thread_ts: str
    author: str | None = None  # the message's Slack user id, when a user wrote it

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MessageRef:
        data = json.loads(text)
        return cls(
            channel=str(data["channel"]),
            ts=str(data["ts"]),
            thread_ts=str(data.get("thread_ts") or data["ts"]),
            author=data.get("author"),
        )


@dataclass(frozen=True)
class Prefill:
    """What the modal starts with: the message's first line and its text."""

    subject: str
    description: str

    @classmethod
    def from_text(cls, text: str) -> Prefill:
        text = unescape(text or "").strip()
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return cls(first[:SUBJECT_MAX], text[:DESCRIPTION_MAX])


@dataclass(frozen=True)
class TicketRequest:
    """A validated modal submission: what the worker turns into a ticket."""

    message: MessageRef
    severity: int
    subject: str
    description: str
    submitted_by: str  # Slack user id
    team: str | None = None


def unescape(text: str) -> str:
    """Undo Slack's three HTML escapes in message text (&amp; &lt; &gt;)."""
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def prompt_blocks(ref: MessageRef, prefill: Prefill) -> list[dict[str, Any]]:
    """The ephemeral prompt shown to whoever reacted: a button that opens the modal."""
    value = button_value(ref, prefill)
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Open a support ticket for this message? Pick its Issue "
                "Severity in the next step; SEV 1 and SEV 2 alert on-call at once.",
            },
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": OPEN_MODAL_ACTION,
                    "text": _plain("Create Zendesk ticket"),
                    "value": value,
                }
            ],
        },
    ]


PROMPT_TEXT = "Open a support ticket for this message?"
NOT_CONNECTED_TEXT = (
    "This channel is not connected to support, so no ticket can be created "
    "from it. Please ask your account team to connect it."
)


def button_value(ref: MessageRef, prefill: Prefill) -> str:
    """Encode the message and its text in a button value (at most 2,000 characters)."""
    text = prefill.description
    while True:
        value = json.dumps(
            {"ref": json.loads(ref.to_json()), "text": text},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        if len(value) <= BUTTON_VALUE_MAX or not text:
            return value
        # Escapes make the JSON longer than the text: cut and measure again.
        text = text[: max(0, len(text) - (len(value) - BUTTON_VALUE_MAX) - 1)]


def read_button_value(value: object) -> tuple[MessageRef, Prefill]:
    """Decode what :func:`button_value` wrote; ValueError for anything else."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
        if not isinstance(data, dict) or not isinstance(data.get("ref"), dict):
            raise ValueError("no 'ref' object")
        ref = MessageRef.from_json(json.dumps(data["ref"]))
    except (ValueError, KeyError, TypeError, RecursionError):
        # A forged or foreign button (a number, a string, another app's JSON).
        raise ValueError("the button's value is not a ticket prompt's") from None
    return ref, Prefill.from_text(str(data.get("text") or ""))


def modal_view(ref: MessageRef, prefill: Prefill) -> dict[str, Any]:
    """The "Create Zendesk ticket" modal: Issue Severity, subject, description."""
    options = [
        {
            "text": _plain(SEVERITY_NAMES[sev][:75]),
            "description": _plain(SEVERITY_HINTS[sev][:75]),
            "value": str(sev),
        }
        for sev in sorted(SEVERITY_NAMES)
    ]
    subject_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": SUBJECT_ACTION,
        "max_length": SUBJECT_MAX,
    }
    if prefill.subject:
        subject_input["initial_value"] = prefill.subject
    description_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": DESCRIPTION_ACTION,
        "multiline": True,
        "max_length": DESCRIPTION_MAX,
    }
    if prefill.description:
        description_input["initial_value"] = prefill.description
    metadata = ref.to_json()
    if len(metadata) > METADATA_MAX:  # ids and timestamps only: cannot happen
        raise ValueError("private_metadata over 3000 characters")
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": metadata,
        "title": _plain("Create Zendesk ticket"),
        "submit": _plain("Create ticket"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": SEVERITY_BLOCK,
                "label": _plain("Issue Severity"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": SEVERITY_ACTION,
                    "options": options,
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": SEVERITY_EXAMPLES}],
            },
            {
                "type": "input",
                "block_id": SUBJECT_BLOCK,
                "label": _plain("Subject"),
                "element": subject_input,
            },
            {
                "type": "input",
                "block_id": DESCRIPTION_BLOCK,
                "label": _plain("Description"),
                "element": description_input,
            },
        ],
    }


def parse_submission(
    view: Mapping[str, Any], *, user: str, team: str | None = None
) -> TicketRequest | dict[str, str]:
    """Read a modal submission; return the request, or errors by block id.

    The errors go back to Slack in the same HTTP answer
    (``response_action: errors``), shown under their input blocks.
    """
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None

    def value_of(block: str, action: str) -> Mapping[str, Any]:
        # Any other shape reads as "not filled in": the modal shows its errors.
        group = values.get(block) if isinstance(values, Mapping) else None
        found = group.get(action) if isinstance(group, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    errors: dict[str, str] = {}
    selected = value_of(SEVERITY_BLOCK, SEVERITY_ACTION).get("selected_option")
    if not isinstance(selected, Mapping):
        selected = {}
    picked = str(selected.get("value", ""))
    # ASCII digits only: "²".isdigit() is True but int("²") raises.
    number = (
        int(picked)
        if picked.isascii() and picked.isdigit() and len(picked) < 4
        else None
    )
    severity = number if number in SEVERITY_NAMES else None
    if severity is None:
        errors[SEVERITY_BLOCK] = "Pick the Issue Severity (SEV 1 to SEV 5)."
    subject = " ".join(
        str(value_of(SUBJECT_BLOCK, SUBJECT_ACTION).get("value") or "").split()
    )
    if not subject:
        errors[SUBJECT_BLOCK] = "Give the ticket a subject."
    elif len(subject) > SUBJECT_MAX:
        errors[SUBJECT_BLOCK] = f"At most {SUBJECT_MAX} characters."
    description = str(
        value_of(DESCRIPTION_BLOCK, DESCRIPTION_ACTION).get("value") or ""
    ).strip()
    if not description:
        errors[DESCRIPTION_BLOCK] = "Describe the issue."
    try:
        ref = MessageRef.from_json(str(view.get("private_metadata") or ""))
    except (ValueError, KeyError, TypeError):
        # Not ours (an old or forged view): nothing tells which message it is.
        errors[SUBJECT_BLOCK] = "This form has expired; react with 🎫 again."
        ref = None
    if errors or ref is None or severity is None:
        return errors
    return TicketRequest(
        message=ref,
        severity=severity,
        subject=subject,
        description=description,
        submitted_by=user,
        team=team,
    )


def due_phrase(due_at: datetime, now: datetime) -> str:
    """Say when a first response is due, the way a channel reads it.

    "due by 14:05 UTC, in 58 min"; another day adds the weekday and date
    ("due by Tue 2 Dec 14:05 UTC, in 1 d 3 h"); a past instant says how late.
    Minutes are whole and never rounded up, so "in 58 min" is never optimistic.
    """
    due_utc, now_utc = due_at.astimezone(UTC), now.astimezone(UTC)
    when = f"{due_utc:%H:%M} UTC"
    if due_utc.date() != now_utc.date():
        when = f"{due_utc:%a} {due_utc.day} {due_utc:%b} {when}"
    delta = due_at - now
    if delta < timedelta(0):
        late = span(-delta, ceil=True)
        return f"was due by {when}, {late} ago"
    return f"due by {when}, in {span(delta)}"


def span(delta: timedelta, *, ceil: bool = False) -> str:
    """Render a duration in days, hours and minutes ("1 d 3 h", "58 min")."""
    seconds = delta.total_seconds()
    minutes = math.ceil(seconds / 60) if ceil else math.floor(seconds / 60)
    days, rest = divmod(max(0, minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def quote(text: str) -> str:
    """Quote a comment for Slack (each line behind ``>``), cut to a readable length."""
    text = text.strip()
    if len(text) > QUOTE_MAX:
        text = text[:QUOTE_MAX].rstrip() + " …"
    return "\n".join(f">{line}" for line in text.splitlines() or [""])


def link(url: str, label: str) -> str:
    """A Slack mrkdwn link."""
    return f"<{url}|{label}>"
