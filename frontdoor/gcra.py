"""A rate limiter shared by every front door: GCRA (the generic cell rate algorithm) in one Lua script.

Each limited subject keeps one number in Redis, its theoretical arrival time (TAT). A request is allowed
when it would not push the TAT more than the burst tolerance past now. All subjects of a request are
checked first and charged only if every one allows it, atomically, against Redis's own clock, so two or
ten front doors (with skewed clocks) enforce one limit between them. Hand-written rather than a library:
the Python GCRA packages we found keep state in process or charge one key per call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from queue_config.ticket_store import store_call

# KEYS: one per subject; ARGV: per subject, its emission interval and burst tolerance (ms)
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait, worst = 0, 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval, tolerance = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allow_at = tat + interval - tolerance
  if allow_at - now > wait then wait, worst = allow_at - now, i end
  tats[i] = tat + interval
end
if worst > 0 then return {worst, wait} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return {0, 0}
"""


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    per_minute: float

    def arguments(self) -> tuple[float, float]:
        # The whole minute's allowance may come as one burst, then one request per interval: a
        # request is allowed while the TAT it leaves behind is at most a minute ahead of now.
        return 60_000 / self.per_minute, 60_000


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: float = 0.0
    exceeded: str | None = None  # the key of the limit that refused


class GcraLimiter:
    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_GCRA)

    @store_call
    async def acquire(self, limits: list[Limit]) -> Verdict:
        """Charge one request to every limit, or to none when any of them refuses it."""
        live = [limit for limit in limits if limit.per_minute > 0]
        if not live:
            return Verdict(True)
        args = [value for limit in live for value in limit.arguments()]
        worst, wait_ms = await self._script(keys=[limit.key for limit in live], args=args)
        if int(worst) == 0:
            return Verdict(True)
        return Verdict(False, math.ceil(float(wait_ms)) / 1000, live[int(worst) - 1].key)
