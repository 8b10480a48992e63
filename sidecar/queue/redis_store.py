"""The queue store (sidecar.queue.store) in the queue's Redis database.

Keys carry the queue's name ``<q>``: claims ``sidecar.claim.<q>.<key>``, memo
values ``sidecar.memo.<q>.<key>`` and flags ``sidecar.flag.<q>.<name>`` (plain
keys, with a TTL where they expire), leases in the hashes ``sidecar.lease.<q>``
and ``sidecar.lease_owner.<q>``, in-flight records (sidecar.queue.inflight),
ready instants (sidecar.queue.ready), dead letters in the hash
``sidecar.dead.<q>`` (counted by HLEN, O(1)) with their order in the sorted
set ``sidecar.dead_at.<q>``, and the ever-count ``sidecar.dead_total.<q>``.
Flags and dead letters were values in Huey's hashes before; they are moved
once, when a process first opens a database that still has them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from sidecar.queue.huey_inside import ReadyJob
from sidecar.queue.inflight import RedisInflight, this_owner
from sidecar.queue.ready import RedisReadyClock, ready_key
from sidecar.queue.store import (
    CLAIM_TTL_SECONDS,
    DEAD_LETTER_LIMIT,
    REPLAY_CLAIM_PREFIX,
    REPLAY_CLAIM_SECONDS,
    Pending,
    Taken,
    flag_ttl,
)
from sidecar.zendesk.budget import Budget, Shares, redis_buckets

FLAG = "flag:"
DEAD = "dead:"
DEAD_TOTAL = "dead_letters_total"

log = logging.getLogger("sidecar.queue")

# Take every claim or none, then look at the pending key, in one round trip.
# KEYS: the claims, then the pending key (or none), then the lane's ready
# sorted set or its schedule (or none), then the lane's ready clock (or none).
# ARGV: claim TTL, pending TTL, "take" or "check" ("" without a pending key),
# the job's member ("" for none: ZADDed, as Huey's PriorityRedisStorage.enqueue
# or RedisStorage.add_to_schedule do, when the claims are taken), its score
# (minus its priority, or its due instant), the replay claim's TTL, the full
# key prefix of replay claims, the task's id ("" records nothing) and now: a
# ready job's instant goes into the ready clock in the same script
# (sidecar.queue.ready), not in a second round trip after it.
# Returns 0 duplicate, 1 enqueue (job stored), 2 collapsed.
_TAKE_LUA = """
local n = #KEYS
local clock, queue, waiting
if ARGV[8] ~= '' then clock = KEYS[n]; n = n - 1 end
if ARGV[4] ~= '' then queue = KEYS[n]; n = n - 1 end
if ARGV[3] ~= '' then waiting = KEYS[n]; n = n - 1 end
if queue then
  -- A script's writes are not undone by a later error: refuse before any write
  -- when the job could not be stored, so no claim outlives a job never stored.
  local kind = redis.call('TYPE', queue)['ok']
  if kind ~= 'none' and kind ~= 'zset' then
    return redis.error_reply('WRONGTYPE the queue key holds a ' .. kind)
  end
