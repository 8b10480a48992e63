"""The contract double's Business Hours answers (zendesk_schedules_oas.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


class ScheduleAnswers:
    """Two schedules, the page's examples ("North America", "EMEA"), and their holidays."""

    def _ListSchedules(self, params: Any, query: Any, request: Any) -> Any:
        schedules = [
            {
                "id": sid,
                "name": name,
                "time_zone": zone,
                "intervals": [
                    {"start_time": 1980, "end_time": 2460},
                    {"start_time": 3420, "end_time": 3900},
                ],
                "created_at": "2015-09-30T21:44:03Z",
                "updated_at": "2015-09-30T21:44:03Z",
            }
            for sid, name, zone in (
                (1, "North America", "Pacific Time (US & Canada)"),
                (2, "EMEA", "London"),
            )
        ]
        path = urlsplit(request.url).path
        return self._page("schedules", schedules, path, query)  # type: ignore[attr-defined]

    def _ListHolidaysForSchedule(self, params: Any, query: Any, request: Any) -> Any:
        holidays = [
            {
                "id": 1,
                "name": "Independence Day",
                "start_date": "2021-07-04",
                "end_date": "2021-07-04",
            },
            {
                "id": 2,
                "name": "New Year",
                "start_date": "2020-12-30",
                "end_date": "2021-01-02",
            },
        ]
        path = urlsplit(request.url).path
        return self._page("holidays", holidays, path, query)  # type: ignore[attr-defined]
