"""The Business Hours API fragments (not in the OAS copy): what the sidecar reads of schedules.

Source: developer.zendesk.com/api-reference/ticketing/ticket-management/schedules/
("Schedules"): List Schedules answers ``{"schedules": [...]}``, each with
``id``, ``name``, ``time_zone`` and ``intervals`` (``start_time``/``end_time``,
integers, minutes since Sunday 00:00, 0..10080); List Holidays for Schedule
takes the optional ``start_date``/``end_date`` (ISO 8601 dates) and answers
``{"holidays": [...]}``, each ``{id, name, start_date, end_date}``. Neither
documents pagination; offset pagination keys are allowed in the answer in
case Zendesk pages them (the client follows ``next_page``).
"""

from __future__ import annotations

from tests.contract.zendesk_oas import (
    ID_STRING,
    OFFSET_PAGINATION,
    Operation,
    Schema,
    listing,
    query,
)

DATE: Schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
MINUTE: Schema = {"type": "integer", "minimum": 0, "maximum": 10080}
SCHEDULE: Schema = {
    "type": "object",
    "required": ["id", "name", "time_zone", "intervals"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "time_zone": {"type": "string"},
        "intervals": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start_time", "end_time"],
                "properties": {"start_time": MINUTE, "end_time": MINUTE},
            },
        },
    },
}
HOLIDAY: Schema = {
    "type": "object",
    "required": ["id", "name", "start_date", "end_date"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "start_date": DATE,
        "end_date": DATE,
    },
}

SCHEDULE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "ListSchedules",
        "GET",
        "/api/v2/business_hours/schedules",
        source="Schedules page, List Schedules (admins; JSON format, Intervals)",
        query=query(OFFSET_PAGINATION),
        response=listing("schedules", SCHEDULE, cursor=False),
        oas_gap="the whole endpoint",
    ),
    Operation(
        "ListHolidaysForSchedule",
        "GET",
        "/api/v2/business_hours/schedules/{schedule_id}/holidays",
        source="Schedules page, List Holidays for Schedule (admins; start_date, "
        "end_date; Holidays)",
        path_params={"schedule_id": ID_STRING},
        query=query({"start_date": DATE, "end_date": DATE, **OFFSET_PAGINATION}),
        response=listing("holidays", HOLIDAY, cursor=False),
        oas_gap="the whole endpoint",
    ),
)
