"""The Business Hours adapter against the strict double: schedules, zones, holidays, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import requests

from sidecar.errors import BadResponse, Rejected
from sidecar.sla import Holiday
from sidecar.zendesk.client import ZendeskClient
from sidecar.zendesk.schedules import fetch_business_hours
from sidecar.zendesk.time_zones import RAILS_TIME_ZONES, iana_zone
from tests.fake_zendesk import API_EMAIL, API_TOKEN, FakeZendesk


@pytest.fixture
def zd() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        yield fake


def _admin(
    zd: FakeZendesk, method: str, path: str, body: object = None
) -> requests.Response:
    """A call as an admin would make it (curl in the page's examples)."""
    return requests.request(
        method,
        zd.url + path,
        json=body,
        auth=(f"{API_EMAIL}/token", API_TOKEN),
        timeout=5,
    )


def test_schedules_come_back_with_iana_zones_and_every_holiday(zd):
    """Each schedule: id, name, the Rails zone mapped to IANA, intervals, holidays inclusive."""
    sid = zd.add_schedule(
        "Support hours",
        time_zone="Eastern Time (US & Canada)",
        intervals=[(1980, 2460), (3420, 3900)],
        holidays=[("Christmas", "2026-12-24", "2026-12-26")],
    )
    zd.add_schedule("EMEA", time_zone="London")
    with ZendeskClient.from_config(zd.config()) as client:
        found = fetch_business_hours(client)
    support, emea = found
    assert (support.id, support.name, support.timezone) == (
        sid,
        "Support hours",
        "America/New_York",
    )
    assert support.zendesk_time_zone == "Eastern Time (US & Canada)"
    assert support.intervals == ((1980, 2460), (3420, 3900))
    assert support.holidays == (
        Holiday("Christmas", date(2026, 12, 24), date(2026, 12, 26)),
    )
    assert emea.timezone == "Europe/London"
    # A created schedule has the page's default hours, Monday to Friday 09:00-17:00.
    assert len(emea.intervals) == 5
    schedule = support.to_schedule()
    assert schedule.contains(datetime(2026, 12, 7, 15, tzinfo=UTC))  # Mon 10:00 EST
    assert not schedule.contains(datetime(2026, 12, 24, 15, tzinfo=UTC))  # holiday


def test_one_read_for_the_list_and_one_per_schedule(zd):
    """The cost of a refresh: 1 + the number of schedules."""
    zd.add_schedule("A")
    zd.add_schedule("B")
    with ZendeskClient.from_config(zd.config()) as client:
        fetch_business_hours(client)
    paths = [c.path for c in zd.calls() if c.method == "GET"]
    assert len(paths) == 3
    assert paths[0].startswith("/api/v2/business_hours/schedules")


def test_an_edit_through_the_api_is_what_the_next_read_sees(zd):
    """Update Intervals and Create Holiday change what the adapter reads."""
    sid = zd.add_schedule("Support hours")
    reply = _admin(
        zd,
        "PUT",
        f"/api/v2/business_hours/schedules/{sid}/workweek.json",
        {"workweek": {"intervals": [{"start_time": 1920, "end_time": 2460}]}},
    )
    assert reply.status_code == 200
    reply = _admin(
        zd,
        "POST",
        f"/api/v2/business_hours/schedules/{sid}/holidays.json",
        {
            "holiday": {
                "name": "Day off",
                "start_date": "2026-12-28",
                "end_date": "2026-12-28",
            }
        },
    )
    assert reply.status_code == 201
    with ZendeskClient.from_config(zd.config()) as client:
        (hours,) = fetch_business_hours(client)
    assert hours.intervals == ((1920, 2460),)
    assert [str(h) for h in hours.holidays] == ["2026-12-28 Day off"]


@pytest.mark.parametrize(
    "intervals",
    [
        [{"start_time": 2400, "end_time": 2900}],  # Monday 16:00 to Tuesday 00:20
        [{"start_time": 0, "end_time": 10081}],
        [{"start_time": 60, "end_time": 60}],
    ],
)
def test_the_double_refuses_intervals_zendesk_refuses(zd, intervals):
    """Intervals "can't span calendar days" and live within the week: 422."""
    sid = zd.add_schedule("Support hours")
    reply = _admin(
        zd,
        "PUT",
        f"/api/v2/business_hours/schedules/{sid}/workweek.json",
        {"workweek": {"intervals": intervals}},
    )
    assert reply.status_code == 422


def test_intervals_sent_on_update_are_ignored(zd):
    """Intervals are writable only through Update Intervals."""
    sid = zd.add_schedule("Support hours", intervals=[(1980, 2460)])
    reply = _admin(
        zd,
        "PUT",
        f"/api/v2/business_hours/schedules/{sid}.json",
        {
            "schedule": {
                "name": "Renamed",
                "intervals": [{"start_time": 0, "end_time": 60}],
            }
        },
    )
    assert reply.status_code == 200
    assert reply.json()["schedule"]["intervals"] == [
        {"start_time": 1980, "end_time": 2460}
    ]
    assert (
        "/api/v2/business_hours/schedules/" + str(sid),
        "intervals",
    ) in zd.ignored_properties


def test_holidays_beyond_two_years_are_refused(zd):
    """Create Holiday: no sooner than two years back, no later than two years ahead."""
    sid = zd.add_schedule("Support hours")
    far = {
        "holiday": {"name": "x", "start_date": "2040-01-01", "end_date": "2040-01-01"}
    }
    reply = _admin(zd, "POST", f"/api/v2/business_hours/schedules/{sid}/holidays", far)
    assert reply.status_code == 422


def test_list_holidays_filters_by_start_date_as_documented(zd):
    """Only start_date: those beginning on or after it, plus the one it falls in."""
    sid = zd.add_schedule(
        "Support hours",
        holidays=[
            ("old", "2026-01-01", "2026-01-01"),
            ("spanning", "2026-06-01", "2026-06-10"),
            ("later", "2026-12-25", "2026-12-25"),
        ],
    )
    reply = _admin(
        zd,
        "GET",
        f"/api/v2/business_hours/schedules/{sid}/holidays?start_date=2026-06-05",
    )
    assert [h["name"] for h in reply.json()["holidays"]] == ["spanning", "later"]


def test_only_admins_may_list_schedules(zd):
    """List Schedules is allowed for admins: an agent's token gets 403, which is Rejected."""
    zd._users[zd.api_user_id]["role"] = "agent"
    with ZendeskClient.from_config(zd.config()) as client, pytest.raises(Rejected):
        fetch_business_hours(client)


def test_an_unknown_time_zone_is_a_bad_response_naming_it(zd):
    """A zone neither Rails' mapping nor IANA knows is refused, never guessed."""
    sid = zd.add_schedule("Support hours")
    zd._schedules[sid]["time_zone"] = "Atlantis"
    client = ZendeskClient.from_config(zd.config())
    with client, pytest.raises(BadResponse, match="'Atlantis'"):
        fetch_business_hours(client)


def test_every_rails_zone_is_a_zone_python_knows():
    """The mapping's IANA names all load (some are tz backward links)."""
    from zoneinfo import ZoneInfo

    for name, zone in RAILS_TIME_ZONES.items():
        assert ZoneInfo(zone).key == zone, name
    assert iana_zone("Pacific Time (US & Canada)") == "America/Los_Angeles"
    assert iana_zone("Europe/Paris") == "Europe/Paris"  # Rails' own fallback


def test_the_documented_example_answers_parse_page_by_page():
    """The Schedules page's own examples, answered in two pages each, parse as expected."""
    from sidecar.config import Secret
    from tests.contract.zendesk_double import SUBDOMAIN, ContractZendesk

    with (
        ContractZendesk() as double,
        ZendeskClient(
            SUBDOMAIN, email="bot@acme.test", api_token=Secret("contract-token")
        ) as client,
    ):
        found = fetch_business_hours(client)
    assert [(h.name, h.timezone) for h in found] == [
        ("North America", "America/Los_Angeles"),
        ("EMEA", "Europe/London"),
    ]
    assert [str(h) for h in found[0].holidays] == [
        "2020-12-30..2021-01-02 New Year",
        "2021-07-04 Independence Day",
    ]
    assert len(double.captured) == 6  # two pages of schedules, two per holiday list
