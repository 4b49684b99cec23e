"""The archive of finished tickets: where a done ticket's record goes when it leaves Redis, kept for the
retention period and read through when Redis no longer holds the ticket.

The Protocol every archive implements (``queue_config.stores.postgres``) and what it takes and gives.
A record is archived as the field map Redis held, so a ticket read from the archive answers the same
document as it did from Redis (``record_fields.ticket_record`` reads both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ArchivedTicket:
    ticket_id: str
    finished_at: float  # unix seconds: the retention runs from here
    fields: Mapping[str, str]  # the record's fields as Redis held them


class TicketArchive(Protocol):
    async def store(self, tickets: Sequence[ArchivedTicket]) -> None:
        """Keep these records (a record stored again replaces the one before: moving is idempotent)."""

    async def fetch(self, ticket_ids: Sequence[str]) -> dict[str, Mapping[str, str]]:
        """The archived fields of those of ``ticket_ids`` the archive holds; raises ``ArchiveUnavailable``
        when it cannot tell (never an empty answer that would read as "no such ticket")."""

    async def expire(self, finished_before: float, limit: int) -> int:
        """Delete up to ``limit`` records of tickets finished before ``finished_before``; how many."""

    async def forget_namespace(self) -> int:
        """Delete every record of this namespace (tests and benchmarks clean up with it)."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DoneTicket:
    ticket_id: str
    finished_at: float
    fields: Mapping[str, str] | None  # None: its record is gone already (expired)


class DoneTickets(Protocol):
    """The live store's side of a move: which done tickets are due to leave, and letting them go."""

    async def claim(self, shard: int, holder: str, ms: int) -> bool:
        """Take or renew the lease on moving shard ``shard``; False while another holder has it (every
        worker process runs a mover, and one at a time per shard saves the others the same work)."""

    async def done_before(self, shard: int, before: float, limit: int) -> list[DoneTicket]:
        """Up to ``limit`` tickets of key shard ``shard`` done before ``before``, oldest first."""

    async def forget(self, shard: int, moved: Sequence[DoneTicket]) -> int:
        """Delete the records of ``moved`` that are unchanged since read, and unlist all of them; how
        many records were deleted."""
