"""The wire format of ticket messages: JSON with a schema version (never pickle).

A message holds one ticket, or a bundle of many, marked by a header: on a 2-core machine a quorum queue
confirms only a few thousand messages a second, and publishing one message per ticket was a quarter of a
front door's time. A front door bundles the submissions of one kind that reach it in the same turn of
its event loop (``frontdoor.intake.publish_bundler``), and workers process a bundle in place; a bulk batch is
staged as bundles of 200, which workers split onto the work queue.
"""

from __future__ import annotations

from collections.abc import Mapping
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


# A message with this header is a ``TicketBundle`` of that many tickets; without it, one ``TicketMessage``.
BUNDLE_HEADER = "x-ticketgate-bundle"


def tickets_in(headers: Mapping[str, Any] | None) -> int:
    """How many tickets a message carries, from its headers alone (without decoding its body)."""
    value = (headers or {}).get(BUNDLE_HEADER)
    return max(1, int(value)) if isinstance(value, int) and not isinstance(value, bool) else 1


def is_bundle(headers: Mapping[str, Any] | None) -> bool:
    return BUNDLE_HEADER in (headers or {})


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
