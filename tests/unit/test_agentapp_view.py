"""The sidebar view's account of skipped time: nights, weekends and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sidecar.agentapp.view import skipped, ticket_sla
from sidecar.domain.page_request import PAGE_REQUEST_TAG, PageRequest
from sidecar.domain.plan import plan
from sidecar.sla import (
    DEFAULT_POLICY,
    Policy,
    Schedule,
    Target,
    explain,
    parse_duration,
)
from tests.unit.test_plan import DESCRIPTION, ENTITLED, FIELDS, ORG, ticket


def test_a_friday_evening_sev4_skips_the_night_and_the_weekend() -> None:
    """SEV 4 (a day of core hours) from Friday 20:00 UTC runs into Monday; the weekend is skipped."""
    created = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # a Friday
    gaps = skipped(explain(created, 4, DEFAULT_POLICY))
    assert [g["kind"] for g in gaps] == ["weekend"]  # due Monday 24:00
    weekend = gaps[0]
    assert (weekend["start"], weekend["end"]) == (
        "2026-12-05T01:00:00Z",
        "2026-12-07T05:00:00Z",
    )
    assert [d["date"] for d in weekend["days"]] == ["2026-12-05", "2026-12-06"]


def test_a_holiday_is_named() -> None:
    """A listed holiday removes its windows and the gap says holiday."""
    schedule = Schedule(
        "core",
        timezone="UTC",
        windows={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=[date(2026, 12, 25)],
    )
    policy = Policy(
        name="p",
        targets={3: Target(duration=parse_duration("8h"), schedule=schedule)},
    )
    created = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)  # Thursday, 1 h before close
    gaps = skipped(explain(created, 3, policy))
    assert gaps[0]["kind"] == "holiday"
    assert gaps[0]["days"][0] == {"date": "2026-12-25", "reason": "holiday (listed)"}
    assert gaps[0]["end"] == "2026-12-28T09:00:00Z"


def test_round_the_clock_skips_nothing() -> None:
    """A 24/7 target counts every minute."""
    created = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert skipped(explain(created, 1, DEFAULT_POLICY)) == []


def test_an_agents_page_request_shows_as_paging_with_who_asked() -> None:
    """A SEV 3 with the macro's tag: "pages" (about to go out) and who asked; the key named."""
    decided = plan(
        ticket(severity="sev_3", tags=frozenset({PAGE_REQUEST_TAG})),
        organization=ORG,
        comments=[DESCRIPTION],
        entitlement=ENTITLED,
        policy=DEFAULT_POLICY,
        fields=FIELDS,
        now=datetime(2026, 11, 27, 15, 1, tzinfo=UTC),
        self_user_id=None,
        page_request=PageRequest("Jo Agent", "EU checkout down"),
    )
    oncall = ticket_sla(decided, account="acme")["oncall"]
    assert oncall["pages"] is True and oncall["paged"] is False
    assert oncall["requested_by"] == "Jo Agent"
    assert oncall["dedup_key"] == "zendesk-acme-ticket-42"
    assert oncall["now"] is None
