"""The errors the SLA engine raises; each names the value or key it could not use."""

from __future__ import annotations

from sidecar.errors import ConfigError, SidecarError


class SlaInputError(SidecarError, ValueError):
    """An argument to the SLA engine is unusable (naive datetime, bad duration)."""


class SeverityError(SlaInputError):
    """A severity value is not one we recognise; ``value`` is what we got."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"unrecognised severity {value!r}: expected 1-5, 'sev_1', 'SEV 1', "
            "'SEV 1 - Critical (...)' or 'Critical (SEV 1)'"
        )
        self.value = value


class NoTargetError(SlaInputError):
    """No due time: the severity is empty or the policy has no target for it."""

    def __init__(
        self, severity: int | None, *, policy: str, metric: str = "first_response"
    ) -> None:
        if severity is None:
            message = "no severity set: no SLA applies, so there is no due time"
        elif metric == "first_response":
            message = f"policy {policy!r} has no target for SEV{severity}"
        else:
            message = f"policy {policy!r} has no {metric} target for SEV{severity}"
        super().__init__(message)
        self.severity = severity
        self.policy = policy
        self.metric = metric


class PolicyError(ConfigError):
    """A policy file is invalid; the message names the file, the key and the problem."""

    def __init__(self, problem: str, *, file: str = "<policy>", key: str = "") -> None:
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + problem)
        self.file = file
        self.key = key
        self.problem = problem
