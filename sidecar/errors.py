"""The exception hierarchy of the sidecar; each boundary translates into these."""

from __future__ import annotations


class SidecarError(Exception):
    """Base of every error the sidecar raises on purpose."""


class ConfigError(SidecarError):
    """The configuration (environment or TOML file) is missing or invalid."""


# --- webhook boundary -------------------------------------------------------


class InvalidSignature(SidecarError):
    """The webhook signature or its timestamp does not verify (HTTP 401)."""


class BadEvent(SidecarError):
    """The webhook request is not something we can accept (HTTP 4xx).

    ``status`` is the HTTP status the receiver answers with.
    """

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class QueueUnavailable(SidecarError):
    """The durable queue could not be read or written (HTTP 503, Zendesk retries)."""


# --- upstream services (Zendesk, PagerDuty, Slack) --------------------------


class UpstreamError(SidecarError):
    """A call to an upstream service failed.

    ``service`` names it ("zendesk", "pagerduty", "slack"), ``status`` is the
    HTTP status when there was a response, ``retry_after`` the seconds the
    upstream asked us to wait (429/503), when it said.
    Messages never contain credentials.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.retry_after = retry_after


class Transient(UpstreamError):
    """Worth retrying later: 5xx, timeouts, connection errors, 429."""

    retryable = True


class RateLimited(Transient):
    """HTTP 429; ``retry_after`` holds the upstream's Retry-After when given."""


class Conflict(Transient):
    """HTTP 409 from a safe update: re-read and recompute."""


class Rejected(UpstreamError):
    """The upstream refused the request; retrying the same request will not help."""


class NotFound(Rejected):
    """HTTP 404: the object is gone (deleted ticket, unknown org)."""


class AuthFailed(Rejected):
    """HTTP 401/403: credentials are wrong or lack permission."""
