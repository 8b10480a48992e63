"""Map the Issue Severity field's own options to severities 1..5.

The account's options are the truth: an account whose field says
``severity_1`` must be written ``severity_1``, never our default ``sev_1``
(Zendesk drops a dropdown value that is not one of the field's options with a
2xx and no error; docs/decisions.md, "The people's side of setup"). Each
option's tag is read with the receiver's own parser
(:func:`sidecar.sla.severity.parse_severity`), since the tag is what the
trigger body and the ticket carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.errors import ConfigError
from sidecar.sla.errors import SeverityError
from sidecar.sla.severity import SEVERITIES, parse_severity


def severity_tags(
    options: Sequence[Mapping[str, Any]], *, field: str = "Issue Severity"
) -> dict[int, str]:
    """Return {severity: option tag} for the field's options, or raise ConfigError.

    Options are taken in the order Zendesk lists them; when two tags read as
    the same severity, the first wins. A severity without any option is an
    error naming every option and what is missing: no ticket can carry it.
    """
    found: dict[int, str] = {}
    for option in options:
        tag = str(option.get("value") or "")
        try:
            severity = parse_severity(tag)
        except SeverityError:
            continue
        if severity is not None:
            found.setdefault(severity, tag)
    missing = [s for s in SEVERITIES if s not in found]
    if missing:
        listed = (
            ", ".join(f"{o.get('name')!r} (tag {o.get('value')!r})" for o in options)
            or "none"
        )
        raise ConfigError(
            f"{field}: no option for "
            + ", ".join(f"SEV {s}" for s in missing)
            + f". Its options are: {listed}. Add an option whose tag reads as each "
            "missing severity (sev_1, severity_1, sev1, …) in Admin Center → Ticket "
            "fields, then run again"
        )
    return found


__all__ = ["severity_tags"]
