"""One Zendesk API budget for the whole deployment: every process draws from it.

Zendesk's limits are per account (700 requests a minute on Enterprise, 100
ticket updates a minute that the agents' own updates count against too;
"Rate limits" page, Tickets page "Limits"), so a limit per process would let
ten processes spend ten shares. The counts live where every process sees them:
pyrate-limiter buckets in the queue's SQLite file (with a file lock, for the
several processes of the embedded mode) or in its Redis database.

Two pools, each a sliding window of ``window_seconds``: all our requests, and
our ticket updates. Part of each pool (``reserve``) is kept for urgent work
(SEV 1/2 of entitled organizations: the due-time write, the page's marker), so
ordinary work never crowds it out; urgent work is never made to wait by our own
share (only Zendesk's 429 can stop it). What the budget refuses raises
:class:`~sidecar.errors.BudgetWait` before the request is sent; the worker puts
the job back in the queue for that long, without holding a thread.

Zendesk's own headers are read on every answer (``X-Rate-Limit-Remaining``,
``ratelimit-remaining``/``-reset``, ``Zendesk-RateLimit-tickets-update``): when
less than ``low_water`` of a limit remains, ordinary work of that kind waits for
the reset, so the sidecar slows down before Zendesk has to say 429.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from pyrate_limiter import Rate, RateItem, SQLiteBucket

from sidecar.errors import BudgetWait, ConfigError

log = logging.getLogger("sidecar.budget")

SERVICE = "zendesk"
URGENT, NORMAL, BULK = "urgent", "normal", "bulk"
_LANE: ContextVar[str] = ContextVar("sidecar_zendesk_lane", default=NORMAL)
UPDATE_HEADER = "zendesk-ratelimit-tickets-update"
POOLS = ("requests", "updates")


def current_lane() -> str:
    """The lane of the work this thread is doing (urgent, normal or bulk)."""
    return _LANE.get()


@contextlib.contextmanager
def lane(name: str) -> Iterator[None]:
    """Run the block's Zendesk calls in lane ``name``."""
    token = _LANE.set(name)
    try:
        yield
    finally:
        _LANE.reset(token)


def set_lane(name: str) -> None:
    """Move the rest of this job's calls to lane ``name`` (reset by the next ``lane``)."""
    _LANE.set(name)


@dataclass(frozen=True)
class Shares:
    """How much of the account's limits the sidecar may use, and over what window."""

    requests: int = 350  # 50 % of Enterprise's 700 a minute
    updates: int = 30  # of the account's 100 ticket updates a minute: agents keep 70
    window_seconds: float = 60.0
    reserve: float = 0.2  # part of each pool only urgent work may use
    low_water: float = 0.1  # slow down when Zendesk says less than this remains

    def __post_init__(self) -> None:
        if self.requests < 1 or self.updates < 1:
            raise ConfigError("Zendesk budget shares must be at least 1 per window")
        if self.window_seconds <= 0:
            raise ConfigError("SIDECAR_ZENDESK_BUDGET_WINDOW must be more than 0 s")
        if not 0 <= self.reserve < 1 or not 0 <= self.low_water < 1:
            raise ConfigError("budget reserve and low water must be between 0 and 1")

    def limit(self, pool: str) -> int:
        """The pool's limit per window."""
        return self.requests if pool == "requests" else self.updates

    def ordinary_limit(self, pool: str) -> int:
        """The part of the pool's limit that non-urgent work may use."""
        limit = self.limit(pool)
        return max(1, limit - round(limit * self.reserve))


def shares_from(config: Any) -> Shares:
    """The shares a Config sets (SIDECAR_ZENDESK_BUDGET_*)."""
    return Shares(
        requests=config.budget_requests,
        updates=config.budget_updates,
        window_seconds=config.budget_window_seconds,
        reserve=config.budget_reserve,
    )


class Bucket(Protocol):
    """The two calls of a pyrate-limiter bucket the budget makes."""

    def put(self, item: RateItem) -> Any: ...
    def waiting(self, item: RateItem) -> Any: ...
    def leak(self, current_timestamp: int | None = None) -> Any: ...
    def count(self) -> Any: ...


def _now_ms() -> int:
    # Wall clock, not monotonic: processes on several hosts share the counts.
    return time.time_ns() // 1_000_000


