"""Spent proof-of-work solutions in Redis: one key each, gone when its challenge expires."""

from __future__ import annotations

from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis.client import store_call


class RedisSpentProofs:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @store_call
    async def spend(self, proof_id: str, ttl_seconds: int) -> bool:
        return bool(
            await self._redis.set(self._names.spent_proof(proof_id), b"", nx=True, ex=max(1, ttl_seconds))
        )
