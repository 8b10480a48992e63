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
ordinary work never crowds it out. Nothing takes more than the share, urgent
work included: a storm of urgent tickets waits for the window like anything
else (the pages themselves go to PagerDuty, which is not Zendesk's budget),
and while urgent work waits, ordinary work of that pool in this process waits
too, so the urgent writes go first.

Bulk work (backfill, replay, the open-ticket counts: the ``bulk`` lane) is
ordinary work with a ceiling of its own: at most ``bulk`` (a fraction) of the
ordinary part of each pool per window, so live work always keeps the rest of
it deployment-wide; and none at all in a process while live ordinary work of
that process waits for the pool (as ordinary work yields to urgent work). A
bulk job whose ticket turns out to be SEV 1/2 of an entitled organization
writes on the urgent lane, like any other. What the budget refuses raises
:class:`~sidecar.errors.BudgetWait` before the request is sent; the worker puts
the job back in the queue for that long, without holding a thread.

Zendesk's own headers are read on every answer (``X-Rate-Limit-Remaining``,
``ratelimit-remaining``/``-reset``, ``Zendesk-RateLimit-tickets-update``, in
every spelling seen: :func:`canonical_header`): when less than ``low_water`` of a
limit remains, ordinary work of that kind waits for the reset, so the sidecar
slows down before Zendesk has to say 429.
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
UPDATE_ENDPOINT = "tickets-update"  # Zendesk-RateLimit-tickets-update
POOLS = ("requests", "updates")
# How long after its due time a refused urgent call keeps the pool's next
# place from ordinary work: the queue's scheduler runs the waiting job within
# a one-second tick of its due time.
YIELD_SECONDS = 1.0


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
    bulk: float = 0.5  # part of the ordinary part backfill and replay may use

    def __post_init__(self) -> None:
        if self.requests < 1 or self.updates < 1:
            raise ConfigError("Zendesk budget shares must be at least 1 per window")
        if self.window_seconds <= 0:
            raise ConfigError("SIDECAR_ZENDESK_BUDGET_WINDOW must be more than 0 s")
        if not 0 <= self.reserve < 1 or not 0 <= self.low_water < 1:
            raise ConfigError("budget reserve and low water must be between 0 and 1")
        if not 0 < self.bulk <= 1:
            raise ConfigError(
                "SIDECAR_ZENDESK_BUDGET_BULK must be more than 0, at most 1"
            )

    def limit(self, pool: str) -> int:
        """The pool's limit per window."""
        return self.requests if pool == "requests" else self.updates

    def ordinary_limit(self, pool: str) -> int:
        """The part of the pool's limit that non-urgent work may use."""
        limit = self.limit(pool)
        return max(1, limit - round(limit * self.reserve))

    def bulk_limit(self, pool: str) -> int:
        """The part of the ordinary part that bulk work (backfill, replay) may use."""
        return max(1, int(self.ordinary_limit(pool) * self.bulk))


