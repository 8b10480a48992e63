"""Read SLA policies from a TOML file; errors name the file, the key and the problem.

Shape (see README, "Policy file")::

    default_policy = "enterprise"       # optional: what load_policy(path) returns
    [schedules.core]                    # "24/7" is built in
    timezone = "UTC"                    # any IANA zone (default "UTC")
    mon = ["05:00-01:00"]               # wall-clock; end <= start runs past midnight
    holidays = ["2026-12-25"]           # local dates (strings or TOML dates), or
    # holidays = { country = "US", subdiv = "NY", dates = [...], rules = ["RRULE"] }
    [policies.enterprise]
    day = "24h"                         # "24h" (default) or "schedule"
    description = "..."                 # optional
    sev1 = { target = "1h", schedule = "24/7" }   # first response only
    [policies.enterprise.sev2]          # or a table of metrics, each optional
    first_response = { target = "2h", schedule = "24/7" }
    next_reply = { target = "4h", schedule = "core", at_risk = 0.5 }
    periodic_update = { target = "1d", schedule = "core" }
    resolution = { target = "5d", schedule = "core", pause = ["pending", "hold"] }

A schedule may be one of the account's Zendesk schedules, by name (or id):
``schedule = { zendesk = "Support hours" }`` in a target, or a named one,
``[schedules.support]`` with the single key ``zendesk = "Support hours"``. Its
windows come from the ``zendesk`` lookup the caller passes (the application's
cached copy of the Business Hours API); without one, naming it is an error.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sidecar.sla.errors import PolicyError, SlaInputError
from sidecar.sla.holidays import HolidaySource, PublicHolidays, RecurringDays
from sidecar.sla.policy import (
    DAY_MODES,
    METRICS,
    PAUSABLE_STATUSES,
    Policy,
    Target,
    parse_duration,
)
from sidecar.sla.schedule import DAY_NAMES, TWENTY_FOUR_SEVEN, Schedule, parse_window

__all__ = [
    "ZendeskLookup",
    "load_policies",
    "load_policy",
    "parse_policies",
    "read_policy_file",
    "select_policy",
    "zendesk_schedule_refs",
]

# Resolve a Zendesk schedule's name (or id) to the engine's schedule; raises
# LookupError (or SlaInputError) with a message naming what the account has.
ZendeskLookup = Callable[[str | int], Schedule]

_TOP_KEYS = ("default_policy", "schedules", "policies")
_SCHEDULE_KEYS = ("timezone", "holidays", *DAY_NAMES)
_SEVERITY_KEYS = tuple(f"sev{n}" for n in range(1, 6))
_POLICY_KEYS = ("day", "description", *_SEVERITY_KEYS)
_TARGET_KEYS = ("target", "schedule")
_METRIC_KEYS = (*_TARGET_KEYS, "at_risk", "pause")


def load_policy(
    path: str | Path, name: str | None = None, *, zendesk: ZendeskLookup | None = None
) -> Policy:
    """Load one policy from a TOML file.

    Without ``name``: the file's ``default_policy``, else its only policy.
    ``zendesk`` resolves the Zendesk schedules the file names.
    Raises :class:`PolicyError` naming the file, the key and the problem.
    """
    file = str(path)
    return select_policy(read_policy_file(file), name, file=file, zendesk=zendesk)


def select_policy(
    data: dict[str, Any],
    name: str | None = None,
    *,
    file: str = "<policy>",
    zendesk: ZendeskLookup | None = None,
) -> Policy:
    """Build the policy ``name`` (see :func:`load_policy`) from parsed TOML."""
    policies = parse_policies(data, file=file, zendesk=zendesk)
    if name is None:
        name = data.get("default_policy")
        if name is None:
            if len(policies) != 1:
                raise PolicyError(
                    f"{len(policies)} policies ({', '.join(policies)}): "
                    "choose one by name or set default_policy",
                    file=file,
                    key="policies",
                )
            return next(iter(policies.values()))
    if name not in policies:
        raise PolicyError(
            f"no policy named {name!r} (defined: {', '.join(policies) or 'none'})",
            file=file,
            key=f"policies.{name}",
        )
    return policies[name]


def load_policies(
    path: str | Path, *, zendesk: ZendeskLookup | None = None
) -> dict[str, Policy]:
    """Load every policy of a TOML file, by name."""
    file = str(path)
    return parse_policies(read_policy_file(file), file=file, zendesk=zendesk)


def zendesk_schedule_refs(data: dict[str, Any]) -> list[str | int]:
    """The Zendesk schedules parsed TOML names (names or ids), in file order, once each."""
    found: list[str | int] = []

    def note(value: object) -> None:
        if isinstance(value, dict) and "zendesk" in value:
            ref = value["zendesk"]
            if isinstance(ref, str | int) and ref not in found:
                found.append(ref)

    for table in (data.get("schedules") or {}).values():
        note(table)
    for table in (data.get("policies") or {}).values():
        if not isinstance(table, dict):
            continue
        for spec in table.values():
            if not isinstance(spec, dict):
                continue
            note(spec.get("schedule"))
            for metric in spec.values():
                if isinstance(metric, dict):
                    note(metric.get("schedule"))
    return found


def read_policy_file(file: str) -> dict[str, Any]:
    """Read a policy file's TOML; PolicyError naming the file when it cannot."""
    try:
        with open(file, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc.strerror or exc}", file=file) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"invalid TOML: {exc}", file=file) from exc


