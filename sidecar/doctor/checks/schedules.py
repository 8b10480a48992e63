"""The Zendesk schedules the policy names: they exist, and the service's copy is current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sidecar.doctor.checks.configuration import CONFIG
from sidecar.doctor.checks.lines import Line, fail, ok, warn
from sidecar.sla import BusinessHours, ScheduleBook, UnknownZendeskSchedule

ADMIN_CENTER = "Admin Center > Objects and rules > Business rules > Schedules"


def check_zendesk_schedules(
    refs: Sequence[str | int],
    account: Sequence[BusinessHours],
    *,
    stored: ScheduleBook | None,
    now: datetime,
    refresh_seconds: int,
) -> list[Line]:
    """Each schedule the policy names is one of the account's; the stored copy matches.

    ``account`` is what Zendesk answers now; ``stored`` the last good copy the
    service computes with (None: no worker has stored one yet).
    """
    live = ScheduleBook(tuple(account), now)
    lines: list[Line] = []
    found = 0
    for ref in refs:
        try:
            hours = live.find(ref)
            live.schedule(ref)  # usable: intervals and zone build a schedule
        except (UnknownZendeskSchedule, ValueError) as exc:
            lines.append(
                fail(
                    CONFIG,
                    "Zendesk schedules",
                    str(exc),
                    f"name one of the account's schedules in the policy file, or "
                    f"create it in {ADMIN_CENTER}; `sidecar policy check FILE` "
                    "re-checks",
                )
            )
            continue
        found += 1
        lines.append(
            ok(
                CONFIG,
                f"Zendesk schedule {hours.name!r}",
                f"id {hours.id}: {live.schedule(ref).describe()}",
            )
        )
    if found < len(refs):
        return lines
    if stored is None:
        lines.append(
            warn(
                CONFIG,
                "Zendesk schedules copy",
                "the queue store holds no copy yet: a worker that starts while "
                "Zendesk is down will refuse to start",
                "start the worker once while Zendesk answers (it stores the copy)",
            )
        )
    elif not stored.same_schedules(live):
        age = (now - stored.fetched_at).total_seconds()
        changes = "; ".join(live.changes(stored)) or "schedules differ"
        late = refresh_seconds and age > 3 * refresh_seconds
        lines.append(
            warn(
                CONFIG,
                "Zendesk schedules copy",
                f"the service computes with the copy fetched at "
                f"{stored.fetched_at.isoformat()}, and Zendesk now differs: {changes}"
                + (" (no refresh for a while: is a worker running?)" if late else ""),
                "the next refresh applies it (SIDECAR_ZENDESK_SCHEDULES_REFRESH_SECONDS"
                f" = {refresh_seconds}); if none comes, check that a worker runs",
            )
        )
    elif refresh_seconds and (now - stored.fetched_at).total_seconds() > 3 * max(
        refresh_seconds, 60
    ):
        lines.append(
            warn(
                CONFIG,
                "Zendesk schedules copy",
                f"the service's copy matches Zendesk, but was last confirmed at "
                f"{stored.fetched_at.isoformat()}: no refresh since (every "
                f"{refresh_seconds} s)",
                "check that a worker runs (it refreshes after its minute sweep)",
            )
        )
    else:
        lines.append(
            ok(
                CONFIG,
                "Zendesk schedules copy",
                f"the service's copy (fetched at {stored.fetched_at.isoformat()}) "
                "matches Zendesk",
            )
        )
    return lines
