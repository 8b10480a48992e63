"""The queue store port: what the queue keeps beside Huey's jobs, on one storage.

Every process (web replicas, workers, the CLI) shares these through the queue's
SQLite file or Redis database: webhook dedup and collapse **claims**, **leases**
(an escalation wanted), **in-flight** records of taken jobs, the **ticket memo**
(values that lapse), **flags**, **dead letters** and the **ready clock** (when
each lane's oldest ready job became ready). ``SqliteStore``
(sidecar/queue/sqlite_store.py) and ``RedisStore`` (sidecar/queue/redis_store.py)
implement it; ``JobQueue`` (sidecar/tasks/queue.py) is the façade over it and
Huey. docs/life-of-a-job.md names each key, its owner and expiry.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sidecar.config import MAX_WEBHOOK_TOLERANCE_SECONDS

if TYPE_CHECKING:
    from sidecar.queue.huey_inside import ReadyJob
    from sidecar.queue.inflight import InflightStore
    from sidecar.zendesk.budget import Budget, Shares

# Zendesk keeps invocations (and may redeliver) for days; 7 days covers manual
# replays from its activity log too.
CLAIM_TTL_SECONDS = 7 * 24 * 3600
# The webhook's replay claim (sidecar.zendesk.events.replay_key: "signed:" and
# the digest of the signed timestamp + body) only has to outlive the window in
# which that timestamp verifies (SIDECAR_WEBHOOK_TOLERANCE either way, at most
# MAX_WEBHOOK_TOLERANCE_SECONDS): an older copy fails the signature before it
# reaches the queue. At the event-id claim's 7 days it cost ~1.8 GB of Redis at
# a steady 20 webhooks/s (docs/benchmarks.md, Redis memory).
REPLAY_CLAIM_PREFIX = "signed:"
REPLAY_CLAIM_SECONDS = 2 * MAX_WEBHOOK_TOLERANCE_SECONDS


def claim_ttl(key: str) -> int:
    """How long a claim taken with its job lives (seconds)."""
    if key.startswith(REPLAY_CLAIM_PREFIX):
        return REPLAY_CLAIM_SECONDS
    return CLAIM_TTL_SECONDS


# The bound on dead letters: past it the oldest are dropped (and logged).
# `sidecar jobs failed` lists them; `sidecar jobs retry` empties them.
DEAD_LETTER_LIMIT = 50_000
# Slack's thread links and "said once" marks (sidecar.slack.links) expire this
# long after they were last written: a thread answered after half a year of
# silence starts a new link (the ticket's external id still names its thread).
SLACK_FLAG_SECONDS = 180 * 24 * 3600.0
SLACK_FLAG_PREFIXES = (
    "slack_ticket:",
    "slack_thread:",
    "slack_said:",
    "slack_comment:",
)


def flag_ttl(name: str) -> float | None:
    """How long flag ``name`` lives once written (None: until cleared or overwritten).

    Every flag without an expiry is one per service, organization or scope (a
    bound); the per-ticket and per-thread ones expire.
    """
    if name.startswith("slack_commenting:"):
        return 3600.0  # read as stale after a minute (sidecar.slack.links)
    if name.startswith(SLACK_FLAG_PREFIXES):
        return SLACK_FLAG_SECONDS
    return None


class Taken(enum.Enum):
    """What claiming a submit's keys found."""

    DUPLICATE = "duplicate"  # a dedup key was held: nothing claimed, nothing to do
    ENQUEUE = "enqueue"  # keys claimed: enqueue the job
    COLLAPSED = "collapsed"  # keys claimed; a waiting job of the ticket covers it


@dataclass(frozen=True)
class Pending:
    """A submit's collapse claim: ``key`` held ``ttl`` s; ``take`` it when free, or only look."""

    key: str
    ttl: float
    take: bool


class QueueStore(Protocol):
    """Claims, leases, in-flight records, memo, flags, dead letters and the ready clock."""

    @property
    def inflight(self) -> InflightStore:
        """The in-flight records (a worker's take writes them with Huey's row)."""
        ...

    # --- claims -------------------------------------------------------------

    def take(
        self,
        keys: Sequence[str],
        pending: Pending | None = None,
        job: ReadyJob | None = None,
    ) -> Taken:
        """Claim every key or none, look at (or take) ``pending``, store ``job``: one write."""
        ...

    def claim(self, key: str, ttl: float) -> bool:
        """Claim ``key`` for ``ttl`` s; False when it is held."""
        ...

    def release(self, key: str) -> None:
        """Forget a claim."""
        ...

    def prune(self, *, older_than: float, replay_older_than: float) -> int:
        """Drop claims taken before ``older_than``, replay claims before ``replay_older_than``.

        SQLite; Redis keys expire by themselves.
        """
        ...

    def ping(self) -> None:
        """Raise unless the storage answers."""
        ...

    # --- the ticket memo ------------------------------------------------------

    def get_memo(self, key: str) -> str | None: ...
    def set_memo(self, key: str, value: str, ttl: float) -> None: ...
    def prune_memos(self, now: float) -> int:
        """Drop lapsed memo values (SQLite; Redis keys expire); return how many."""
        ...

    # --- leases ---------------------------------------------------------------

    def take_lease(self, key: str, seconds: float, now: float) -> bool:
        """Hold ``key`` until ``now + seconds`` unless a live lease holds it.

        Leases and in-flight records name their owner, this process
        (sidecar.queue.inflight.this_owner).
        """
        ...

    def renew_lease(self, key: str, seconds: float, now: float) -> None: ...
    def end_lease(self, key: str) -> None: ...
    def lapsed_leases(self, now: float) -> list[str]: ...
    def orphaned_leases(self, gone: Callable[[str], bool]) -> list[tuple[str, str]]:
        """(key, owner) of every lease whose holder ``gone`` says no longer runs."""
        ...

    def steal_lease(self, key: str, owner: str, seconds: float, now: float) -> bool:
        """Take over ``key`` if ``owner`` still holds it (one winner)."""
        ...

    # --- flags ----------------------------------------------------------------

    def get_flag(self, name: str) -> str | None: ...
    def set_flag(self, name: str, value: str | None, ttl: float | None = None) -> None:
        """Set (for ``ttl`` s, or until cleared), or with None clear, a flag every process sees."""
        ...

    # --- dead letters ---------------------------------------------------------

    def put_dead(self, job_id: str, record: str, *, limit: int = ...) -> int:
        """Store a dead letter (its JSON record) and count it; drop the oldest past ``limit``.

        Returns how many were dropped.
        """
        ...

    def pop_dead(self, job_id: str) -> str | None:
        """Remove and return a dead letter (two retries cannot both win)."""
        ...

    def restore_dead(self, job_id: str, record: str) -> None:
        """Put back a dead letter popped for a retry that failed (not counted again)."""
        ...

    def dead_letters(self) -> list[str]:
        """Every dead letter's record."""
        ...

    def dead_count(self) -> int:
        """How many dead letters there are now (a count kept as they come and go)."""
        ...

    def dead_total(self) -> int:
        """How many jobs were ever dead-lettered (a counter)."""
        ...

    # --- the ready clock and the budget -----------------------------------------

    def oldest_ready(self) -> dict[str, float | None]:
        """Per lane name, when its oldest ready job became ready (epoch s; None: none)."""
        ...

    def budget(self, shares: Shares) -> Budget:
        """The deployment-wide Zendesk budget kept beside the queue."""
        ...

    def close(self) -> None: ...
