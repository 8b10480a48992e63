"""Read the account's schedules from Zendesk's Business Hours API.

``GET /api/v2/business_hours/schedules`` answers ``{"schedules": [...]}``, each
``{id, name, time_zone, intervals: [{start_time, end_time}], created_at,
updated_at}`` ("List Schedules", allowed for admins), and ``GET
/api/v2/business_hours/schedules/{id}/holidays`` answers ``{"holidays": [...]}``,
each ``{id, name, start_date, end_date}``; without ``start_date``/``end_date``
"all holidays are returned" ("List Holidays for Schedule"). Source:
developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/.
One read of the list plus one per schedule; both follow ``next_page`` should
Zendesk ever page them (the page documents no pagination).

What the API says is checked here and becomes :class:`BusinessHours` values
(the time zone mapped to IANA, sidecar.zendesk.time_zones); anything else is
BadResponse naming the schedule and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, NoReturn, Protocol

from sidecar.errors import BadResponse
from sidecar.sla.business_hours import BusinessHours, Holiday
from sidecar.sla.errors import SlaInputError
from sidecar.zendesk.decipher import SERVICE
from sidecar.zendesk.time_zones import UnknownTimeZone, iana_zone


class ScheduleReader(Protocol):
    """The Business Hours reads (sidecar.zendesk.client.ZendeskClient)."""

    def list_schedules(self) -> list[dict[str, Any]]: ...
    def list_schedule_holidays(self, schedule_id: int) -> list[dict[str, Any]]: ...


def fetch_business_hours(zendesk: ScheduleReader) -> list[BusinessHours]:
    """Every schedule of the account with its holidays (1 + one call per schedule)."""
    found = []
    for raw in zendesk.list_schedules():
        schedule_id = _id(raw, "schedule")
        holidays = zendesk.list_schedule_holidays(schedule_id)
        found.append(business_hours(raw, holidays))
    return found


def business_hours(
    raw: Mapping[str, Any], holidays: list[dict[str, Any]]
) -> BusinessHours:
    """One schedule (and its holidays) as the API gave it; BadResponse when malformed."""
    schedule_id = _id(raw, "schedule")
    name = raw.get("name")
    where = f"schedule {schedule_id}"
    if not isinstance(name, str) or not name:
        _bad(where, "name is not text")
    zone = raw.get("time_zone")
    if not isinstance(zone, str):
        _bad(where, "time_zone is not text")
    try:
        timezone = iana_zone(zone)
    except UnknownTimeZone as exc:
        _bad(where, str(exc))
    intervals = raw.get("intervals")
    if not isinstance(intervals, list):
        _bad(where, "intervals is not a list")
    pairs: list[tuple[int, int]] = []
    for interval in intervals:
        if not isinstance(interval, dict):
            _bad(where, "an interval is not an object")
        pairs.append(
            (
                _minutes(interval.get("start_time"), where),
                _minutes(interval.get("end_time"), where),
            )
        )
    try:
        return BusinessHours(
            id=schedule_id,
            name=name,
            timezone=timezone,
            intervals=tuple(pairs),
            holidays=tuple(_holiday(h, where) for h in holidays),
            zendesk_time_zone=zone,
            updated_at=str(raw.get("updated_at") or ""),
        )
    except SlaInputError as exc:
        _bad(where, str(exc))


def _holiday(raw: Any, where: str) -> Holiday:
    if not isinstance(raw, dict):
        _bad(where, "a holiday is not an object")
    name = raw.get("name")
    try:
        start = date.fromisoformat(str(raw.get("start_date")))
        end = date.fromisoformat(str(raw.get("end_date")))
    except ValueError:
        _bad(where, f"holiday {raw.get('id')!r}: start_date/end_date are not dates")
    try:
        return Holiday(str(name or ""), start, end)
    except SlaInputError as exc:
        _bad(where, str(exc))


def _minutes(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _bad(where, "start_time/end_time are not whole minutes")
    return value


def _id(raw: Any, what: str) -> int:
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadResponse(
            f"zendesk {what}: id is not a positive integer", service=SERVICE
        )
    return value


def _bad(where: str, problem: str) -> NoReturn:
    raise BadResponse(f"zendesk {where}: {problem}", service=SERVICE)
