"""Enterprises and their keys (only a hash of each key is kept).

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Protocol

import msgspec

from queue_config.web.http import iso_utc

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
            "created_at": iso_utc(self.created_at),
            "revoked": self.revoked_at is not None,
            "revoked_at": None if self.revoked_at is None else iso_utc(self.revoked_at),
        }


class NewEnterprise(msgspec.Struct, frozen=True, kw_only=True):
    enterprise: Enterprise
    api_key: str


KEY_PREFIX = "tge_"


def new_enterprise(name: str, quota_per_minute: int, now: float) -> NewEnterprise:
    """A new enterprise with fresh secrets: its API key (kept only as a hash) and webhook secret."""
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    enterprise = Enterprise(
        enterprise_id="ent_" + secrets.token_hex(8),
        name=name,
        quota_per_minute=quota_per_minute,
        key_hash=key_hash(api_key),
        key_hint=api_key[:10],
        webhook_secret="whsec_" + secrets.token_urlsafe(32),
        created_at=round(now, 3),
    )
    return NewEnterprise(enterprise=enterprise, api_key=api_key)


def plausible_key(api_key: str | None) -> bool:
    """Whether ``api_key`` could be one of ours at all: anything else is refused without a lookup."""
    return api_key is not None and api_key.startswith(KEY_PREFIX) and len(api_key) <= 128


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def bearer(headers: Mapping[str, str]) -> str | None:
    """The bearer token of an ``Authorization`` header, or None. Only printable ASCII is a token: aiohttp
    hands header bytes that are not UTF-8 over as surrogates, which cannot even be hashed."""
    given = headers.get("Authorization", "")
    token = given[7:].strip() if given[:7].lower() == "bearer " else ""
    return token if token and token.isascii() and token.isprintable() else None


class EnterpriseStore(Protocol):
    """Enterprises and their keys (only a hash of each key is kept)."""

    async def create(self, name: str, quota_per_minute: int) -> NewEnterprise: ...

    async def get(self, enterprise_id: str) -> Enterprise | None: ...

    async def all(self) -> list[Enterprise]: ...

    async def revoke(self, enterprise_id: str) -> Enterprise | None:
        """Revoke the enterprise's key at once; its record (and its batches) stay readable to operators."""

    async def authenticate(self, api_key: str | None) -> Enterprise | None:
        """The live enterprise this key belongs to, or None (unknown, malformed or revoked)."""
