"""The operator audit log in Redis: the newest ``KEPT`` entries, newest first."""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.audit import KEPT
from queue_config.stores.redis.client import store_call


class RedisAuditLog:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @store_call
    async def record(
        self, *, token: str, action: str, before: Any, after: Any, throttle_changed: bool = False
    ) -> None:
        """Keep one entry (``token`` is the operator token's fingerprint, never the token); with
        ``throttle_changed`` also announce the change to every process, once the entry is kept, so no
        reader sees the notice without the entry. (Not in the entry's transaction: Redis Cluster takes
        no PUBLISH in one.)"""
        entry = {"at": time.time(), "token": token, "action": action, "before": before, "after": after}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self._names.audit_log, orjson.dumps(entry))
            pipe.ltrim(self._names.audit_log, 0, KEPT - 1)
            await pipe.execute()
        if throttle_changed:
            await self._redis.publish(self._names.throttle_changed, b"1")

    @store_call
    async def entries(self) -> list[dict[str, Any]]:
        """Entries as recorded, ``at`` in unix seconds."""
        return [orjson.loads(item) for item in await self._redis.lrange(self._names.audit_log, 0, KEPT - 1)]