def shares_from(config: Any) -> Shares:
    """The shares a Config sets (SIDECAR_ZENDESK_BUDGET_*)."""
    return Shares(
        requests=config.budget_requests,
        updates=config.budget_updates,
        window_seconds=config.budget_window_seconds,
        reserve=config.budget_reserve,
        bulk=config.budget_bulk,
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
        # Per pool, a window for each part: the whole share (URGENT may use
        # all of it), its ordinary part (NORMAL and BULK), the bulk part.
        self._buckets: dict[tuple[str, str], Bucket] = {}
        for pool in POOLS:
            self._buckets[pool, URGENT] = bucket(pool, shares.limit(pool), window_ms)
            self._buckets[pool, NORMAL] = bucket(
                f"{pool}_ordinary", shares.ordinary_limit(pool), window_ms
            )
            self._buckets[pool, BULK] = bucket(
                f"{pool}_bulk", shares.bulk_limit(pool), window_ms
            )
        self._lock = threading.Lock()
        # Until when ordinary work of a pool waits (Zendesk said it is nearly out).
        self._held_until: dict[str, float] = {}
        # Until when an urgent call of this process waits for a pool's window.
        self._urgent_waiting: dict[str, float] = {}
        # Until when a live ordinary call of this process waits for a pool's window.
        self._live_waiting: dict[str, float] = {}
        self._last_leak = 0
        self.waits: dict[str, int] = dict.fromkeys(POOLS, 0)

    # --- before a request ---------------------------------------------------

    def take(
        self, *, update: bool, urgent: bool | None = None, work: str | None = None
    ) -> None:
        """Count one request (and one ticket update) or raise BudgetWait.

        ``work`` is the kind of work (URGENT, NORMAL or BULK); ``urgent``
        True/False says URGENT/NORMAL; by default the thread's lane. Urgent
        work must fit the whole pool (the reserve is what only it may use),
        ordinary work its part of the pool too, bulk work its own part of
        that as well. A refused urgent call holds this process's ordinary and
        bulk work of that pool until it is due, and a refused live ordinary
        call holds its bulk work, so the next free place goes to the more
        urgent call.
        """
        if work is None:
            work = current_lane() if urgent is None else URGENT if urgent else NORMAL
        now = self._clock()
        self._leak(now)
        pools = ("requests", "updates") if update else ("requests",)
        for pool in pools:
            if work != URGENT:
                self._wait_for_yields(pool, now, work)
            try:
                if work == BULK:
                    self._put(pool, now, BULK, work)
                if work != URGENT:
                    self._put(pool, now, NORMAL, work)
                self._put(pool, now, URGENT, work)
            except BudgetWait as wait:
                if work != BULK:  # the pool's next places go to this call
                    due = now / 1000 + (wait.retry_after or 1.0) + YIELD_SECONDS
                    self._yield_to(work, pool, due)
                raise

    def ensure_room(self, pool: str, *, work: str) -> None:
        """Raise BudgetWait when ``work`` would be refused a place in ``pool`` now; count nothing.

        A bulk job (backfill, replay) nearly always ends in a ticket write, and
        refused at the write it comes back later and reads again: asking about
        the updates pool before its first read keeps a full bulk part from
        costing it its reads over and over.
        """
        if work == URGENT:
            return
        now = self._clock()
        self._wait_for_yields(pool, now, work)
        limits = {
            URGENT: self.shares.limit(pool),
            NORMAL: self.shares.ordinary_limit(pool),
            BULK: self.shares.bulk_limit(pool),
        }
        for part in (BULK, NORMAL, URGENT) if work == BULK else (NORMAL, URGENT):
            bucket = self._buckets[pool, part]
            bucket.leak(now)
            if int(bucket.count()) >= limits[part]:
                waited = bucket.waiting(RateItem(pool, now))
                seconds = max(0.05, (waited if waited and waited > 0 else 1000) / 1000)
                self._wait(pool, seconds, work)

    def _wait_for_yields(self, pool: str, now: int, work: str) -> None:
        """Raise BudgetWait while Zendesk holds the pool or more urgent work waits for it."""
        yields = [self._held_until, self._urgent_waiting]
        if work == BULK:
            yields.append(self._live_waiting)
        held = max(until.get(pool, 0.0) for until in yields) - now / 1000
        if held > 0:
            self._wait(pool, held, work)

    def _yield_to(self, work: str, pool: str, until: float) -> None:
        # Less urgent work of this process leaves the pool's next places to
        # the call that was refused (a process does not see the others'
        # waiting jobs; each one yields to its own).
        waiting = self._urgent_waiting if work == URGENT else self._live_waiting
        with self._lock:
            waiting[pool] = max(waiting.get(pool, 0.0), until)
        log.info(
            "%s Zendesk call waits for our %s share",
            work,
            pool,
            extra={"pool": pool, "lane": work},
        )

    def _put(self, pool: str, now: int, part: str, work: str) -> bool:
        bucket = self._buckets[pool, part]
        item = RateItem(pool, now)
        if bucket.put(item):
            return True
        waited = bucket.waiting(item)
        seconds = max(0.05, (waited if waited and waited > 0 else 1000) / 1000)
        self._wait(pool, seconds, work)
        return False  # unreachable: _wait raises

    def _wait(self, pool: str, seconds: float, work: str) -> None:
        with self._lock:
            self.waits[pool] += 1
        raise BudgetWait(
            f"zendesk budget: our {pool} share is used for now, "
            f"waiting {seconds:.2f} s",
            service=SERVICE,
            retry_after=seconds,
            pool=pool,
            lane=work,
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
        """Read Zendesk's rate-limit headers; hold ordinary work when it is nearly out.

        A reset that no header gives is taken as the whole window, never less:
        holding too short only earns the 429 the hold was meant to avoid. On a
        429, Retry-After is a floor for the requests pool.
        """
        now = self._clock() / 1000
        window = self.shares.window_seconds
        retry = _number(_header(headers, "retry-after")) if status == 429 else None
        account = account_headroom(headers)
        if account is not None:
            remaining, limit, reset = account
            if status == 429 or remaining <= limit * self.shares.low_water:
                self._hold("requests", now + max(reset or window, retry or 0.0))
        update = endpoint_headroom(headers, UPDATE_ENDPOINT)
        if update is not None:
            remaining, limit, reset = update
            if status == 429 or remaining <= limit * self.shares.low_water:
                self._hold("updates", now + (reset or window))
        if status == 429 and account is None and update is None:
            self._hold("requests", now + (retry if retry and retry > 0 else 1.0))

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
            pool: (int(self._buckets[pool, URGENT].count()), self.shares.limit(pool))
            for pool in POOLS
        }

    def bulk_usage(self) -> dict[str, tuple[int, int]]:
        """Per pool: (bulk work's use in the current window, its part per window)."""
        now = self._clock()
        self._last_leak = 0
        self._leak(now)
        return {
            pool: (int(self._buckets[pool, BULK].count()), self.shares.bulk_limit(pool))
            for pool in POOLS
        }


def headroom(
    headers: Mapping[str, str],
) -> dict[str, tuple[float, float, float | None]]:
    """Per pool, (remaining, limit, seconds to reset or None) as Zendesk's headers say.

    The same reading the budget does on every answer (for `sidecar doctor`).
    """
    found = {
        "requests": account_headroom(headers),
        "updates": endpoint_headroom(headers, UPDATE_ENDPOINT),
    }
    return {pool: value for pool, value in found.items() if value is not None}


def _number(value: str | None) -> float | None:
    """A finite, non-negative number, or None."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    if number is None or not 0 <= number < 10**7:  # NaN, inf, negatives, nonsense
        return None
    return number


def canonical_header(name: str) -> str:
    """The one spelling of a rate-limit header name that the budget looks up.

    Header names are case-insensitive (RFC 9110, section 5.1), and Zendesk has
    sent the same header as ``X-Rate-Limit``, ``rate-limit`` and
    ``ratelimit-limit``, its reset as ``rate-limit-reset`` and
    ``ratelimit-reset`` (docs/decisions.md, "Recorded Zendesk answers"): lower
    case, no ``x-`` prefix, ``rate-limit`` written ``ratelimit``.
    """
    name = name.strip().lower().replace("_", "-")
    name = name.removeprefix("x-")
    return name.replace("rate-limit", "ratelimit")


def _canonical(headers: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers.items():
        found.setdefault(canonical_header(str(name)), str(value))
    return found


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return _canonical(headers).get(canonical_header(name))


def account_headroom(
    headers: Mapping[str, str],
) -> tuple[float, float, float | None] | None:
    """(remaining, limit, seconds to reset or None) from the account-wide headers.

    "Rate limits" page: ``X-Rate-Limit``/``ratelimit-limit``,
    ``X-Rate-Limit-Remaining``/``ratelimit-remaining``, ``ratelimit-reset``;
    recorded answers also carry ``rate-limit``, ``rate-limit-remaining`` and
    ``rate-limit-reset``. None when the limit or what remains is not given.
    """
    found = _canonical(headers)
    remaining = _number(found.get("ratelimit-remaining"))
    limit = _number(found.get("ratelimit-limit"))
    if limit is None:
        limit = _number(found.get("ratelimit"))
    if remaining is None or not limit:
        return None
    reset = _number(found.get("ratelimit-reset"))
    return remaining, limit, (max(0.5, reset) if reset is not None else None)


def endpoint_headroom(
    headers: Mapping[str, str], endpoint: str
) -> tuple[float, float, float | None] | None:
    """(remaining, total, seconds to reset or None) of ``Zendesk-RateLimit-<endpoint>``.

    The value reads ``total=100; remaining=99; resets=60`` (Tickets page, Update
    Ticket limits; "Rate limits" page); the parts may come in any case, with
    commas for semicolons, and ``reset`` for ``resets``.
    """
    value = _canonical(headers).get(canonical_header(f"zendesk-ratelimit-{endpoint}"))
    if not value:
        return None
    parts: dict[str, float] = {}
    for chunk in value.replace(",", ";").split(";"):
        name, _, number = chunk.partition("=")
        parsed = _number(number.strip())
        if parsed is not None:
            parts[name.strip().lower()] = parsed
    total = parts.get("total")
    if "remaining" not in parts or not total:
        return None
    reset = parts.get("resets", parts.get("reset"))
    return parts["remaining"], total, (max(0.5, reset) if reset is not None else None)


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
_PUT = (
    _NOW
    + """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2 * window)
return 1
"""
)
# The items in the window now. ARGV: window (ms).
_COUNT = (
    _NOW
    + """
return redis.call('ZCARD', KEYS[1])
"""
)


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
        return bool(
            self._put(keys=[self._key], args=[self._window, self._limit, member])
        )

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
