"""A rate limiter shared by every front door: GCRA (the generic cell rate algorithm) in one Lua script.

Each limited subject keeps one number in Redis, its theoretical arrival time (TAT). A request is allowed
when it would not push the TAT more than the burst tolerance past now. All subjects of a request are
checked first and charged only if every one allows it, atomically, against Redis's own clock, so two or
ten front doors (with skewed clocks) enforce one limit between them. Hand-written rather than a library:
the Python GCRA packages we found keep state in process or charge one key per call.

The same script carries both kinds of limit a submission meets: the client's own (per resident ID, per
IP: 429) and its kind's admission rate (set by the admission controller: 503). Limits are checked in the
order given and the first that refuses is reported, so a client over its own limit hears 429 even while
the system is also shedding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from queue_config.stores.script_batcher import ScriptBatcher, call_script
from queue_config.stores.ticket_store import store_call

# KEYS: one per subject; ARGV: per subject, its emission interval and burst tolerance (ms); then the
# cost (how many requests this call stands for: a bulk batch charges its enterprise per item)
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[#ARGV])
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, tolerance = tonumber(ARGV[2 * i - 1]) * cost, tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allow_at = tat + interval - tolerance
  if allow_at > now then return {i, allow_at - now} end
  tats[i] = tat + interval
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return {0, 0}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    interval_ms: float  # one request per interval in the long run
    tolerance_ms: float  # how far ahead of now the TAT may run: the burst allowance

    @classmethod
    def per_minute(cls, key: str, per_minute: float) -> Limit:
        # The whole minute's allowance may come as one burst, then one request per interval.
        return cls(key, 60_000 / per_minute if per_minute > 0 else 0.0, 60_000)

    @classmethod
    def per_second(cls, key: str, rate: float, burst_seconds: float) -> Limit:
        return cls(key, 1000 / rate if rate > 0 else math.inf, burst_seconds * 1000)

    @property
    def live(self) -> bool:
        return self.interval_ms > 0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: float = 0.0
    exceeded: str | None = None  # the key of the limit that refused


class GcraLimiter:
    def __init__(self, redis: Redis, batcher: ScriptBatcher | None = None) -> None:
        self._script = redis.register_script(_GCRA)
        self._batcher = batcher

    @store_call
    async def acquire(self, limits: list[Limit], cost: int = 1) -> Verdict:
        """Charge ``cost`` requests to every limit, or nothing when any of them refuses."""
        live = [limit for limit in limits if limit.live]
        if not live:
            return Verdict(True)
        for limit in live:
            if math.isinf(limit.interval_ms):  # a zero rate: nothing passes, no need to ask Redis
                return Verdict(False, 60.0, limit.key)
        args = [value for limit in live for value in (limit.interval_ms, limit.tolerance_ms)]
        args.append(cost)
        keys = [limit.key for limit in live]
        first, wait_ms = await call_script(self._script, keys, args, self._batcher)
        if int(first) == 0:
            return Verdict(True)
        return Verdict(False, math.ceil(float(wait_ms)) / 1000, live[int(first) - 1].key)
