"""Every store a process uses, opened together: the one place that knows which back end holds shared
state. A process asks for ``Stores`` and sees only the Protocols; ``queue_config.stores.redis`` is the
production back end, ``queue_config.stores.memory`` the one unit tests use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.archive import DoneTickets, TicketArchive
from queue_config.stores.audit import AuditLog
from queue_config.stores.batches import BatchStore
from queue_config.stores.bulk_windows import BulkWindowStore
from queue_config.stores.capacity import CapacityBoard
from queue_config.stores.control import ControlStore
from queue_config.stores.enterprises import EnterpriseStore
from queue_config.stores.limiter import Limiter
from queue_config.stores.notices import Notices
from queue_config.stores.proofs import SpentProofs
from queue_config.stores.throttle import ThrottleStore
from queue_config.stores.tickets import TicketStore
from queue_config.stores.traffic import TrafficStore
from queue_config.ticket_ids import TicketIds


@dataclass(frozen=True, slots=True, kw_only=True)
class Stores:
    names: Names
    tickets: TicketStore
    throttle: ThrottleStore
    control: ControlStore
    traffic: TrafficStore
    capacity: CapacityBoard
    enterprises: EnterpriseStore
    batches: BatchStore
    limiter: Limiter
    windows: BulkWindowStore
    audit: AuditLog
    notices: Notices
    proofs: SpentProofs
    # Where done tickets go when they leave the live store, and the live store's side of the move;
    # None where there is no archive (``DATABASE_URL`` empty, or the in-memory back end).
    archive: TicketArchive | None
    done: DoneTickets | None
    # The ticket ID codec's secret: the configured one, or one kept for every process to share.
    secret: Callable[[Settings], Awaitable[TicketIds]]
    # Whether the back end serves data now (``/readyz``).
    probe: Callable[[], Awaitable[bool]]
    close: Callable[[], Awaitable[None]]

    @classmethod
    def open(cls, settings: Settings, *, coalesce: bool = False) -> Stores:
        """The back end ``settings`` name. ``coalesce``: concurrent requests' script calls share one
        round trip per event-loop turn, as a front door wants at a thousand requests a second."""
        from queue_config.stores.redis.backend import redis_stores  # only this layer knows Redis

        return redis_stores(settings, coalesce=coalesce)

    async def ticket_ids(self, settings: Settings) -> TicketIds:
        """The ticket ID codec; without TICKET_SECRET this waits for the store that keeps the secret."""
        return await self.secret(settings)
