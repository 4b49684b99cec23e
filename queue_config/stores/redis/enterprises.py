"""Enterprises: who may post bulk batches, with what quota, and the key that proves it.

An enterprise's API key and webhook secret are shown once, when it is created. Only a SHA-256 of the
key is stored: a key carries 256 random bits, so a plain hash is as good as a slow password hash here
and keeps authentication one Redis read. The webhook secret is stored as is, because signing a callback
needs it. The front door (bulk intake) and the status API (batch status) authenticate through this
module, so both read the same records.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.enterprises import (
    Enterprise,
    NewEnterprise,
    key_hash,
    new_enterprise,
    plausible_key,
)
from queue_config.stores.redis.client import store_call
from queue_config.stores.tickets import as_text

_decoder = msgspec.json.Decoder(Enterprise)


class RedisEnterpriseStore:
    def __init__(self, redis: Redis, names: Names, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._names = names
        self._clock = clock

    @store_call
    async def create(self, name: str, quota_per_minute: int) -> NewEnterprise:
        new = new_enterprise(name, quota_per_minute, self._clock())
        enterprise = new.enterprise
        n = self._names
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(n.enterprise(enterprise.enterprise_id), msgspec.json.encode(enterprise))
            pipe.set(n.enterprise_key(enterprise.key_hash), enterprise.enterprise_id)
            pipe.sadd(n.enterprises, enterprise.enterprise_id)
            await pipe.execute()
        return new

    @store_call
    async def get(self, enterprise_id: str) -> Enterprise | None:
        raw = await self._redis.get(self._names.enterprise(enterprise_id))
        return _decoder.decode(raw) if raw else None

    @store_call
    async def all(self) -> list[Enterprise]:
        ids = sorted(as_text(m) for m in await self._redis.smembers(self._names.enterprises))
        if not ids:
            return []
        raws = await self._redis.mget([self._names.enterprise(i) for i in ids])
        found = [_decoder.decode(raw) for raw in raws if raw]
        return sorted(found, key=lambda e: e.created_at)

    @store_call
    async def revoke(self, enterprise_id: str) -> Enterprise | None:
        """Revoke the enterprise's key at once; its record (and its batches) stay readable to operators."""
        enterprise = await self.get(enterprise_id)
        if enterprise is None:
            return None
        if enterprise.revoked_at is None:
            enterprise = msgspec.structs.replace(enterprise, revoked_at=round(self._clock(), 3))
        n = self._names
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(n.enterprise_key(enterprise.key_hash))
            pipe.set(n.enterprise(enterprise_id), msgspec.json.encode(enterprise))
            await pipe.execute()
        return enterprise

    @store_call
    async def authenticate(self, api_key: str | None) -> Enterprise | None:
        """The live enterprise this key belongs to, or None (unknown, malformed or revoked)."""
        if api_key is None or not plausible_key(api_key):
            return None
        enterprise_id = await self._redis.get(self._names.enterprise_key(key_hash(api_key)))
        if enterprise_id is None:
            return None
        enterprise = await self.get(as_text(enterprise_id))
        return enterprise if enterprise is not None and enterprise.revoked_at is None else None
