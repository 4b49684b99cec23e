"""The wire format of ticket messages: JSON with a schema version (never pickle).

A work queue holds one ticket per message. A bulk batch is staged as bundles, many tickets a message, so
that accepting 10,000 items costs the broker a few dozen confirms instead of 10,000 (on a 2-core machine
a quorum queue confirms only a few thousand messages a second); the release step later splits each
bundle into single tickets on the work queue.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from queue_config.errors import MessageRejected

SCHEMA_VERSION = 1


class TicketMessage(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    ticket_id: str
    kind: str
    citizen_id: str
    payload: dict[str, Any]
    created_at: float
    batch_id: str | None = None


class TicketBundle(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    tickets: list[TicketMessage]


# A message carrying this header (any value) is a ``TicketBundle``; without it, one ``TicketMessage``.
BUNDLE_HEADER = "x-ticketgate-bundle"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TicketMessage)
_bundle_decoder = msgspec.json.Decoder(TicketBundle)


def encode(message: TicketMessage) -> bytes:
    return _encoder.encode(message)


_Versioned = TypeVar("_Versioned", TicketMessage, TicketBundle)


def _checked(decoder: msgspec.json.Decoder[_Versioned], body: bytes, what: str) -> _Versioned:
    try:
        decoded = decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MessageRejected(f"undecodable {what}: {exc}") from exc
    if decoded.v != SCHEMA_VERSION:
        raise MessageRejected(f"unsupported {what} version {decoded.v}")
    return decoded


def decode(body: bytes) -> TicketMessage:
    return _checked(_decoder, body, "ticket message")


def encode_bundle(tickets: list[TicketMessage]) -> bytes:
    return _encoder.encode(TicketBundle(tickets=tickets))


def decode_bundle(body: bytes) -> list[TicketMessage]:
    return _checked(_bundle_decoder, body, "ticket bundle").tickets
