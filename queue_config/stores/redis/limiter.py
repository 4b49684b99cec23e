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

from queue_config.key_shards import key_slot
from queue_config.stores.limiter import Limit, Verdict
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import is_cluster, store_call
from queue_config.stores.redis.script_batcher import ScriptBatcher, call_script, pipelined, run_scripts


class RedisGcraLimiter:
    def __init__(self, redis: Redis, batcher: ScriptBatcher | None = None) -> None:
        self._redis = redis
        self._script = redis.register_script(lua.source("limiter_gcra"))
        self._refund = redis.register_script(lua.source("limiter_refund"))
        self._batcher = batcher
        self._cluster = is_cluster(redis)

    @store_call
    async def acquire(self, limits: list[Limit], cost: int = 1) -> Verdict:
        """Charge ``cost`` requests to every limit, or nothing when any of them refuses."""
        live = [limit for limit in limits if limit.live]
        if not live:
            return Verdict(True)
        for limit in live:
            if math.isinf(limit.interval_ms):  # a zero rate: nothing passes, no need to ask Redis
                return Verdict(False, 60.0, limit.key)
        if self._cluster:
            slots: dict[int, list[Limit]] = {}
            for limit in live:
                slots.setdefault(key_slot(limit.key), []).append(limit)
            if len(slots) > 1:
                return await self._across_slots(live, list(slots.values()), cost)
        first, wait_ms = await call_script(self._script, *_call(live, cost), self._batcher)
        if int(first) == 0:
            return Verdict(True)
        return Verdict(False, math.ceil(float(wait_ms)) / 1000, live[int(first) - 1].key)

    async def _across_slots(self, live: list[Limit], groups: list[list[Limit]], cost: int) -> Verdict:
        calls = [(self._script, *_call(group, cost)) for group in groups]
        # Through the batcher, a turn's charges of every request share one pipeline a node; on their own
        # each request would cost every node it touches a round trip.
        replies = (
            await self._batcher.run_many(calls) if self._batcher else await pipelined(self._redis, calls)
        )
        refused: list[tuple[int, float, str]] = []  # (the limit's place in the request, wait, key)
        charged: list[list[Limit]] = []
        for group, reply in zip(groups, replies, strict=True):
            if isinstance(reply, Exception):
                refused.append((-1, 0.0, ""))
                continue
            first, wait_ms = int(reply[0]), float(reply[1])
            if first == 0:
                charged.append(group)
            else:
                refused.append(
                    (live.index(group[first - 1]), math.ceil(wait_ms) / 1000, group[first - 1].key)
                )
        if not refused:
            return Verdict(True)
        await run_scripts(
            self._redis,
            [
                (self._refund, [lim.key for lim in group], [*[lim.interval_ms for lim in group], cost])
                for group in charged
            ],
        )
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors:
            raise errors[0]
        _, wait, key = min(refused)
        return Verdict(False, wait, key)


def _call(limits: list[Limit], cost: int) -> tuple[list[str], list[float | int]]:
    args: list[float | int] = [value for limit in limits for value in (limit.interval_ms, limit.tolerance_ms)]
    args.append(cost)
    return [limit.key for limit in limits], args
