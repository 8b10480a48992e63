"""The queue store (sidecar.queue.store) in the queue's Redis database.

Keys carry the queue's name ``<q>``: claims ``sidecar.claim.<q>.<key>`` and memo
values ``sidecar.memo.<q>.<key>`` (plain keys with a TTL), leases in the hash
``sidecar.lease.<q>``, in-flight records (sidecar.queue.inflight), ready
instants (sidecar.queue.ready). Flags and dead letters are values in Huey's
key-value hash, as they always were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sidecar.queue.huey_inside import ReadyJob
from sidecar.queue.inflight import RedisInflight, this_owner
from sidecar.queue.ready import RedisReadyClock
from sidecar.queue.store import CLAIM_TTL_SECONDS, Pending, Taken
from sidecar.zendesk.budget import Budget, Shares, redis_buckets

FLAG = "flag:"
DEAD = "dead:"
DEAD_TOTAL = "dead_letters_total"

# Take every claim or none, then look at the pending key, in one round trip.
# KEYS: the claims, then the pending key (or none), then the lane's Huey list
# (or none) or its schedule. ARGV: claim TTL, pending TTL, "take" or "check"
# ("" without a pending key), the serialized job ("" for none: LPUSHed, as
# Huey's RedisStorage.enqueue does, when the claims are taken), the job's due
# score ("" for a ready job; else ZADDed to the schedule, as Huey's
# RedisStorage.add_to_schedule does). Returns 0 duplicate, 1 enqueue (job
# stored), 2 collapsed.
_TAKE_LUA = """
local claims = #KEYS
if ARGV[3] ~= '' then claims = claims - 1 end
if ARGV[4] ~= '' then
  claims = claims - 1
  -- A script's writes are not undone by a later error: refuse before any write
  -- when the job could not be pushed, so no claim outlives a job never stored.
  local kind = redis.call('TYPE', KEYS[#KEYS])['ok']
  local want = 'list'
  if ARGV[5] ~= '' then want = 'zset' end
  if kind ~= 'none' and kind ~= want then
    return redis.error_reply('WRONGTYPE the queue key holds a ' .. kind)
  end
end
for i = 1, claims do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, claims do
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
end
if ARGV[3] ~= '' then
  local waiting = KEYS[claims + 1]
  if redis.call('EXISTS', waiting) == 1 then return 2 end
  if ARGV[3] == 'take' then
    redis.call('SET', waiting, '1', 'EX', ARGV[2])
  end
end
if ARGV[4] ~= '' then
  if ARGV[5] ~= '' then
    redis.call('ZADD', KEYS[#KEYS], ARGV[5], ARGV[4])
  else
    redis.call('LPUSH', KEYS[#KEYS], ARGV[4])
  end
end
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
        self._inflight = RedisInflight(self._conn, self.name)
        self._ready: RedisReadyClock[str] = RedisReadyClock(lanes)

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
        data, due = b"", ""
        if job is not None:
            names.append(job.queue)
            data = job.data
            due = "" if job.due is None else repr(job.due)
        answer = int(
            self._take(
                keys=names, args=[CLAIM_TTL_SECONDS, pending_ttl, mode, data, due]
            )
        )
        return {0: Taken.DUPLICATE, 1: Taken.ENQUEUE, 2: Taken.COLLAPSED}[answer]

    def claim(self, key: str, ttl: float) -> bool:
        return bool(
            self._conn.set(self._prefix + key, b"1", nx=True, ex=max(1, round(ttl)))
        )

    def release(self, key: str) -> None:
        self._conn.delete(self._prefix + key)

    def prune(self, *, older_than: float) -> int:
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

    # --- flags and dead letters: values in Huey's key-value hash --------------------

    def get_flag(self, name: str) -> str | None:
        value = self._huey.get(FLAG + name, peek=True)
        return value if isinstance(value, str) else None

    def set_flag(self, name: str, value: str | None) -> None:
        if value is None:
            self._huey.delete(FLAG + name)
        else:
            self._huey.put(FLAG + name, value)

    def put_dead(self, job_id: str, record: str) -> None:
        self._huey.put(DEAD + job_id, record)
        self._storage.incr(DEAD_TOTAL, 1)

    def pop_dead(self, job_id: str) -> str | None:
        raw = self._huey.get(DEAD + job_id)
        return raw if isinstance(raw, str) else None

    def restore_dead(self, job_id: str, record: str) -> None:
        self._huey.put(DEAD + job_id, record)

    def dead_letters(self) -> list[str]:
        return [
            str(self._huey.serializer.deserialize(raw))
            for key, raw in self._storage.result_items().items()
            if key.startswith(DEAD)
        ]

    def dead_total(self) -> int:
        return int(self._storage.incr(DEAD_TOTAL, 0))

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
