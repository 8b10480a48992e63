"""Holiday calendars a schedule may name: public holidays and recurring company days.

Both expand, one year at a time, into plain local dates with a reason; the
schedule treats them exactly like dates listed by hand (a holiday removes the
windows that open on it), so the SLA arithmetic is unchanged. The data comes
from two well-kept libraries: ``holidays`` (public holidays by country and
subdivision, observed days included) and ``python-dateutil``'s ``rrule``
(RFC 5545 recurrence rules, e.g. ``FREQ=MONTHLY;BYMONTH=3,6,9,12;BYDAY=-1FR``
for the last Friday of each quarter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import holidays as public_holidays
from dateutil.rrule import rrulestr

# A rule without its own DTSTART counts from here (it matters for INTERVAL).
RULE_START = datetime(2000, 1, 1)


class HolidaySource(Protocol):
    """Something that names the holidays of a year."""

    @property
    def key(self) -> str:
        """A stable identity, for schedule equality."""
        ...

    def dates(self, year: int) -> dict[date, str]: ...


@dataclass(frozen=True)
class PublicHolidays:
    """A country's (and subdivision's) public holidays, observed days included."""

    country: str
    subdiv: str | None = None

    def __post_init__(self) -> None:
        try:
            public_holidays.country_holidays(self.country, subdiv=self.subdiv, years=[])
        except NotImplementedError as exc:  # the library's "unknown" error
            raise ValueError(str(exc)) from None

    @property
    def key(self) -> str:
        return f"public:{self.country}:{self.subdiv or ''}"

    def dates(self, year: int) -> dict[date, str]:
        found = public_holidays.country_holidays(
            self.country, subdiv=self.subdiv, years=year, observed=True
        )
        where = self.country + (f"-{self.subdiv}" if self.subdiv else "")
        return {day: f"{name} ({where})" for day, name in found.items()}


@dataclass(frozen=True)
class RecurringDays:
    """Company days given as an RFC 5545 recurrence rule (``RRULE`` text)."""

    rule: str

    def __post_init__(self) -> None:
        try:
            self._expand(2000)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.rule!r} is not an RFC 5545 rule: {exc}") from None

    @property
    def key(self) -> str:
        return f"rrule:{self.rule}"

    def _expand(self, year: int) -> list[datetime]:
        rule = rrulestr(self.rule, dtstart=RULE_START)
        return list(
            rule.between(
                datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59), inc=True
            )
        )

    def dates(self, year: int) -> dict[date, str]:
        return {
            moment.date(): f"company day ({self.rule})" for moment in self._expand(year)
        }
