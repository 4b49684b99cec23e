"""Ticket IDs: 128 random bits plus an 80-bit HMAC-SHA256 tag under the server secret.

A forged or mistyped ID fails the tag check and is answered 404 without a Redis round-trip, so guessing
IDs costs an attacker everything and the store nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

_RANDOM_BYTES = 16
_TAG_BYTES = 10
_CONTEXT = b"ticketgate/ticket-id/v1:"
ID_LENGTH = 42  # base32 of 26 bytes, without padding


class TicketIds:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("ticket secret must be at least 16 bytes")
        self._secret = secret

    def mint(self) -> str:
        raw = secrets.token_bytes(_RANDOM_BYTES)
        return _b32(raw + self._tag(raw))

    def verify(self, ticket_id: str) -> bool:
        if len(ticket_id) != ID_LENGTH:
            return False
        try:
            blob = base64.b32decode(ticket_id.upper() + "======")
        except (binascii.Error, ValueError):
            return False
        raw, tag = blob[:_RANDOM_BYTES], blob[_RANDOM_BYTES:]
        return hmac.compare_digest(tag, self._tag(raw))

    def scope(self, value: str) -> str:
        """A keyed digest of a client identifier (resident ID, enterprise ID) for use in Redis keys,
        so the keys never hold a resident ID and cannot be reversed by enumerating the ID space."""
        return hmac.new(self._secret, b"scope:" + value.encode(), hashlib.sha256).hexdigest()[:32]

    def _tag(self, raw: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + raw, hashlib.sha256).digest()[:_TAG_BYTES]


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()
