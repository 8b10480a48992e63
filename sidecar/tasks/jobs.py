"""The jobs the queue carries: names, arguments, lanes and the retry policy.

A leaf module (standard library only), so that the queue (which stores jobs),
the worker (which runs them) and the wiring (which builds the handlers) can
all import it without importing each other: the queue knows the jobs, never
their handlers; the worker is given the handlers by whoever starts it.

Jobs of one id (a ticket, or an organization for ``refresh_org``):

- ``reconcile(ticket_id, *, wake=None, actor_id=None, version=None,
  severity=None, organization_id=None)``: read the ticket, write the SLA
  difference. ``wake`` is the claim of the timer that enqueued it;
  ``actor_id``/``version`` are the webhook's hint (sidecar.tasks.memo.Hint)
  that may let it skip its read; ``severity``/``organization_id`` (urgent
  lane only) what the signed trigger body named, to page on while Zendesk
  cannot be read.
- ``escalate(ticket_id, *, page=None)``: page on-call (or resolve the page),
  record it on the ticket; ``page`` is a decision already made
  (sidecar.tasks.reconcile.PageOrder): the trigger goes out before any
  Zendesk call.
- ``refresh_org(org_id)``: reconcile the organization's open tickets.

Every job also carries the worker's run state (``attempt``, ``first_failure``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

H = TypeVar("H")

RECONCILE, ESCALATE, REFRESH_ORG, SWEEP = (
    "reconcile",
    "escalate",
    "refresh_org",
    "sweep",
)
# Jobs of one id: `sidecar jobs retry` re-enqueues their dead letters by id.
JOBS = (RECONCILE, ESCALATE, REFRESH_ORG)
# The Slack app's jobs (sidecar.tasks.slack_jobs registers them); the same runner
# runs them (sidecar.tasks.worker.Runner).
SLACK_CREATE, SLACK_COMMENT, SLACK_SYNC = "slack_create", "slack_comment", "slack_sync"
SLACK_JOBS = (SLACK_CREATE, SLACK_COMMENT, SLACK_SYNC)
# Ready jobs run highest priority first, on SQLite and on Redis alike (Huey's
# priority storages): live webhooks (and the sweep's catch-up of missed ones)
# 0, timers -1, an escalate that only records a page already sent -2 (behind
# the urgent jobs that may still page); replay -5 and backfill -10
# (sidecar.tasks.bulk). Retries and budget waits keep their job's priority.
LIVE_PRIORITY, TIMER_PRIORITY, RECORD_PRIORITY = 0, -1, -2
# What PagerDuty tells us back (sidecar.tasks.oncall_jobs registers it): one
# incident event, applied to its ticket as a note, a tag and a thread line.
PAGERDUTY_EVENT = "pagerduty_event"
ONCALL_JOBS = (PAGERDUTY_EVENT,)
HINT_KWARGS = ("actor_id", "version")
RUN_STATE_KWARGS = ("attempt", "first_failure")
# Huey names a task "<module of its function>.<name>" in the stored job. These
# tasks were registered from sidecar.tasks.worker before the queue layer was
# split; keeping that module name keeps jobs queued by earlier versions runnable.
TASK_MODULE = "sidecar.tasks.worker"


class Lane(enum.Enum):
    """Which worker threads run a job.

    URGENT has threads of its own in every worker process (a queue of its
    own on the same storage), so SEV 1/2 work of entitled organizations never
    waits behind ordinary jobs or their slow upstream calls.
    """

    NORMAL = "normal"
    URGENT = "urgent"


# --- the escalation lease ------------------------------------------------------

# Jobs that hold a lease in the queue store while wanted (see worker.Runner.run).
LEASED_JOBS = frozenset({ESCALATE})
_ESCALATION_PREFIX = "escalate:"


def escalation_lease(ticket_id: int) -> str:
    """Name the lease of a ticket's escalation (page or resolve)."""
    return f"{_ESCALATION_PREFIX}{int(ticket_id)}"


def escalation_ticket(lease: str) -> int | None:
    """The ticket an escalation lease stands for (None for another lease)."""
    if not lease.startswith(_ESCALATION_PREFIX):
        return None
    return int(lease.removeprefix(_ESCALATION_PREFIX))


# --- retries -------------------------------------------------------------------

BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 900.0
MAX_ATTEMPTS = 8


