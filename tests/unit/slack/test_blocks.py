"""The Slack app's pure parts: the modal, the button value, submissions, the due phrase."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from sidecar.slack.blocks import (
    BUTTON_VALUE_MAX,
    DESCRIPTION_ACTION,
    DESCRIPTION_BLOCK,
    SEVERITY_ACTION,
    SEVERITY_BLOCK,
    SUBJECT_ACTION,
    SUBJECT_BLOCK,
    MessageRef,
    Prefill,
    TicketRequest,
    button_value,
    due_phrase,
    modal_view,
    parse_submission,
    read_button_value,
    span,
)
from tests.fake_slack import _view_problems

REF = MessageRef(
    channel="C0SHARED01",
    ts="1700000000.000100",
    thread_ts="1700000000.000100",
    author="U1",
)
NOW = datetime(2026, 12, 1, 13, 6, 30, tzinfo=UTC)


def submission(
    severity: str | None, subject: str, description: str, metadata: str | None = None
) -> dict:
    option = {"value": severity} if severity is not None else None
    return {
        "private_metadata": REF.to_json() if metadata is None else metadata,
        "state": {
            "values": {
                SEVERITY_BLOCK: {
                    SEVERITY_ACTION: {
                        "type": "radio_buttons",
                        "selected_option": option,
                    }
                },
                SUBJECT_BLOCK: {
                    SUBJECT_ACTION: {"type": "plain_text_input", "value": subject}
                },
                DESCRIPTION_BLOCK: {
                    DESCRIPTION_ACTION: {
                        "type": "plain_text_input",
                        "value": description,
                    }
                },
            }
        },
    }


def test_due_phrase_reads_like_the_issue_example() -> None:
    """Due 14:05 at 13:06:30 reads "due by 14:05 UTC, in 58 min" (whole minutes, never rounded up)."""
    assert (
        due_phrase(datetime(2026, 12, 1, 14, 5, tzinfo=UTC), NOW)
        == "due by 14:05 UTC, in 58 min"
    )


def test_due_phrase_on_another_day_names_the_day() -> None:
    """A due time on another date carries weekday, day and month."""
    due = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert due_phrase(due, NOW) == "due by Wed 2 Dec 16:00 UTC, in 1 d 2 h"


def test_due_phrase_in_the_past_says_how_late() -> None:
    """A passed due time says it was due, and how long ago (rounded up)."""
    due = NOW - timedelta(minutes=5, seconds=10)
    assert due_phrase(due, NOW) == "was due by 13:01 UTC, 6 min ago"


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
@example(timedelta(minutes=59, seconds=59))
@example(timedelta(hours=24))
def test_span_never_overstates_the_time_left(delta: timedelta) -> None:
    """The rendered time is at most the real one, short by under a minute (a day or more: an hour)."""
    text = span(delta)
    units = {"d": 86400, "h": 3600, "min": 60}
    shown = sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (d|h|min)", text))
    precision = 3600 if " d" in text else 60
    assert shown <= delta.total_seconds() < shown + precision


def test_modal_meets_block_kit_limits_and_offers_the_five_severities() -> None:
    """The modal passes the fake's Block Kit checks and lists SEV 1 to SEV 5 with the seed's names."""
    view = modal_view(REF, Prefill.from_text("x" * 5000))
    assert _view_problems(view) == []
    options = view["blocks"][0]["element"]["options"]
    assert [o["value"] for o in options] == ["1", "2", "3", "4", "5"]
    assert options[0]["text"]["text"] == "SEV 1 - Critical (Business-Critical Impact)"
    assert MessageRef.from_json(view["private_metadata"]) == REF


@given(st.text(max_size=4000))
def test_button_value_fits_and_round_trips(text: str) -> None:
    """Any message text fits the 2,000-character button value; the message ref survives intact."""
    value = button_value(REF, Prefill.from_text(text))
    assert len(value) <= BUTTON_VALUE_MAX
    ref, prefill = read_button_value(value)
    assert ref == REF
    assert Prefill.from_text(text).description.startswith(prefill.description)


def test_prefill_takes_the_first_non_empty_line_and_unescapes() -> None:
    """Subject = the first non-empty line; Slack's &lt; &gt; &amp; are undone."""
    prefill = Prefill.from_text("\n\n  Pushes &amp; pulls fail  \n&lt;503&gt;")
    assert prefill.subject == "Pushes & pulls fail"
    assert prefill.description == "Pushes & pulls fail  \n<503>"


def test_a_valid_submission_becomes_a_request() -> None:
    """Severity, subject (whitespace collapsed) and description are read from the view state."""
    parsed = parse_submission(
        submission("2", "  Slow   pulls ", "details"), user="U2", team="T1"
    )
    assert parsed == TicketRequest(
        message=REF,
        severity=2,
        subject="Slow pulls",
        description="details",
        submitted_by="U2",
        team="T1",
    )


def test_an_incomplete_submission_names_each_block() -> None:
    """Missing severity, subject and description each get an error under their block."""
    errors = parse_submission(submission(None, " ", ""), user="U2")
    assert set(errors) == {SEVERITY_BLOCK, SUBJECT_BLOCK, DESCRIPTION_BLOCK}  # type: ignore[arg-type]


def test_a_forged_severity_or_metadata_is_refused() -> None:
    """A severity outside 1-5 or unreadable private_metadata is an error, not a ticket."""
    assert SEVERITY_BLOCK in parse_submission(submission("9", "s", "d"), user="U2")  # type: ignore[operator]
    broken = parse_submission(
        submission("1", "s", "d", metadata="{not json"), user="U2"
    )
    assert isinstance(broken, dict) and SUBJECT_BLOCK in broken


def test_message_ref_json_defaults_the_thread_to_the_message() -> None:
    """A ref without thread_ts follows the message's own thread."""
    ref = MessageRef.from_json(json.dumps({"channel": "C1", "ts": "1.2"}))
    assert ref.thread_ts == "1.2" and ref.author is None
