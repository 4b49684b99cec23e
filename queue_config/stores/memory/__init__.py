"""The stores in process memory: the unit tests' back end. Each store mirrors its Redis implementation
(``queue_config.stores.redis``); the contract tests in ``tests/`` run the same cases against both."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from queue_config.names import Names
from queue_config.planning.throttle import Throttle
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.memory.batches import MemoryBatchStore
from queue_config.stores.memory.shared_state import (
    MemoryAuditLog,
    MemoryBulkWindowStore,
    MemoryCapacityBoard,
    MemoryControlStore,
    MemoryEnterpriseStore,
    MemoryLimiter,
    MemoryNotices,
    MemorySpentProofs,
    MemoryThrottleStore,
    MemoryTrafficStore,
)
from queue_config.stores.memory.tickets import MemoryTicketStore
from queue_config.ticket_ids import TicketIds


def memory_stores(settings: Settings | None = None, *, clock: Callable[[], float] = time.time) -> Stores:
    settings = settings or Settings()
    notices = MemoryNotices()
    batches = MemoryBatchStore(clock)
    tickets = MemoryTicketStore(batches, lambda ticket_id: notices.announce("tickets", ticket_id), clock)
    batches.records = tickets.records
    throttle = MemoryThrottleStore(Throttle.defaults(settings))
    control = MemoryControlStore(tickets, throttle, clock)
    ids = TicketIds((settings.ticket_secret or secrets.token_hex(32)).encode())

    async def secret(_: Settings) -> TicketIds:
        return ids

    async def probe() -> bool:
        return True

    async def close() -> None:
        return None

    return Stores(
        names=Names(settings.namespace),
        tickets=tickets,
        throttle=throttle,
        control=control,
        traffic=MemoryTrafficStore(tickets),
        capacity=MemoryCapacityBoard(),
        enterprises=MemoryEnterpriseStore(clock),
        batches=batches,
        limiter=MemoryLimiter(clock),
        windows=MemoryBulkWindowStore(control, clock),
        audit=MemoryAuditLog(notices, clock),
        notices=notices,
        proofs=MemorySpentProofs(clock),
        archive=None,
        done=None,
        secret=secret,
        probe=probe,
        close=close,
    )
