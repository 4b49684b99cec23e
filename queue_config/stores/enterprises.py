"""Enterprises: who may post bulk batches, with what quota, and the key that proves it.

An enterprise's API key and webhook secret are shown once, when it is created. Only a SHA-256 of the
key is stored: a key carries 256 random bits, so a plain hash is as good as a slow password hash here
and keeps authentication one Redis read. The webhook secret is stored as is, because signing a callback
needs it. The front door (bulk intake) and the status API (batch status) authenticate through this
module, so both read the same records.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.ticket_store import as_text, store_call

KEY_PREFIX = "tge_"
DEFAULT_QUOTA_PER_MINUTE = 100_000


class Enterprise(msgspec.Struct, frozen=True, kw_only=True):
    enterprise_id: str
    name: str
    quota_per_minute: int
    key_hash: str
    key_hint: str  # the key's first characters, so an operator can tell keys apart in a list
    webhook_secret: str
    created_at: float
    revoked_at: float | None = None

    def public(self) -> dict[str, object]:
        """What an operator's listing shows: everything but the secrets."""
        return {
            "enterprise_id": self.enterprise_id,
            "name": self.name,
            "quota_per_minute": self.quota_per_minute,
            "key_hint": self.key_hint,
            "created_at": self.created_at,
            "revoked": self.revoked_at is not None,
            "revoked_at": self.revoked_at,
        }


class NewEnterprise(msgspec.Struct, frozen=True, kw_only=True):
    enterprise: Enterprise
    api_key: str


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token of an ``Authorization`` header, or None. Only printable ASCII is a token: aiohttp
    hands header bytes that are not UTF-8 over as surrogates, which cannot even be hashed."""
    given = headers.get("Authorization", "")
    token = given[7:].strip() if given[:7].lower() == "bearer " else ""
    return token if token and token.isascii() and token.isprintable() else None


_decoder = msgspec.json.Decoder(Enterprise)


class EnterpriseStore:
    def __init__(self, redis: Redis, names: Names, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.names = names
        self._clock = clock

    @store_call
    async def create(self, name: str, quota_per_minute: int) -> NewEnterprise:
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        enterprise = Enterprise(
            enterprise_id="ent_" + secrets.token_hex(8),
            name=name,
            quota_per_minute=quota_per_minute,
            key_hash=key_hash(api_key),
            key_hint=api_key[:10],
            webhook_secret="whsec_" + secrets.token_urlsafe(32),
            created_at=round(self._clock(), 3),
        )
        n = self.names
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(n.enterprise(enterprise.enterprise_id), msgspec.json.encode(enterprise))
            pipe.set(n.enterprise_key(enterprise.key_hash), enterprise.enterprise_id)
            pipe.sadd(n.enterprises, enterprise.enterprise_id)
            await pipe.execute()
        return NewEnterprise(enterprise=enterprise, api_key=api_key)

    @store_call
    async def get(self, enterprise_id: str) -> Enterprise | None:
        raw = await self.redis.get(self.names.enterprise(enterprise_id))
        return _decoder.decode(raw) if raw else None

    @store_call
    async def all(self) -> list[Enterprise]:
        ids = sorted(as_text(m) for m in await self.redis.smembers(self.names.enterprises))
        if not ids:
            return []
        raws = await self.redis.mget([self.names.enterprise(i) for i in ids])
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
        n = self.names
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(n.enterprise_key(enterprise.key_hash))
            pipe.set(n.enterprise(enterprise_id), msgspec.json.encode(enterprise))
            await pipe.execute()
        return enterprise

    @store_call
    async def authenticate(self, api_key: str | None) -> Enterprise | None:
        """The live enterprise this key belongs to, or None (unknown, malformed or revoked)."""
        if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > 128:
            return None
        enterprise_id = await self.redis.get(self.names.enterprise_key(key_hash(api_key)))
        if enterprise_id is None:
            return None
        enterprise = await self.get(as_text(enterprise_id))
        return enterprise if enterprise is not None and enterprise.revoked_at is None else None
