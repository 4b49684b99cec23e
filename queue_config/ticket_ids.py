"""Ticket IDs: 128 random bits, the key shard the ticket lives in (``queue_config.key_shards``), and a
72-bit HMAC-SHA256 tag over both under the server secret.

A forged or mistyped ID fails the tag check and is answered 404 without a Redis round-trip, so guessing
IDs costs an attacker everything and the store nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets

from queue_config.key_shards import KEY_SHARDS

_RANDOM_BYTES = 16
_TAG_BYTES = 9
# v2: the shard byte joined the ID (and the tag gave up a byte for it, keeping IDs 42 characters).
_CONTEXT = b"ticketgate/ticket-id/v2:"
ID_LENGTH = 42  # base32 of 26 bytes, without padding


class TicketIds:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("ticket secret must be at least 16 bytes")
        self._secret = secret

    def mint(self, shard: int = 0) -> str:
        """A new ID in key shard ``shard`` (the shard of its client's scope)."""
        raw = secrets.token_bytes(_RANDOM_BYTES) + bytes((shard,))
        return _b32(raw + self._tag(raw))

    def verify(self, ticket_id: str) -> bool:
        if len(ticket_id) != ID_LENGTH:
            return False
        try:
            blob = base64.b32decode(ticket_id.upper() + "======")
        except (binascii.Error, ValueError):
            return False
        raw, tag = blob[: _RANDOM_BYTES + 1], blob[_RANDOM_BYTES + 1 :]
        return hmac.compare_digest(tag, self._tag(raw))

    def scope(self, value: str) -> str:
        """A keyed digest of a client identifier (resident ID, enterprise ID) for use in Redis keys,
        so the keys never hold a resident ID and cannot be reversed by enumerating the ID space."""
        return hmac.new(self._secret, b"scope:" + value.encode(), hashlib.sha256).hexdigest()[:32]

    def derived_key(self, purpose: str) -> bytes:
        """A key for another of the server's MACs (proof-of-work challenges), derived from the secret
        so every process shares it and none of them can be turned into the ticket IDs' key."""
        return hmac.new(self._secret, b"derive:" + purpose.encode(), hashlib.sha256).digest()

    def _tag(self, raw: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + raw, hashlib.sha256).digest()[:_TAG_BYTES]


@functools.lru_cache(maxsize=8192)  # one ticket's keys are named several times per request
def shard_of(ticket_id: str) -> int:
    """The key shard an ID (ticket or batch) was minted in; 0 for a string that is no such ID (a test's
    made-up ID), which is then simply looked up in shard 0. No secret needed: the shard is not secret."""
    if len(ticket_id) != ID_LENGTH:
        return 0
    try:
        return base64.b32decode(ticket_id.upper() + "======")[_RANDOM_BYTES] % KEY_SHARDS
    except (binascii.Error, ValueError):
        return 0


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()
