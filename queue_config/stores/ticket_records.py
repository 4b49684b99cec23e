"""What goes into the ticket store and what comes out of it: the new ticket a reservation takes, the
commit of a promise, the outcome of a reservation or an attempt, and a ticket's record as read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from queue_config.kinds import Status


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Reservation(StrEnum):
    CREATED = "created"  # a new record: publish the message, then commit
    EXISTING = "existing"  # same idempotency key, same body: answer with that ticket
    DUPLICATE = "duplicate"  # identical to an open ticket of the same client: answer with that ticket
    CONFLICT = "conflict"  # same idempotency key, another body: 409


def reservation(reply: list[Any]) -> tuple[Reservation, str, int | None]:
    """The outcome of a RESERVE call: what happened, the ticket ID, and its place in line if it has one."""
    seq = int(reply[2]) if len(reply) > 2 else None
    return Reservation(as_text(reply[0])), as_text(reply[1]), seq


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What a reservation needs: the minted ID, and the keys that find a repeat of this submission."""

    ticket_id: str
    kind: str
    scope: str  # keyed digest of the client (resident ID or enterprise) its idempotency is scoped to
    body_digest: str
    idempotency_digest: str | None
    masked_client: str
    batch_id: str | None = None
    scheduled: bool = False  # booked for a later window: it takes its place in line when released


@dataclass(frozen=True, slots=True)
class Commit:
    """One ticket of ``commit_many``: the promise its client was given, or the window it is booked in."""

    ticket_id: str
    promised_by: float | None = None
    promise_model: float | None = None  # the model's p90 (seconds) behind the promise, before calibration
    scheduled_for: float | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What ``begin_attempt`` found: the status (terminal ones as they are), the attempts begun, this one
    included, and the transient failures the core answered: the retry budget counts only those, so a
    worker killed or a broker restarted mid-attempt spends none of it."""

    status: Status
    begun: int
    failures: int


@dataclass(frozen=True, slots=True)
class TicketRecord:
    ticket_id: str
    kind: str
    status: Status
    attempts: int
    seq: int | None
    created_at: float
    updated_at: float
    result: Any = None
    error: Any = None
    batch: str | None = None
    scheduled_for: float | None = None

    @classmethod
    def from_hash(cls, ticket_id: str, raw: Mapping[Any, Any]) -> TicketRecord:
        f = {as_text(k): as_text(v) for k, v in raw.items()}
        return cls(
            ticket_id=ticket_id,
            kind=f.get("kind", ""),
            status=Status(f.get("status", "queued")),
            attempts=int(f.get("attempts", "0")),
            seq=int(f["seq"]) if "seq" in f else None,
            created_at=float(f.get("created_at", "0")),
            updated_at=float(f.get("updated_at", "0")),
            result=orjson.loads(f["result"]) if "result" in f else None,
            error=orjson.loads(f["error"]) if "error" in f else None,
            batch=f.get("batch"),
            scheduled_for=float(f["scheduled_for"]) if "scheduled_for" in f else None,
        )
