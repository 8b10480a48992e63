"""The exception hierarchy of the sidecar; each boundary translates into these."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SidecarError(Exception):
    """Base of every error the sidecar raises on purpose."""


class ConfigError(SidecarError):
    """The configuration (environment or TOML file) is missing or invalid."""

    # A job that meets one cannot succeed until an operator fixes the setting.
    disposition: Disposition  # set below, once Disposition exists


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


class Disposition(enum.Enum):
    """What the worker does with a job whose upstream call raised this error."""

    RETRY = "retry"  # transient: try again after retry_after or a backoff
    DROP = "drop"  # nothing left to do (the ticket is gone or closed): log, end
    DEAD_LETTER = "dead_letter"  # retrying cannot help: an operator must look


ConfigError.disposition = Disposition.DEAD_LETTER


class Wait(enum.Enum):
    """Why a RETRY is a wait, not a failure: it spends no attempt."""

    BUDGET = "budget"  # our own share of the budget is used for now
    THROTTLE = "throttle"  # the upstream answered 429


class UpstreamError(SidecarError):
    """A call to an upstream service failed.

    ``service`` names it ("zendesk", "pagerduty", "slack"), ``status`` is the
    HTTP status when there was a response, ``retry_after`` the seconds the
    upstream asked us to wait (429/503), when it said. ``disposition`` is the
    one thing the worker reads: each adapter's ``decipher`` picks the class, so
    the meaning of an answer is decided once, at the adapter.
    Messages never contain credentials.
    """

    disposition = Disposition.DEAD_LETTER
    # Set on a RETRY that is a wait: the worker spends no attempt on it.
    wait: Wait | None = None
    # Set on errors that prove the credentials for ``service`` are refused: the
    # worker raises the service's health flag, which /readyz reports.
    credentials_refused = False

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

    @property
    def retryable(self) -> bool:
        """True when the worker retries the job."""
        return self.disposition is Disposition.RETRY


class Transient(UpstreamError):
    """Worth retrying later: 5xx, timeouts, connection errors, 429."""

    disposition = Disposition.RETRY


@dataclass(frozen=True)
class Backoff:
    """How an upstream asks to be retried after 429s that carry no Retry-After.

    ``tries`` retries ``first`` seconds apart, then one every ``then`` seconds,
    counted from the first failure (PagerDuty: "retrying 3 times with each
    request being 30 seconds apart" and "preferably with a backoff of a few
    minutes"; see sidecar.oncall.pagerduty.THROTTLE_BACKOFF).
    """

    first: float
    tries: int
    then: float

    def delay(self, *, throttled_for: float) -> float:
        """Seconds to wait, the job having been failing for ``throttled_for`` seconds."""
        return self.first if throttled_for < self.first * self.tries else self.then


class RateLimited(Transient):
    """HTTP 429; ``retry_after`` holds the upstream's Retry-After when given.

    ``backoff`` is the upstream's own guidance for when it sent none (None:
    the worker's usual delay).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        retry_after: float | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            message, service=service, status=status, retry_after=retry_after
        )
        self.backoff = backoff

    def delay(self, *, throttled_for: float, default: float) -> float:
        """Seconds before the next try: Retry-After, else the upstream's backoff, else ``default``."""
        if self.retry_after is not None and self.retry_after > 0:
            return self.retry_after
        if self.backoff is not None:
            return self.backoff.delay(throttled_for=throttled_for)
        return default

    wait = Wait.THROTTLE


class Conflict(Transient):
    """HTTP 409 from a safe update: re-read and recompute."""


class BudgetWait(Transient):
    """Our share of the upstream's rate budget is used for now; ``retry_after`` says how long.

    Raised before any request is sent. The worker puts the job back in the
    queue for that long without counting an attempt: waiting for budget is not
    a failure. ``pool`` names the budget's pool ("requests" or "updates"),
    ``lane`` the kind of work that waits ("urgent", "normal" or "bulk"; None:
    the job's lane).
    """

    wait = Wait.BUDGET

    def __init__(
        self,
        message: str,
        *,
        service: str,
        retry_after: float | None = None,
        pool: str = "requests",
        lane: str | None = None,
    ) -> None:
        super().__init__(message, service=service, retry_after=retry_after)
        self.pool = pool
        self.lane = lane


class Rejected(UpstreamError):
    """The upstream refused the request; retrying the same request will not help."""


class Gone(UpstreamError):
    """The object is gone or frozen (deleted or closed ticket): nothing to do."""

    disposition = Disposition.DROP


class NotFound(Gone):
    """HTTP 404 for an object that was there (deleted ticket, unknown org)."""


class TicketClosed(Gone):
    """HTTP 422 "closed prevents ticket update": Zendesk freezes closed tickets."""


class AuthFailed(Rejected):
    """HTTP 401/403: credentials are wrong or lack permission."""

    credentials_refused = True


class BadResponse(Rejected):
    """The upstream answered with data we cannot accept (a value of the wrong type).

    Not retried: the same read returns the same data; an operator must look.
    """
