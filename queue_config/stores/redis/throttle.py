"""The throttle document in Redis, one key every front door and the controller read."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.planning.throttle import Throttle, decode
from queue_config.stores.redis.client import store_call


class RedisThrottleStore:
    def __init__(self, redis: Redis, names: Names, defaults: Throttle) -> None:
        self.redis = redis
        self.names = names
        self._key = names.throttle
        self.defaults = defaults

    @store_call
    async def get(self) -> Throttle:
        raw = await self.redis.get(self._key)
        return decode(raw) if raw else self.defaults

    @store_call
    async def put(self, throttle: Throttle) -> None:
        await self.redis.set(self._key, msgspec.json.encode(throttle))