def parse_policies(
    data: dict[str, Any],
    *,
    file: str = "<policy>",
    zendesk: ZendeskLookup | None = None,
) -> dict[str, Policy]:
    """Validate parsed TOML and build its policies, by name.

    Every problem of the file is collected: one is raised as itself, several
    as one :class:`PolicyError` listing each (``problems`` holds them all).
    """
    found: list[PolicyError] = []

    def fail(key: str, problem: str) -> PolicyError:
        return PolicyError(problem, file=file, key=key)

    def collect(error: PolicyError) -> None:
        found.append(error)

    _only(data, _TOP_KEYS, "", fail, collect)
    default = data.get("default_policy")
    if default is not None and not isinstance(default, str):
        collect(fail("default_policy", f"must be a policy name, got {default!r}"))
        default = None
    schedules = {"24/7": TWENTY_FOUR_SEVEN}
    broken: set[str] = set()  # schedules already reported; not "unknown" later
    for name, table in _table(data, "schedules", fail, collect).items():
        key = f"schedules.{name}"
        if name in schedules:
            collect(fail(key, "'24/7' is built in and cannot be redefined"))
            continue
        try:
            if "zendesk" in table:
                schedules[name] = _zendesk_schedule(
                    table, key, fail, collect, zendesk, named=True
                )
            else:
                schedules[name] = _schedule(name, table, key, fail, collect)
        except PolicyError as exc:
            collect(exc)
            broken.add(name)
    policies_table = _table(data, "policies", fail, collect)
    if not policies_table and "policies" not in {e.key for e in found}:
        collect(fail("policies", "no policies defined"))
    policies: dict[str, Policy] = {}
    for name, table in policies_table.items():
        try:
            built = _policy(
                name,
                table,
                schedules,
                f"policies.{name}",
                fail,
                collect,
                broken,
                zendesk,
            )
        except PolicyError as exc:
            collect(exc)
            continue
        if built is not None:
            policies[name] = built
    if default is not None and default not in policies_table:
        collect(
            fail(
                "default_policy",
                f"no policy named {default!r} (defined: {', '.join(policies_table)})",
            )
        )
    if len(found) == 1:
        raise found[0]
    if found:
        raise PolicyErrors(found, file=file)
    return policies


