"""What the reserve scripts are given and answer: the keys a submission is found by (its client's
idempotency and dedupe keys under the names its store format writes, and under the other format's, read
too during an upgrade) and the outcome of each reservation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from queue_config.names import Names
from queue_config.stores.redis.record_fields import stored_citizen
from queue_config.stores.tickets import NewTicket, Reservation, as_text


@dataclass(frozen=True, slots=True)
class FoundBy:
    idempotency: str  # "" without an Idempotency-Key, as every key below
    dedupe: str
    other_idempotency: str  # the names the other store format writes (``Names.other_*``)
    other_dedupe: str

    @classmethod
    def of(cls, names: Names, new: NewTicket) -> FoundBy:
        key = new.idempotency_digest
        return cls(
            idempotency=names.idempotency(new.scope, key) if key else "",
            dedupe=names.dedupe(new.scope, new.body_digest),
            other_idempotency=names.other_idempotency(new.scope, key) if key else "",
            other_dedupe=names.other_dedupe(new.scope, new.body_digest),
        )


def bulk_item(names: Names, new: NewTicket) -> str:
    """One ticket's argument of ``ticket_reserve_many.lua`` (its fields in the script's order)."""
    found = FoundBy.of(names, new)
    return "\t".join(
        (
            new.ticket_id,
            new.body_digest,
            found.idempotency,
            stored_citizen(new.masked_client, names.store_format),
            "1" if new.scheduled else "",
            found.dedupe,
            found.other_idempotency,
            found.other_dedupe,
        )
    )


def reservation(reply: list[Any]) -> tuple[Reservation, str, int | None]:
    """The outcome of a RESERVE call: what happened, the ticket ID, and its place in line if it has one."""
    seq = int(reply[2]) if len(reply) > 2 else None
    return Reservation(as_text(reply[0])), as_text(reply[1]), seq


def reservations(replies: Iterable[list[Any]]) -> list[tuple[Reservation, str, int | None]]:
    """The outcomes of RESERVE_MANY calls: three values a ticket (its place 0 when it has none)."""
    return [
        (Reservation(as_text(reply[i])), as_text(reply[i + 1]), int(reply[i + 2]) or None)
        for reply in replies
        for i in range(0, len(reply), 3)
    ]