# The urgent lane's retries (pages, their markers, SEV 1/2 due times): a page
# that failed once is tried again within seconds, not minutes. Short and
# capped, so more attempts: as many as it takes to span at least the ordinary
# retries' time (with the default 5 s: 1+2+4+8+16 + 21 × 30 = 661 s against
# 5+10+…+320 = 635 s, 27 attempts), so a PagerDuty or Zendesk outage
# dead-letters a page no sooner than before.
URGENT_BASE_DELAY_SECONDS = 1.0
URGENT_MAX_DELAY_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a failed job is retried: ``base`` doubling per attempt up to ``cap``, ``attempts`` in all."""

    base: float
    cap: float
    attempts: int

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based).

        An upstream's Retry-After is a floor (capped at MAX_DELAY_SECONDS, not
        at ``cap``: what the upstream asked for wins over our hurry).
        """
        delay: float = min(self.base * 2 ** min(attempt - 1, 60), self.cap)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, MAX_DELAY_SECONDS))
        return delay

    def span(self) -> float:
        """Seconds from the first failure to the dead letter, without Retry-After."""
        return sum(self.delay(n) for n in range(1, self.attempts))


def retry_policy(lane: Lane, *, base: float = BASE_DELAY_SECONDS) -> RetryPolicy:
    """The retries of a job in ``lane``; ``base`` is the configured ordinary first delay.

    The urgent lane's first delay is the smaller of its own and ``base`` (a
    deployment or test that retries faster keeps that for pages too).
    """
    ordinary = RetryPolicy(base, MAX_DELAY_SECONDS, MAX_ATTEMPTS)
    if lane is not Lane.URGENT:
        return ordinary
    return _urgent_policy(base, ordinary.span())


@functools.cache
def _urgent_policy(base: float, span: float) -> RetryPolicy:
    """The urgent retries with the fewest attempts (at least MAX_ATTEMPTS) spanning ``span``."""
    policy = RetryPolicy(
        min(URGENT_BASE_DELAY_SECONDS, base), URGENT_MAX_DELAY_SECONDS, MAX_ATTEMPTS
    )
    waited = policy.span()
    while waited < span:
        waited += policy.delay(policy.attempts)
        policy = dataclasses.replace(policy, attempts=policy.attempts + 1)
    return policy


def retry_delay(
    attempt: int, *, retry_after: float | None = None, base: float = BASE_DELAY_SECONDS
) -> float:
    """Seconds to wait after ordinary failed attempt ``attempt`` (1-based): 5, 10, 20 … 900."""
    return retry_policy(Lane.NORMAL, base=base).delay(attempt, retry_after=retry_after)


def auth_failed_flag(service: str) -> str:
    """Name the flag raised while ``service`` refuses our credentials."""
    return f"{service}_auth_failed"


# Services whose refusal of our credentials the worker keeps as a flag; read
# by /metrics (sidecar_upstream_auth_failed) and `sidecar doctor`, cleared by
# the next job that gets through to the service.
AUTH_SERVICES = ("zendesk", "pagerduty", "slack")
AUTH_FAILED_FLAG = auth_failed_flag("zendesk")  # /readyz answers 503 while it is up


# --- handlers and dead letters ---------------------------------------------------

# A handler takes the job's id; a reconcile may also get the webhook's hint
# (``actor_id``, ``version``) and, on the urgent lane, ``urgent=True`` as keywords.
Handler = Callable[..., None]
# job name ("reconcile", "escalate", "refresh_org", "sweep") -> handler of one id
Handlers = Mapping[str, Handler]


@dataclasses.dataclass(frozen=True)
class FailedJob:
    """A dead-lettered job, as `sidecar jobs failed` lists it.

    ``args``/``kwargs`` are what re-enqueues it (JSON); None for the jobs of
    one id (reconcile, escalate, refresh_org, slack_sync), which ``ticket_id``
    re-enqueues, and for dead letters written before they were kept.
    """

    job_id: str
    task: str  # "reconcile", "escalate", "refresh_org" or a Slack job's name
    ticket_id: int
    error: str
    attempts: int
    first_failure_at: str
    last_failure_at: str
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None


def hint_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook hint a reconcile job carries (only the keys that are set)."""
    return {name: kwargs[name] for name in HINT_KWARGS if kwargs.get(name)}


class LazyHandlers(Generic[H]):
    """A process's job handlers, built once on first use by the factory in force.

    Thread-safe. ``missing`` makes the error raised when a job arrives in a
    process that was given no factory.
    """

    def __init__(self, missing: Callable[[], Exception]) -> None:
        self._missing = missing
        self._factory: Callable[[], H] | None = None
        self._built: H | None = None
        self._lock = threading.Lock()

    def use(self, factory: Callable[[], H]) -> None:
        """Build handlers with ``factory`` from now on (on the next job, once)."""
        with self._lock:
            self._factory, self._built = factory, None

    def get(self) -> H:
        """The handlers, built on first use."""
        with self._lock:
            if self._built is None:
                if self._factory is None:
                    raise self._missing()
                self._built = self._factory()
            return self._built
