"""A checklist line, its status, and the report they make."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.IntEnum):
    """A line's verdict; the command's exit status is the worst one's value."""

    OK = 0
    WARN = 1
    FAIL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Line:
    """One line of the checklist."""

    section: str
    check: str
    status: Status
    detail: str
    next_step: str = ""


def ok(section: str, check: str, detail: str) -> Line:
    """An ok line."""
    return Line(section, check, Status.OK, detail)


def warn(section: str, check: str, detail: str, next_step: str) -> Line:
    """A warning, with what to do next."""
    return Line(section, check, Status.WARN, detail, next_step)


def fail(section: str, check: str, detail: str, next_step: str) -> Line:
    """A failure, with what to do next."""
    return Line(section, check, Status.FAIL, detail, next_step)


def worst(lines: Iterable[Line]) -> Status:
    """The worst status among ``lines`` (OK for none)."""
    return max((line.status for line in lines), default=Status.OK)


def options_of(field_def: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, tag) of a drop-down's options."""
    return [
        (str(o.get("name") or ""), str(o.get("value") or ""))
        for o in field_def.get("custom_field_options") or ()
        if isinstance(o, Mapping)
    ]


@dataclass
class Report:
    """Every line, and the calls the checks made."""

    lines: list[Line] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        return worst(self.lines)
