"""The wire format of a ticket message: JSON with a schema version (never pickle)."""

from __future__ import annotations

from typing import Any

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


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TicketMessage)


def encode(message: TicketMessage) -> bytes:
    return _encoder.encode(message)


def decode(body: bytes) -> TicketMessage:
    try:
        message = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MessageRejected(f"undecodable ticket message: {exc}") from exc
    if message.v != SCHEMA_VERSION:
        raise MessageRejected(f"unsupported ticket message version {message.v}")
    return message
