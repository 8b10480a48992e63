"""The Business Hours API of FakeZendesk: schedules, their intervals and holidays.

Every rule below comes from Zendesk's Schedules reference,
developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/
("the page" below), not from what the sidecar sends:

- List Schedules and List Holidays are "Allowed For: Admins"; Show Schedule
  and Show Holiday are "Allowed For: Agents" (an end user gets 403).
- A schedule's ``name`` and ``time_zone`` are mandatory; ``intervals`` are
  "Writable only when updating intervals for a schedule" (Update Intervals,
  ``PUT .../schedules/{id}/workweek`` with ``{"workweek": {"intervals": [...]}}``),
  so Create and Update ignore them (recorded in ``ignored_properties``).
- A new schedule has the hours of the page's Create Schedule example response
  (Monday to Friday 09:00-17:00), since a create sends no intervals.
- ``start_time``/``end_time`` are minutes since Sunday 00:00; an interval
  "can't span calendar days", and "0 or 10080" is the midnight between
  Saturday and Sunday: an interval outside 0..10080, empty, or across a
  midnight is refused (422).
- ``time_zone`` is a name from the Time Zones list (the Rails names, "Data
  types", Time zones); another name is refused (422).
- Holidays: ``{id, name, start_date, end_date}`` (ISO 8601 dates), one or
  several days; Create Holiday needs "a start date no sooner than two years in
  the past and an end date no later than two years in the future".
- List Holidays filters: only ``start_date``: holidays beginning on or after
  it, plus one the date falls in; only ``end_date``: holidays beginning on or
  before it; both: holidays beginning between them; neither: all.
- ``updated_at`` moves on every change of the schedule (its intervals and
  holidays included: they are the schedule's business hours).

Handlers run under the fake's lock and return ``(Reply, None)``.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sidecar.zendesk.time_zones import RAILS_TIME_ZONES

_BASE = r"^/api/v2/business_hours/schedules"
_END = r"(?:\.json)?$"

SCHEDULE_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(_BASE + _END), "_bh_list"),
    ("POST", re.compile(_BASE + _END), "_bh_create"),
    # Two ids in one group ("12/holidays/34"): the dispatcher passes one argument.
    (
        "GET",
        re.compile(_BASE + r"/(\d+/holidays/\d+)" + _END),
        "_bh_show_holiday",
    ),
    (
        "PUT",
        re.compile(_BASE + r"/(\d+/holidays/\d+)" + _END),
        "_bh_update_holiday",
    ),
    (
        "DELETE",
        re.compile(_BASE + r"/(\d+/holidays/\d+)" + _END),
        "_bh_delete_holiday",
    ),
    ("GET", re.compile(_BASE + r"/(\d+)/holidays" + _END), "_bh_list_holidays"),
    ("POST", re.compile(_BASE + r"/(\d+)/holidays" + _END), "_bh_create_holiday"),
    ("PUT", re.compile(_BASE + r"/(\d+)/workweek" + _END), "_bh_workweek"),
    ("GET", re.compile(_BASE + r"/(\d+)" + _END), "_bh_show"),
    ("PUT", re.compile(_BASE + r"/(\d+)" + _END), "_bh_update"),
    ("DELETE", re.compile(_BASE + r"/(\d+)" + _END), "_bh_delete"),
]

# The page's Create Schedule example answer: Monday to Friday, 09:00-17:00.
DEFAULT_INTERVALS = [
    {"start_time": day * 1440 + 540, "end_time": day * 1440 + 1020}
    for day in range(1, 6)
]
WEEK_MINUTES = 10080
HOLIDAY_REACH = timedelta(days=2 * 365)  # "two years" either way


def _reply(status: int, body: Any) -> tuple[Any, None]:
    from tests.fake_zendesk import Reply

    return Reply(status, body, {}), None


def _invalid(description: str) -> tuple[Any, None]:
    return _reply(422, {"error": "RecordInvalid", "description": description})


def _not_found() -> tuple[Any, None]:
    return _reply(404, {"error": "RecordNotFound", "description": "Not found"})


def _forbidden() -> tuple[Any, None]:
    return _reply(403, {"error": "Forbidden", "description": "You do not have access"})


def interval_problem(intervals: Any) -> str | None:
    """Why Zendesk would refuse these intervals, or None."""
    if not isinstance(intervals, list):
        return "intervals must be a list"
    for interval in intervals:
        if not isinstance(interval, dict):
            return "an interval must be an object"
        start, end = interval.get("start_time"), interval.get("end_time")
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (start, end)
        ):
            return "start_time and end_time must be integers"
        if not 0 <= start < end <= WEEK_MINUTES:
            return f"interval {start}-{end} is not within the week"
        if start // 1440 != (end - 1) // 1440:
            return f"interval {start}-{end} spans calendar days"
    return None


class BusinessHoursMixin:
    """Schedules of the fake account (mixed into FakeZendesk)."""

    # Provided by FakeZendesk.
    _ids: itertools.count[int]
    _clock: Callable[[], datetime]
    _users: dict[int, dict[str, Any]]
    api_user_id: int
    ignored_properties: list[tuple[str, str]]

    def _bh_init(self) -> None:
        self._schedules: dict[int, dict[str, Any]] = {}
        self._holidays: dict[int, dict[int, dict[str, Any]]] = {}

    # --- test helpers (an admin in Admin Center) ---------------------------------

    def add_schedule(
        self,
        name: str,
        *,
        time_zone: str = "Eastern Time (US & Canada)",
        intervals: list[tuple[int, int]] | None = None,
        holidays: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    ) -> int:
        """Add a schedule with its intervals and holidays (name, start, end); its id."""
        sid = next(self._ids)
        stamp = self._bh_stamp()
        self._schedules[sid] = {
            "id": sid,
            "name": name,
            "time_zone": time_zone,
            "intervals": (
                [{"start_time": s, "end_time": e} for s, e in intervals]
                if intervals is not None
                else copy.deepcopy(DEFAULT_INTERVALS)
            ),
            "created_at": stamp,
            "updated_at": stamp,
        }
        self._holidays[sid] = {}
        for holiday_name, start, end in holidays:
            hid = next(self._ids)
            self._holidays[sid][hid] = {
                "id": hid,
                "name": holiday_name,
                "start_date": start,
                "end_date": end,
            }
        return sid

    def schedule(self, sid: int) -> dict[str, Any]:
        return copy.deepcopy(self._schedules[sid])

    # --- helpers -------------------------------------------------------------------

    def _bh_stamp(self) -> str:
        return self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _bh_role(self) -> str:
        return str(self._users.get(self.api_user_id, {}).get("role", "end-user"))

    def _bh_admin(self) -> bool:
        return self._bh_role() == "admin"

    def _bh_agent(self) -> bool:
        return self._bh_role() in ("agent", "admin")

    def _bh_touch(self, sid: int) -> None:
        self._schedules[sid]["updated_at"] = self._bh_stamp()

    def _bh_ignore(self, path: str, body: dict[str, Any], writable: set[str]) -> None:
        for key in body:
            if key not in writable:
                self.ignored_properties.append((path, key))

    # --- schedules -----------------------------------------------------------------

    def _bh_list(self, _: Any, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        schedules = [copy.deepcopy(s) for s in self._schedules.values()]
        return _reply(200, {"schedules": schedules})

    def _bh_show(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_agent():
            return _forbidden()
        if sid not in self._schedules:
            return _not_found()
        return _reply(200, {"schedule": copy.deepcopy(self._schedules[sid])})

    def _bh_fields(self, payload: Any, *, creating: bool) -> dict[str, Any] | str:
        body = payload.get("schedule") if isinstance(payload, dict) else None
        if not isinstance(body, dict):
            return "schedule is required"
        if creating and not all(k in body for k in ("name", "time_zone")):
            return "name and time_zone are mandatory"
        if "name" in body and (not isinstance(body["name"], str) or not body["name"]):
            return "name must be text"
        zone = body.get("time_zone")
        if "time_zone" in body and zone not in RAILS_TIME_ZONES:
            return f"time_zone {zone!r} is not a valid time zone"
        return body

    def _bh_create(self, _: Any, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        body = self._bh_fields(payload, creating=True)
        if isinstance(body, str):
            return _invalid(body)
        self._bh_ignore("/api/v2/business_hours/schedules", body, {"name", "time_zone"})
        sid = self.add_schedule(body["name"], time_zone=body["time_zone"])
        return _reply(201, {"schedule": copy.deepcopy(self._schedules[sid])})

    def _bh_update(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        if sid not in self._schedules:
            return _not_found()
        body = self._bh_fields(payload, creating=False)
        if isinstance(body, str):
            return _invalid(body)
        path = f"/api/v2/business_hours/schedules/{sid}"
        self._bh_ignore(path, body, {"name", "time_zone"})
        for key in ("name", "time_zone"):
            if key in body:
                self._schedules[sid][key] = body[key]
        self._bh_touch(sid)
        return _reply(200, {"schedule": copy.deepcopy(self._schedules[sid])})

    def _bh_delete(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        if self._schedules.pop(sid, None) is None:
            return _not_found()
        self._holidays.pop(sid, None)
        return _reply(204, b"")

    def _bh_workweek(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        if sid not in self._schedules:
            return _not_found()
        week = payload.get("workweek") if isinstance(payload, dict) else None
        intervals = week.get("intervals") if isinstance(week, dict) else None
        problem = interval_problem(intervals)
        if problem is not None:
            return _invalid(problem)
        assert isinstance(intervals, list)
        kept = [
            {"start_time": i["start_time"], "end_time": i["end_time"]}
            for i in intervals
        ]
        self._schedules[sid]["intervals"] = kept
        self._bh_touch(sid)
        return _reply(200, {"workweek": {"intervals": copy.deepcopy(kept)}})

    # --- holidays ------------------------------------------------------------------

    @staticmethod
    def _bh_pair(arg: str) -> tuple[int, int]:
        sid, _, hid = arg.partition("/holidays/")
        return int(sid), int(hid)

    def _bh_list_holidays(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        if sid not in self._schedules:
            return _not_found()
        try:
            since = (
                date.fromisoformat(query["start_date"])
                if "start_date" in query
                else None
            )
            until = (
                date.fromisoformat(query["end_date"]) if "end_date" in query else None
            )
        except ValueError:
            return _reply(400, {"error": "InvalidValue", "description": "date"})
        found = []
        for holiday in self._holidays[sid].values():
            start = date.fromisoformat(holiday["start_date"])
            end = date.fromisoformat(holiday["end_date"])
            if since is not None and until is not None:
                keep = since <= start <= until
            elif since is not None:
                keep = start >= since or start <= since <= end
            elif until is not None:
                keep = start <= until
            else:
                keep = True
            if keep:
                found.append(copy.deepcopy(holiday))
        return _reply(200, {"holidays": found})

    def _bh_holiday_fields(
        self, payload: Any, *, creating: bool
    ) -> dict[str, Any] | str:
        body = payload.get("holiday") if isinstance(payload, dict) else None
        if not isinstance(body, dict):
            return "holiday is required"
        if creating and not all(k in body for k in ("name", "start_date", "end_date")):
            return "name, start_date and end_date are required"
        try:
            dates = {
                k: date.fromisoformat(body[k])
                for k in ("start_date", "end_date")
                if k in body
            }
        except (TypeError, ValueError):
            return "start_date and end_date must be ISO 8601 dates"
        if creating:
            today = self._clock().date()
            if dates["start_date"] < today - HOLIDAY_REACH:
                return "start_date is more than two years in the past"
            if dates["end_date"] > today + HOLIDAY_REACH:
                return "end_date is more than two years in the future"
        return body

    def _bh_create_holiday(self, sid: int, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        if sid not in self._schedules:
            return _not_found()
        body = self._bh_holiday_fields(payload, creating=True)
        if isinstance(body, str):
            return _invalid(body)
        if body["end_date"] < body["start_date"]:
            return _invalid("end_date is before start_date")
        hid = next(self._ids)
        holiday = {
            "id": hid,
            "name": body["name"],
            "start_date": body["start_date"],
            "end_date": body["end_date"],
        }
        self._holidays[sid][hid] = holiday
        self._bh_touch(sid)
        return _reply(201, {"holiday": copy.deepcopy(holiday)})

    def _bh_show_holiday(self, arg: str, query: Any, payload: Any) -> Any:
        if not self._bh_agent():
            return _forbidden()
        sid, hid = self._bh_pair(arg)
        holiday = self._holidays.get(sid, {}).get(hid)
        if holiday is None:
            return _not_found()
        return _reply(200, {"holiday": copy.deepcopy(holiday)})

    def _bh_update_holiday(self, arg: str, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        sid, hid = self._bh_pair(arg)
        holiday = self._holidays.get(sid, {}).get(hid)
        if holiday is None:
            return _not_found()
        body = self._bh_holiday_fields(payload, creating=False)
        if isinstance(body, str):
            return _invalid(body)
        merged = {
            **holiday,
            **{k: body[k] for k in ("name", "start_date", "end_date") if k in body},
        }
        if merged["end_date"] < merged["start_date"]:
            return _invalid("end_date is before start_date")
        holiday.update(merged)
        self._bh_touch(sid)
        return _reply(200, {"holiday": copy.deepcopy(holiday)})

    def _bh_delete_holiday(self, arg: str, query: Any, payload: Any) -> Any:
        if not self._bh_admin():
            return _forbidden()
        sid, hid = self._bh_pair(arg)
        if self._holidays.get(sid, {}).pop(hid, None) is None:
            return _not_found()
        self._bh_touch(sid)
        return _reply(204, b"")
