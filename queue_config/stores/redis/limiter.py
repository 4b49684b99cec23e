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

from redis.asyncio import Redis

from queue_config.stores.limiter import Limit, Verdict
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import store_call
from queue_config.stores.redis.script_batcher import ScriptBatcher, call_script


class RedisGcraLimiter:
    def __init__(self, redis: Redis, batcher: ScriptBatcher | None = None) -> None:
        self._script = redis.register_script(lua.source("limiter_gcra"))
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