class PolicyErrors(PolicyError):
    """Several problems in one policy file; ``problems`` lists each."""

    def __init__(self, problems: list[PolicyError], *, file: str) -> None:
        lines = "\n".join(
            f"  - {e.key}: {e.problem}" if e.key else f"  - {e.problem}"
            for e in problems
        )
        super().__init__(f"{len(problems)} problems:\n{lines}", file=file)
        self.problems = problems


def _only(
    table: dict[str, Any],
    allowed: tuple[str, ...],
    key: str,
    fail: Any,
    collect: Any,
) -> None:
    for name in table:
        if name not in allowed:
            where = f"{key}.{name}" if key else name
            collect(fail(where, f"unknown key (expected one of: {', '.join(allowed)})"))


def _table(data: dict[str, Any], key: str, fail: Any, collect: Any) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        collect(fail(key, f"must be a table, got {type(value).__name__}"))
        return {}
    tables = {}
    for name, inner in value.items():
        if not isinstance(inner, dict):
            collect(
                fail(f"{key}.{name}", f"must be a table, got {type(inner).__name__}")
            )
        else:
            tables[name] = inner
    return tables


def _zendesk_schedule(
    table: dict[str, Any],
    key: str,
    fail: Any,
    collect: Any,
    zendesk: ZendeskLookup | None,
    *,
    named: bool = False,
) -> Schedule:
    """``{ zendesk = "Support hours" }`` (or an id): the account's schedule, by lookup."""
    if named:
        _only(table, ("zendesk",), key, fail, collect)
    ref = table["zendesk"]
    where = f"{key}.zendesk"
    if isinstance(ref, bool) or not isinstance(ref, str | int) or ref == "":
        raise fail(where, f"must name a Zendesk schedule (or its id), got {ref!r}")
    if zendesk is None:
        raise fail(
            where,
            f"names the Zendesk schedule {ref!r}, but the account's schedules are "
            "not available here (connect Zendesk, or run where the service's "
            "queue holds their last copy)",
        )
    try:
        return zendesk(ref)
    except (LookupError, SlaInputError, ValueError) as exc:
        raise fail(where, str(exc)) from None


