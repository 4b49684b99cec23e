"""What goes into the ticket store and what comes out of it: the new ticket a reservation takes, the
commit of a promise, the outcome of a reservation or an attempt, and a ticket's record as read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from queue_config.kinds import Status


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Reservation(StrEnum):
    CREATED = "created"  # a new record: publish the message, then commit
    EXISTING = "existing"  # same idempotency key, same body: answer with that ticket
    DUPLICATE = "duplicate"  # identical to an open ticket of the same client: answer with that ticket
    CONFLICT = "conflict"  # same idempotency key, another body: 409


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What a reservation needs: the minted ID, and the keys that find a repeat of this submission.
    The ID must be minted in the scope's key shard (``TicketIds.mint(shard_of_scope(scope))``): a repeat
    is looked for among the tickets of that shard."""

    ticket_id: str
    kind: str
    scope: str  # keyed digest of the client (resident ID or enterprise) its idempotency is scoped to
    body_digest: str
    idempotency_digest: str | None
    masked_client: str
    batch_id: str | None = None
    scheduled: bool = False  # booked for a later window: it takes its place in line when released
    # Its place in the kind's line (sequence number) as the front door estimates it from the counters it
    # last read (``EtaEstimator.place``); None: the store reads the counters itself.
    place: int | None = None


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
    # Keyed digest of the client that submitted it (``TicketIds.scope``): whose token reads its result.
    owner: str | None = None
    citizen: str | None = None  # the resident ID, masked (the citizen's page shows it)
    promised_by: float | None = None  # the 90th-percentile ETA its 202 promised (unix time)


# Finishes are counted in buckets of this many seconds (the finish rate, ETA and calibration read them).
RATE_BUCKET_SECONDS = 5


class TicketStore(Protocol):
    """Ticket records and every status transition, each one atomic, with the counters they move."""

    async def reserve(self, new: NewTicket) -> tuple[Reservation, str, int | None]:
        """Reserve a new ticket, or find the one this submission repeats (see ``Reservation``)."""

    async def reserve_many(
        self, kind: str, scope: str, batch_id: str, tickets: Sequence[NewTicket]
    ) -> list[tuple[Reservation, str, int | None]]:
        """``reserve`` for many tickets of one kind, scope and batch, in a few pipelined calls."""

    async def commit(
        self,
        ticket_id: str,
        kind: str,
        promised_by: float | None = None,
        *,
        promise_model: float | None = None,
        scheduled_for: float | None = None,
    ) -> None:
        """Mark a reserved ticket queued, or ``scheduled`` for a later window; ``promised_by`` is the p90
        deadline its client was given, ``promise_model`` the model's p90 (seconds) before calibration."""

    async def commit_many(self, kind: str, tickets: Sequence[Commit]) -> None:
        """``commit`` for many tickets of one kind."""

    async def release(self, ticket_ids: Sequence[str], kind: str) -> None:
        """Tickets whose messages are now in the kind's work queue: a ``scheduled`` one (its window opened)
        becomes ``queued`` and takes its place in line; any other is left as it is."""

    async def replay(self, ticket_id: str, kind: str) -> bool:
        """Queue a failed ticket again with a fresh attempt budget; False unless it was failed."""

    async def discard(
        self, ticket_id: str, kind: str, *, scope: str, body_digest: str, idempotency_digest: str | None
    ) -> None: ...

    async def eta_outcomes(self, kind: str) -> tuple[int, int]:
        """(hits, misses): finished tickets of ``kind`` within and beyond their promised p90."""

    async def get(self, ticket_id: str) -> TicketRecord | None: ...

    async def statuses(self, ticket_ids: Sequence[str]) -> list[Status | None]:
        """Each ticket's stored status (``accepting`` included), None for one without a record."""

    async def dead_letters(self, kind: str, limit: int) -> tuple[int, list[tuple[str, float]]]:
        """How many tickets of ``kind`` failed, and the newest ``limit`` of them with when they failed."""

    async def failed_at(self, kind: str, ticket_id: str) -> float | None: ...

    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int, int]:
        """Tickets of ``kind`` queued in all (every place in line given out), finished in all, and
        finished in the given ``RATE_BUCKET_SECONDS`` buckets."""

    async def begin_attempt(
        self, ticket_id: str, *, kind: str, created_at: float, masked_client: str
    ) -> Attempt:
        """Mark the ticket ``processing`` and count the attempt; a terminal status is returned as is,
        so a redelivered message of a finished ticket is acked without touching the core system."""

    async def mark_retrying(
        self, ticket_id: str, kind: str, error: Any, *, due: float, message: bytes
    ) -> None:
        """Record the core's transient answer; ``message`` is kept until it is back at a worker, which
        it should be by ``due`` (``sweep_retries`` hands out the overdue ones)."""

    async def sweep_retries(self, kind: str, *, limit: int, rearm_seconds: float) -> list[tuple[str, bytes]]:
        """Tickets of ``kind`` whose message is overdue from its delay queue, each with its message,
        re-armed so that it is handed out again only after ``rearm_seconds`` (doubling each time)."""

    async def finish(
        self,
        ticket_id: str,
        kind: str,
        *,
        result: Any = None,
        error: Any = None,
        batch_id: str | None = None,
    ) -> bool:
        """Record ``done`` (with ``result``) or ``failed`` (with ``error``); False if already final."""
