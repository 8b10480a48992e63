"""Configuration: settings, policy, entitlements, plan names."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from sidecar.config import Config
from sidecar.doctor.checks.lines import Line, fail, ok, options_of, warn
from sidecar.errors import ConfigError, SidecarError

CONFIG = "configuration"
KNOWN_SETTINGS = frozenset(f.metadata["env"] for f in fields(Config))


def check_settings(
    environ: Mapping[str, str], *, parse: Callable[[Mapping[str, str]], Config]
) -> list[Line]:
    """Parse every setting with Config's own parser: one fail line per bad one.

    ``parse`` is :meth:`Config.from_env`. Each variable set is parsed on its
    own (so every bad one is named, not only the first), then all together
    (the file named by SIDECAR_CONFIG and the rules across settings).
    """
    lines: list[Line] = []
    bad = 0
    for name in sorted(KNOWN_SETTINGS & set(environ)):
        if name == "SIDECAR_CONFIG":
            continue  # read as part of the whole, below
        try:
            parse({name: environ[name]})
        except ConfigError as exc:
            bad += 1
            lines.append(
                fail(CONFIG, name, str(exc), f"fix {name} in the service's environment")
            )
    if not bad:
        try:
            parse(environ)
        except ConfigError as exc:
            lines.append(
                fail(
                    CONFIG,
                    "settings",
                    str(exc),
                    "fix the setting named above (environment or SIDECAR_CONFIG file)",
                )
            )
    unknown = sorted(
        name
        for name in environ
        if name.startswith("SIDECAR_")
        and name not in KNOWN_SETTINGS
        and not name.startswith("SIDECAR_TEST_")
    )
    if unknown:
        lines.append(
            warn(
                CONFIG,
                "unknown settings",
                f"not read by the sidecar: {', '.join(unknown)}",
                "check their spelling against the README's Configuration table",
            )
        )
    if not lines:
        count = len((KNOWN_SETTINGS | {"SIDECAR_CONFIG"}) & set(environ))
        lines.append(ok(CONFIG, "settings", f"every setting parsed ({count} set)"))
    return lines


def check_policy(describe: Callable[[], str]) -> Line:
    """The SLA policy loads (``describe`` loads it and names it, or raises ConfigError)."""
    try:
        return ok(CONFIG, "policy", describe())
    except SidecarError as exc:
        return fail(
            CONFIG,
            "policy",
            str(exc),
            "run `sidecar policy check FILE` and fix SIDECAR_POLICY_FILE / "
            "SIDECAR_POLICY_NAME",
        )


def check_entitlements(describe: Callable[[], str]) -> Line:
    """The entitlements file validates (``describe`` loads it, or raises ConfigError)."""
    try:
        return ok(CONFIG, "entitlements", describe())
    except SidecarError as exc:
        return fail(
            CONFIG,
            "entitlements",
            str(exc),
            "fix the file (every problem is listed; `sidecar orgs check --offline` "
            "re-checks it), or SIDECAR_ENTITLEMENTS_FILE",
        )


def check_plans(
    eligible: Sequence[str],
    org_fields: Sequence[Mapping[str, Any]],
    *,
    plan_field: str,
    enterprise_field: str,
) -> list[Line]:
    """SIDECAR_ORG_PLANS against the plan field's options; both organization fields exist."""
    lines: list[Line] = []
    plan = next((f for f in org_fields if f.get("key") == plan_field), None)
    if plan is None:
        lines.append(
            fail(
                CONFIG,
                "plans",
                f"Zendesk has no organization field {plan_field!r}: every organization "
                "reads as having no plan, so none is entitled",
                "run `sidecar zendesk setup --url URL`, or set SIDECAR_ORG_PLAN_FIELD "
                "to the field's key",
            )
        )
    elif plan.get("type") != "dropdown":
        lines.append(
            fail(
                CONFIG,
                "plans",
                f"organization field {plan_field!r} is a {plan.get('type')!r} field, "
                "not a drop-down",
                "point SIDECAR_ORG_PLAN_FIELD at the drop-down of support plans",
            )
        )
    else:
        tags = [tag for _, tag in options_of(plan)]
        unknown = [name for name in eligible if name not in tags]
        known = [name for name in eligible if name in tags]
        shown = ", ".join(tags) or "none"
        if unknown and not known:
            lines.append(
                fail(
                    CONFIG,
                    "plans",
                    f"SIDECAR_ORG_PLANS={','.join(eligible)}: no such option of "
                    f"{plan_field!r} (its options: {shown}); no organization can be "
                    "entitled, so nothing pages",
                    "set SIDECAR_ORG_PLANS to option tags of the plan field "
                    "(default ultra,enterprise)",
                )
            )
        elif unknown:
            lines.append(
                warn(
                    CONFIG,
                    "plans",
                    f"SIDECAR_ORG_PLANS names {', '.join(unknown)}, not an option of "
                    f"{plan_field!r} (its options: {shown})",
                    "correct or remove it in SIDECAR_ORG_PLANS",
                )
            )
        else:
            lines.append(
                ok(
                    CONFIG,
                    "plans",
                    f"{', '.join(eligible)} are options of {plan_field!r}",
                )
            )
    checkbox = next((f for f in org_fields if f.get("key") == enterprise_field), None)
    if checkbox is None or checkbox.get("type") != "checkbox":
        found = "missing" if checkbox is None else f"a {checkbox.get('type')!r} field"
        lines.append(
            fail(
                CONFIG,
                "enterprise field",
                f"organization field {enterprise_field!r} is {found}, not a checkbox",
                "run `sidecar zendesk setup --url URL`, or set "
                "SIDECAR_ORG_ENTERPRISE_FIELD to the checkbox's key",
            )
        )
    else:
        lines.append(
            ok(CONFIG, "enterprise field", f"{enterprise_field!r} is a checkbox")
        )
    return lines