def _schedule(
    name: str, table: dict[str, Any], key: str, fail: Any, collect: Any
) -> Schedule:
    """Build one schedule; every problem of it is collected before one is raised.

    Each part (time zone, each day's windows, holidays) is checked on its own,
    so a file with several mistakes lists them all in one run.
    """
    problems: list[PolicyError] = []
    _only(table, _SCHEDULE_KEYS, key, fail, collect)
    timezone = table.get("timezone", "UTC")
    if not isinstance(timezone, str):
        problems.append(
            fail(f"{key}.timezone", f"must be an IANA zone name, got {timezone!r}")
        )
    else:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(fail(f"{key}.timezone", f"unknown time zone {timezone!r}"))
    windows: dict[object, list[object]] = {}
    for day in DAY_NAMES:
        values = table.get(day, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(
                fail(f"{key}.{day}", f"must be a list of 'HH:MM-HH:MM', got {values!r}")
            )
            continue
        for value in values:
            try:
                parse_window(value)
            except ValueError as exc:
                problems.append(fail(f"{key}.{day}", str(exc)))
        windows[day] = values
    try:
        holidays, calendars = _holiday_spec(
            table.get("holidays", []), f"{key}.holidays", fail
        )
    except PolicyError as exc:
        problems.append(exc)
    if problems:
        for found in problems[:-1]:
            collect(found)
        raise problems[-1]
    try:
        return Schedule(
            name,
            timezone=timezone,
            windows=windows,
            holidays=holidays,
            calendars=calendars,
        )
    except ValueError as exc:  # what needs the whole schedule: overlaps, no window
        problem = str(exc)
        where = key
        for day in DAY_NAMES:
            if any(repr(v) in problem for v in windows[day]):
                where = f"{key}.{day}"
                break
        raise fail(where, problem) from exc


_HOLIDAY_KEYS = ("country", "subdiv", "dates", "rules")


def _holiday_spec(
    value: object, key: str, fail: Any
) -> tuple[list[date], list[HolidaySource]]:
    """``holidays``: a list of dates, or a table naming calendars and dates.

    ``holidays = { country = "US", subdiv = "NY", dates = [...], rules = [...] }``
    where ``rules`` are RFC 5545 RRULE texts (company days).
    """
    if not isinstance(value, dict):
        return _holidays(value, key, fail), []
    for name in value:
        if name not in _HOLIDAY_KEYS:
            raise fail(
                f"{key}.{name}",
                f"unknown key (expected one of: {', '.join(_HOLIDAY_KEYS)})",
            )
    calendars: list[HolidaySource] = []
    country, subdiv = value.get("country"), value.get("subdiv")
    if subdiv is not None and country is None:
        raise fail(f"{key}.subdiv", "needs a country")
    if country is not None:
        if not isinstance(country, str) or (
            subdiv is not None and not isinstance(subdiv, str)
        ):
            raise fail(f"{key}.country", 'country and subdiv are codes like "US", "NY"')
        try:
            calendars.append(PublicHolidays(country.upper(), subdiv))
        except ValueError as exc:
            raise fail(f"{key}.country", str(exc)) from None
    rules = value.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise fail(f"{key}.rules", "must be a list of RFC 5545 RRULE texts")
    for rule in rules:
        try:
            calendars.append(RecurringDays(rule))
        except ValueError as exc:
            raise fail(f"{key}.rules", str(exc)) from None
    return _holidays(value.get("dates", []), f"{key}.dates", fail), calendars


def _holidays(values: object, key: str, fail: Any) -> list[date]:
    if not isinstance(values, list):
        raise fail(key, f"must be a list of dates, got {values!r}")
    found = []
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            found.append(value)
            continue
        try:
            found.append(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise fail(key, f"{value!r} is not a date like 2026-12-25") from None
    return found


def _policy(
    name: str,
    table: dict[str, Any],
    schedules: dict[str, Schedule],
    key: str,
    fail: Any,
    collect: Any,
    broken: set[str],
    zendesk: ZendeskLookup | None = None,
) -> Policy | None:
    _only(table, _POLICY_KEYS, key, fail, collect)
    day = table.get("day", "24h")
    failed = False
    if day not in DAY_MODES:
        # Said once; the targets are still checked (as 24 h days).
        collect(fail(f"{key}.day", f'must be "24h" or "schedule", got {day!r}'))
        day, failed = "24h", True
    description = table.get("description", "")
    if not isinstance(description, str):
        collect(fail(f"{key}.description", f"must be text, got {description!r}"))
    targets: dict[int, Target] = {}
    metrics: dict[int, dict[str, Target]] = {}
    for severity, sev_key in enumerate(_SEVERITY_KEYS, start=1):
        if sev_key not in table:
            continue
        spec = table[sev_key]
        where = f"{key}.{sev_key}"
        # A table naming no target/schedule is the metrics form.
        named = (
            spec
            if isinstance(spec, dict) and spec and not set(spec) & set(_TARGET_KEYS)
            else {"first_response": spec}
        )
        if named is spec:
            _only(spec, METRICS, where, fail, collect)
        for metric in METRICS:
            if metric not in named:
                continue
            at = where if named is not spec else f"{where}.{metric}"
            try:
                target = _target(
                    named[metric],
                    at,
                    day,
                    schedules,
                    fail,
                    collect,
                    broken,
                    metric=metric if named is spec else None,
                    zendesk=zendesk,
                )
            except PolicyError as exc:
                collect(exc)
                failed = True
                continue
            if target is None:
                failed = True
            elif metric == "first_response":
                targets[severity] = target
            else:
                metrics.setdefault(severity, {})[metric] = target
    if failed:
        return None
    if not targets and not metrics:
        raise fail(key, "defines no targets (sev1..sev5)")
    return Policy(name, targets, day=day, description=description, metrics=metrics)


def _target(
    spec: Any,
    where: str,
    day: str,
    schedules: dict[str, Schedule],
    fail: Any,
    collect: Any,
    broken: set[str],
    *,
    metric: str | None = None,
    zendesk: ZendeskLookup | None = None,
) -> Target | None:
    """One ``{ target, schedule }``; None when its schedule was reported.

    ``metric`` is set in the metrics form, where ``at_risk`` and (but for the
    first response) ``pause`` are allowed too.
    """
    if not isinstance(spec, dict):
        raise fail(where, 'must be a table like { target = "6h", schedule = "core" }')
    allowed: tuple[str, ...] = _TARGET_KEYS
    if metric is not None:
        allowed = _METRIC_KEYS if metric != "first_response" else (*allowed, "at_risk")
    _only(spec, allowed, where, fail, collect)
    # at_risk and pause are reported even when the schedule or target is bad.
    at_risk = spec.get("at_risk")
    bad = False
    if at_risk is not None and (
        isinstance(at_risk, bool)
        or not isinstance(at_risk, int | float)
        or not 0 <= at_risk <= 1
    ):
        collect(
            fail(
                f"{where}.at_risk",
                "must be a fraction of the target from 0 to 1 (like 0.75), "
                f"got {at_risk!r}",
            )
        )
        bad = True
    pause = spec.get("pause", [])
    if not isinstance(pause, list) or not all(isinstance(p, str) for p in pause):
        collect(
            fail(f"{where}.pause", f'must be a list like ["pending"], got {pause!r}')
        )
        bad, pause = True, []
    unknown = [p for p in pause if p not in PAUSABLE_STATUSES]
    if unknown:
        collect(
            fail(
                f"{where}.pause",
                f"cannot pause in {', '.join(map(repr, unknown))}: expected some of "
                f"{', '.join(PAUSABLE_STATUSES)} (solved and closed always stop it)",
            )
        )
        bad = True
    for required in _TARGET_KEYS:
        if required not in spec:
            raise fail(f"{where}.{required}", "missing")
    schedule_name = spec["schedule"]
    schedule: Schedule | None = None
    if isinstance(schedule_name, dict):
        if set(schedule_name) != {"zendesk"}:
            raise fail(
                f"{where}.schedule",
                'must be a schedule name or { zendesk = "Schedule name" }',
            )
        schedule = _zendesk_schedule(
            schedule_name, f"{where}.schedule", fail, collect, zendesk
        )
        schedule_name = schedule.name
    elif isinstance(schedule_name, str):
        schedule = schedules.get(schedule_name)
    if schedule is None and not (
        isinstance(schedule_name, str) and schedule_name in broken
    ):  # a broken schedule's own problems are reported already
        collect(
            fail(
                f"{where}.schedule",
                f"unknown schedule {schedule_name!r} (defined: {', '.join(schedules)})",
            )
        )
    text = spec["target"]
    one_day = timedelta(hours=24)
    if (
        schedule is not None
        and day == "schedule"
        and isinstance(text, str)
        and "d" in text.lower()
    ):
        one_day = _schedule_day(schedule, f"{where}.target", fail)
    try:
        # Checked even without a usable schedule: every problem in one run.
        duration = parse_duration(text, day=one_day)
    except ValueError as exc:
        raise fail(f"{where}.target", str(exc)) from exc
    if schedule is None or bad:
        return None
    return Target(
        duration,
        schedule,
        text.strip(),
        at_risk=float(at_risk) if at_risk is not None else None,
        pause=frozenset(pause),
    )


def _schedule_day(schedule: Schedule, key: str, fail: Any) -> timedelta:
    lengths = schedule.day_lengths()
    distinct = set(lengths.values())
    if len(distinct) != 1:
        listed = ", ".join(
            f"{d} {h.total_seconds() / 3600:g}h" for d, h in lengths.items()
        )
        raise fail(
            key,
            f'day = "schedule" needs open days of equal length in schedule '
            f"{schedule.name!r} ({listed})",
        )
    return distinct.pop()