end
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, n do
  local ttl = ARGV[1]
  -- The replay claim lives only as long as its signature verifies (store.py).
  if string.sub(KEYS[i], 1, #ARGV[7]) == ARGV[7] then ttl = ARGV[6] end
  redis.call('SET', KEYS[i], '1', 'EX', ttl)
end
if waiting then
  if redis.call('EXISTS', waiting) == 1 then return 2 end
  if ARGV[3] == 'take' then
    redis.call('SET', waiting, '1', 'EX', ARGV[2])
  end
end
if queue then redis.call('ZADD', queue, ARGV[5], ARGV[4]) end
if clock then redis.call('ZADD', clock, ARGV[9], ARGV[8]) end
return 1
"""


# Take a lease unless a live one is held (KEYS: lease hash, owner hash; ARGV:
# lapse instant, now, key, owner).
_TAKE_LEASE_LUA = """
local lapses = redis.call('HGET', KEYS[1], ARGV[3])
if lapses and tonumber(lapses) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# Take over a lease whose owner is gone, if it still has that owner (KEYS:
# lease hash, owner hash; ARGV: key, gone owner, lapse instant, new owner).
_STEAL_LEASE_LUA = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return 1
"""


# Store a dead letter, count it, and drop the oldest past the bound (KEYS:
# records hash, order zset, ever-count; ARGV: job id, record, at, limit).
# Returns how many were dropped.
_PUT_DEAD_LUA = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('INCR', KEYS[3])
local over = redis.call('HLEN', KEYS[1]) - tonumber(ARGV[4])
if over <= 0 then return 0 end
local oldest = redis.call('ZPOPMIN', KEYS[2], over)
for i = 1, #oldest, 2 do redis.call('HDEL', KEYS[1], oldest[i]) end
return over
"""

# Remove and return one dead letter (KEYS: records hash, order zset; ARGV: id).
_POP_DEAD_LUA = """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return record
"""


class RedisStore:
    """Claims, memo, leases, in-flight records, flags and dead letters in one Redis database."""

    def __init__(self, huey: Any, lanes: Mapping[str, Any]) -> None:
        """``huey``: the normal lane's RedisHuey (its connection and key-value hash);
        ``lanes``: every lane's Huey by lane name (the ready clock)."""
        self._huey = huey
        self._storage = huey.storage
        self._conn = huey.storage.conn
        self.name = str(huey.storage.name)
        self._prefix = f"sidecar.claim.{self.name}."
        self._memo_prefix = f"sidecar.memo.{self.name}."
        self._lease_hash = f"sidecar.lease.{self.name}"
        self._lease_owner = f"sidecar.lease_owner.{self.name}"
        self._take = self._conn.register_script(_TAKE_LUA)
        self._take_lease = self._conn.register_script(_TAKE_LEASE_LUA)
        self._steal_lease = self._conn.register_script(_STEAL_LEASE_LUA)
        self._flag_prefix = f"sidecar.flag.{self.name}."
        self._dead = f"sidecar.dead.{self.name}"
        self._dead_at = f"sidecar.dead_at.{self.name}"
        self._dead_total = f"sidecar.dead_total.{self.name}"
        self._put_dead = self._conn.register_script(_PUT_DEAD_LUA)
        self._pop_dead = self._conn.register_script(_POP_DEAD_LUA)
        self._kv_moved = False
        try:
            self._move_kv()
        except redis.RedisError as exc:  # Redis not up yet: the next write does it
            log.debug("moving flags and dead letters deferred: %s", exc)
        self._inflight = RedisInflight(self._conn, self.name)
        self._ready: RedisReadyClock[str] = RedisReadyClock(lanes)
        # Each lane's ready list -> its ready clock, recorded by the take script.
        self._ready_keys = {
            str(lane.storage.queue_key): ready_key(lane) for lane in lanes.values()
        }

    @property
    def inflight(self) -> RedisInflight:
        return self._inflight

    @property
    def conn(self) -> Any:
        """The Redis connection (the budget's windows live there too)."""
        return self._conn

    # --- claims: plain keys with a TTL (no pruning needed) -----------------------

    def take(
        self,
        keys: Sequence[str],
        pending: Pending | None = None,
        job: ReadyJob | None = None,
    ) -> Taken:
        """Claim every key or none, look at the pending key, store ``job``: one script."""
        names = [self._prefix + k for k in keys]
        mode, pending_ttl = "", 1
        if pending is not None:
            names.append(self._prefix + pending.key)
            mode = "take" if pending.take else "check"
            pending_ttl = max(1, round(pending.ttl))
        data, score, task_id = b"", "", ""
        if job is not None:
            names.append(job.queue)
            data = job.data
            score = repr(-job.priority if job.due is None else job.due)
            clock = self._ready_keys.get(job.queue) if job.due is None else None
            if clock is not None and job.task_id:
                names.append(clock)
                task_id = job.task_id
        answer = int(
            self._take(
                keys=names,
                args=[
                    CLAIM_TTL_SECONDS,
                    pending_ttl,
                    mode,
                    data,
                    score,
                    REPLAY_CLAIM_SECONDS,
                    self._prefix + REPLAY_CLAIM_PREFIX,
                    task_id,
                    repr(time.time()),
                ],
            )
        )
        return {0: Taken.DUPLICATE, 1: Taken.ENQUEUE, 2: Taken.COLLAPSED}[answer]

    def claim(self, key: str, ttl: float) -> bool:
        return bool(
            self._conn.set(self._prefix + key, b"1", nx=True, ex=max(1, round(ttl)))
        )

    def release(self, key: str) -> None:
        self._conn.delete(self._prefix + key)

    def prune(self, *, older_than: float, replay_older_than: float) -> int:
        return 0  # Redis expires them

    def ping(self) -> None:
        self._conn.ping()

    # --- the ticket memo -----------------------------------------------------------

    def get_memo(self, key: str) -> str | None:
        value = self._conn.get(self._memo_prefix + key)
        return value.decode() if isinstance(value, bytes) else None

    def set_memo(self, key: str, value: str, ttl: float) -> None:
        self._conn.set(self._memo_prefix + key, value.encode(), ex=max(1, round(ttl)))

    def prune_memos(self, now: float) -> int:
        return 0  # Redis expires them

    # --- leases: one hash, key -> the instant (epoch seconds) it lapses -------------

    def take_lease(self, key: str, seconds: float, now: float) -> bool:
        return bool(
            self._take_lease(
                keys=[self._lease_hash, self._lease_owner],
                args=[repr(now + seconds), repr(now), key, this_owner()],
            )
        )

    def renew_lease(self, key: str, seconds: float, now: float) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hset(self._lease_hash, key, repr(now + seconds))
        pipe.hset(self._lease_owner, key, this_owner())
        pipe.execute()

    def end_lease(self, key: str) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hdel(self._lease_hash, key)
        pipe.hdel(self._lease_owner, key)
        pipe.execute()

    def lapsed_leases(self, now: float) -> list[str]:
        entries = self._conn.hgetall(self._lease_hash)
        return sorted(k.decode() for k, v in entries.items() if float(v) < now)

    def orphaned_leases(self, gone: Callable[[str], bool]) -> list[tuple[str, str]]:
        owners = self._conn.hgetall(self._lease_owner)
        found = ((k.decode(), v.decode()) for k, v in owners.items())
        return sorted((key, owner) for key, owner in found if gone(owner))

    def steal_lease(self, key: str, owner: str, seconds: float, now: float) -> bool:
        return bool(
            self._steal_lease(
                keys=[self._lease_hash, self._lease_owner],
                args=[key, owner, repr(now + seconds), this_owner()],
            )
        )

    # --- flags: plain keys, with a TTL where they expire --------------------------

    def get_flag(self, name: str) -> str | None:
        value = self._conn.get(self._flag_prefix + name)
        return value.decode() if isinstance(value, bytes) else None

    def set_flag(self, name: str, value: str | None, ttl: float | None = None) -> None:
        self._move_kv()
        if value is None:
            self._conn.delete(self._flag_prefix + name)
            return
        expiry = None if ttl is None else max(1, round(ttl))
        self._conn.set(self._flag_prefix + name, value.encode(), ex=expiry)

    # --- dead letters: a hash (HLEN counts it) and their order ------------------------

    def put_dead(
        self, job_id: str, record: str, *, limit: int = DEAD_LETTER_LIMIT
    ) -> int:
        self._move_kv()
        return int(
            self._put_dead(
                keys=[self._dead, self._dead_at, self._dead_total],
                args=[job_id, record, repr(time.time()), limit],
            )
        )

    def pop_dead(self, job_id: str) -> str | None:
        self._move_kv(again=True)
        raw = self._pop_dead(keys=[self._dead, self._dead_at], args=[job_id])
        return raw.decode() if isinstance(raw, bytes) else None

    def restore_dead(self, job_id: str, record: str) -> None:
        pipe = self._conn.pipeline(transaction=True)
        pipe.hsetnx(self._dead, job_id, record)
        pipe.zadd(self._dead_at, {job_id: time.time()}, nx=True)
        pipe.execute()

    def dead_letters(self) -> list[str]:
        self._move_kv(again=True)
        return [value.decode() for value in self._conn.hvals(self._dead)]

    def dead_count(self) -> int:
        return int(self._conn.hlen(self._dead))

    def dead_total(self) -> int:
        return int(self._conn.get(self._dead_total) or 0)

    def _move_kv(self, *, again: bool = False) -> None:
        """Move flags, dead letters and their counter out of Huey's hashes (once).

        ``again``: also after the first time, for what a process of an earlier
        version wrote there since (the operator's dead-letter commands call it).
        """
        if self._kv_moved and not again:
            return
        marker = f"sidecar.kv_moved.{self.name}"
        if not again and self._conn.exists(marker):
            self._kv_moved = True
            return
        now = time.time()
        storage = self._storage
        for key, raw in storage.result_items().items():
            if not key.startswith((FLAG, DEAD)):
                continue
            value = str(self._huey.serializer.deserialize(raw))
            if key.startswith(DEAD):
                job_id = key.removeprefix(DEAD)
                pipe = self._conn.pipeline(transaction=True)
                pipe.hsetnx(self._dead, job_id, value)
                pipe.zadd(self._dead_at, {job_id: now}, nx=True)
                pipe.execute()
            else:
                flag = key.removeprefix(FLAG)
                ttl = flag_ttl(flag)
                self._conn.set(
                    self._flag_prefix + flag,
                    value.encode(),
                    ex=None if ttl is None else round(ttl),
                    nx=True,
                )
            self._huey.delete(key)
        before = self._conn.hget(storage.counter_key, DEAD_TOTAL)
        if before is not None:
            pipe = self._conn.pipeline(transaction=True)
            pipe.incrby(self._dead_total, int(before))
            pipe.hdel(storage.counter_key, DEAD_TOTAL)
            pipe.execute()
        self._conn.set(marker, b"1")
        self._kv_moved = True

    # --- the ready clock and the budget -----------------------------------------

    def oldest_ready(self) -> dict[str, float | None]:
        return self._ready.oldest()

    def budget(self, shares: Shares) -> Budget:
        """Sorted sets named after the queue, so deployments stay apart."""
        return Budget(
            shares,
            bucket=redis_buckets(self._conn, prefix=f"sidecar.budget.{self.name}"),
        )

    def close(self) -> None:
        self._storage.pool.disconnect()  # every lane shares the pool
