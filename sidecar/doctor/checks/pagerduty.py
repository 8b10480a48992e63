"""PagerDuty routing keys and the webhook secret (no call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sidecar.doctor.checks.lines import Line, fail, ok, warn

PAGERDUTY = "pagerduty"


@dataclass(frozen=True)
class OrgKeys:
    """An organization of the entitlements file that may be entitled, and its own key."""

    label: str
    has_own_key: bool


def check_pagerduty(
    *, default_key_length: int | None, default_key_ok: bool, orgs: Sequence[OrgKeys]
) -> list[Line]:
    """Routing keys are well formed and every entitled organization resolves one."""
    if default_key_length is None and not orgs:
        return [
            warn(
                PAGERDUTY,
                "routing keys",
                "skipped: not configured: SEV 1/2 of entitled organizations page no one",
                "set SIDECAR_PAGERDUTY_ROUTING_KEY (an Events API v2 integration key)",
            )
        ]
    lines = []
    if default_key_length is not None and not default_key_ok:
        lines.append(
            fail(
                PAGERDUTY,
                "SIDECAR_PAGERDUTY_ROUTING_KEY",
                f"not a 32-character integration key (got {default_key_length} "
                "characters): every page is refused",
                "copy the Integration Key of the service's Events API v2 integration "
                "into SIDECAR_PAGERDUTY_ROUTING_KEY",
            )
        )
    elif default_key_length is not None:
        lines.append(ok(PAGERDUTY, "SIDECAR_PAGERDUTY_ROUTING_KEY", "32 characters"))
    unresolved = [
        o.label for o in orgs if not o.has_own_key and default_key_length is None
    ]
    if unresolved:
        lines.append(
            fail(
                PAGERDUTY,
                "entitled organizations",
                f"no routing key for {', '.join(unresolved)}: their SEV 1/2 pages "
                "are dead letters",
                "set SIDECAR_PAGERDUTY_ROUTING_KEY, or the organization's "
                "pagerduty_routing_key in the entitlements file",
            )
        )
    elif orgs:
        own = sum(o.has_own_key for o in orgs)
        lines.append(
            ok(
                PAGERDUTY,
                "entitled organizations",
                f"{len(orgs)} in the entitlements file, each resolves a key "
                f"({own} their own)",
            )
        )
    return lines


def check_pagerduty_webhooks(*, secrets: int, paging: bool) -> Line:
    """Whether PagerDuty's answers (acknowledged, notes, resolved) can come back."""
    name = "SIDECAR_PAGERDUTY_WEBHOOK_SECRET"
    if secrets == 0:
        if not paging:
            return ok(PAGERDUTY, name, "not set (nothing pages, nothing to hear back)")
        # Optional: pages work without it; only the way back is off.
        return ok(
            PAGERDUTY,
            name,
            "not set: acknowledgements and notes in PagerDuty do not come back to "
            "the ticket (optional: `sidecar pagerduty setup --url "
            "https://HOST/webhooks/pagerduty` prints the secret)",
        )
    if secrets > 1:
        return ok(
            PAGERDUTY,
            name,
            f"{secrets} secrets (a rotation): remove the old one once PagerDuty "
            "signs with the new",
        )
    return ok(PAGERDUTY, name, "set: acknowledgements come back to the ticket")