class Budget:
    """The deployment-wide budget; thread-safe, one per process."""

    def __init__(
        self,
        shares: Shares,
        *,
        bucket: Callable[[str, int, int], Bucket],
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.shares = shares
        self._clock = clock
        window_ms = int(shares.window_seconds * 1000)
        self._buckets: dict[tuple[str, bool], Bucket] = {}
        for pool in POOLS:
            self._buckets[pool, True] = bucket(pool, shares.limit(pool), window_ms)
            self._buckets[pool, False] = bucket(
                f"{pool}_ordinary", shares.ordinary_limit(pool), window_ms
            )
        self._lock = threading.Lock()
        # Until when ordinary work of a pool waits (Zendesk said it is nearly out).
        self._held_until: dict[str, float] = {}
        self._last_leak = 0
        self.waits: dict[str, int] = dict.fromkeys(POOLS, 0)

    # --- before a request ---------------------------------------------------

    def take(self, *, update: bool, urgent: bool | None = None) -> None:
        """Count one request (and one ticket update) or raise BudgetWait.

        ``urgent`` defaults to the thread's lane. Urgent work is counted but
        never refused: the reserve exists so that it fits.
        """
        urgent = current_lane() == URGENT if urgent is None else urgent
        now = self._clock()
        self._leak(now)
        pools = ("requests", "updates") if update else ("requests",)
        for pool in pools:
            if not urgent:
                held = self._held_until.get(pool, 0.0) - now / 1000
                if held > 0:
                    self._wait(pool, held)
                self._put(pool, now, ordinary=True)
            if not self._put(pool, now, ordinary=False, refuse=not urgent):
                log.info("urgent Zendesk call beyond our %s share", pool)

    def _put(self, pool: str, now: int, *, ordinary: bool, refuse: bool = True) -> bool:
        bucket = self._buckets[pool, not ordinary]
        item = RateItem(pool, now)
        if bucket.put(item):
            return True
        if not refuse:
            return False
        waited = bucket.waiting(item)
        seconds = max(0.05, (waited if waited and waited > 0 else 1000) / 1000)
        self._wait(pool, seconds)
        return False  # unreachable: _wait raises

    def _wait(self, pool: str, seconds: float) -> None:
        with self._lock:
            self.waits[pool] += 1
        raise BudgetWait(
            f"zendesk budget: our {pool} share is used for now, "
            f"waiting {seconds:.2f} s",
            service=SERVICE,
            retry_after=seconds,
            pool=pool,
        )

    def _leak(self, now: int) -> None:
        # Drop counts older than the window now and then (pyrate's Limiter runs
        # a thread for this; we call the bucket's leak() ourselves).
        if now - self._last_leak < 1000:
            return
        with self._lock:
            if now - self._last_leak < 1000:
                return
            self._last_leak = now
        for bucket in self._buckets.values():
            bucket.leak(now)

    # --- after an answer ------------------------------------------------------

    def observe(self, headers: Mapping[str, str], *, status: int | None) -> None:
        """Read Zendesk's rate-limit headers; hold ordinary work when it is nearly out."""
        lower = {k.lower(): v for k, v in headers.items()}
        now = self._clock() / 1000
        account = _account_headroom(lower)
        if account is not None:
            remaining, limit, reset = account
            if status == 429 or remaining <= limit * self.shares.low_water:
                self._hold("requests", now + reset)
        update = _update_headroom(lower.get(UPDATE_HEADER))
        if update is not None:
            remaining, limit, reset = update
            if status == 429 or remaining <= limit * self.shares.low_water:
                self._hold("updates", now + reset)
        if status == 429 and account is None and update is None:
            retry = _number(lower.get("retry-after")) or 1.0
            self._hold("requests", now + retry)

    def _hold(self, pool: str, until: float) -> None:
        with self._lock:
            if until > self._held_until.get(pool, 0.0):
                self._held_until[pool] = until
                log.info(
                    "zendesk nearly out of %s: ordinary work waits %.1f s",
                    pool,
                    until - self._clock() / 1000,
                )

    # --- visibility -----------------------------------------------------------

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per pool: (used in the current window, allowed per window)."""
        now = self._clock()
        self._last_leak = 0
        self._leak(now)
        return {
            pool: (int(self._buckets[pool, True].count()), self.shares.limit(pool))
            for pool in POOLS
        }


def headroom(headers: Mapping[str, str]) -> dict[str, tuple[float, float, float]]:
    """Per pool, (remaining, limit, seconds to reset) as Zendesk's headers say now.

    The same reading the budget does on every answer (for `sidecar doctor`).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    found = {
        "requests": _account_headroom(lower),
        "updates": _update_headroom(lower.get(UPDATE_HEADER)),
    }
    return {pool: value for pool, value in found.items() if value is not None}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _account_headroom(headers: Mapping[str, str]) -> tuple[float, float, float] | None:
    """(remaining, limit, seconds to reset) from the account-wide headers ("Rate limits")."""
    remaining = _number(headers.get("ratelimit-remaining"))
    if remaining is None:
        remaining = _number(headers.get("x-rate-limit-remaining"))
    limit = _number(headers.get("ratelimit-limit")) or _number(
        headers.get("x-rate-limit")
    )
    if remaining is None or not limit:
        return None
    reset = _number(headers.get("ratelimit-reset")) or 1.0
    return remaining, limit, max(0.5, reset)


def _update_headroom(value: str | None) -> tuple[float, float, float] | None:
    """Parse ``total=100; remaining=99; resets=60`` (Tickets page, Update Ticket limits)."""
    if not value:
        return None
    parts: dict[str, float] = {}
    for chunk in value.split(";"):
        name, _, number = chunk.partition("=")
        parsed = _number(number.strip())
        if parsed is not None:
            parts[name.strip().lower()] = parsed
    if "remaining" not in parts or not parts.get("total"):
        return None
    return parts["remaining"], parts["total"], max(0.5, parts.get("resets", 1.0))


# --- storage -------------------------------------------------------------------


def sqlite_buckets(
    path: str, *, prefix: str = "sidecar_budget"
) -> Callable[[str, int, int], Bucket]:
    """Buckets in the SQLite file ``path`` (its tables ``<prefix>_<pool>``), locked across processes."""

    def make(name: str, limit: int, window_ms: int) -> Bucket:
        try:
            bucket = SQLiteBucket.init_from_file(
                [Rate(limit, window_ms)],
                table=f"{prefix}_{name}",
                db_path=path,
                use_file_lock=True,
            )
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open the budget in {path}: {exc}") from None
        return bucket

    return make


def redis_buckets(conn: Any, *, prefix: str) -> Callable[[str, int, int], Bucket]:
    """Buckets as Redis sorted sets ``<prefix>.<pool>`` (one atomic Lua script per take)."""

    def make(name: str, limit: int, window_ms: int) -> Bucket:
        return RedisWindow(conn, f"{prefix}.{name}", limit=limit, window_ms=window_ms)

    return make


# Redis's own clock, in ms, inside a script: every process (and host) shares
# it, and the stamps follow the order in which the scripts run.
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
"""
# One take: drop what left the window, count the rest, add this one. pyrate's
# RedisBucket counts only items stamped up to the new one's stamp, read from the
# process's clock before its script runs, so a take whose script ran after
# others' but whose stamp was earlier did not see them: more than the share got
# through (docs/decisions.md, "One governor for the whole deployment").
# KEYS[1]: the sorted set; ARGV: window (ms), limit, member.
_PUT = _NOW + """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2 * window)
return 1
"""
# The items in the window now. ARGV: window (ms).
_COUNT = _NOW + """
return redis.call('ZCARD', KEYS[1])
"""


class RedisWindow:
    """A sliding-window count in one Redis sorted set: ``limit`` items per ``window_ms``.

    Items are stamped with the Redis server's clock (see ``_PUT``); the
    ``RateItem`` stamps the budget passes are used only to estimate waits.
    """

    def __init__(self, conn: Any, key: str, *, limit: int, window_ms: int) -> None:
        self._conn = conn
        self._key = key
        self._limit = limit
        self._window = window_ms
        self._put = conn.register_script(_PUT)
        self._count = conn.register_script(_COUNT)

    def put(self, item: RateItem) -> bool:
        member = f"{item.name}:{uuid.uuid4().hex}"
        return bool(self._put(keys=[self._key], args=[self._window, self._limit, member]))

    def waiting(self, item: RateItem) -> int:
        """Milliseconds until the oldest item leaves the window (by this host's clock)."""
        oldest = self._conn.zrange(self._key, 0, 0, withscores=True)
        if not oldest:
            return 0
        return max(0, int(oldest[0][1]) + self._window - item.timestamp)

    def leak(self, current_timestamp: int | None = None) -> int:
        """Nothing to do: each take drops what has left the window."""
        return 0

    def count(self) -> int:
        return int(self._count(keys=[self._key], args=[self._window]))
