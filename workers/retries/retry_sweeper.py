"""Republishes retrying tickets whose message never came back from its delay queue.

A retry waits in a delay queue whose TTL dead-letters the message back to the work exchange. RabbitMQ
dead-letters at most once, so a message on that internal hop when the broker stops (even gracefully:
17 of 300 in a stop_app/start_app of 8 s) is gone, and its ticket stayed ``retrying`` for ever. The
worker keeps a copy of the message with the ticket until the ticket is back at a worker, in an index
scored by when it is due (``TicketStore.mark_retrying``); every worker process sweeps its kinds' index
and publishes the overdue copies to the work queue, confirmed. A copy republished for a message that
was only slow is processed like any redelivery: the ticket is found finished and acked, or the core
call repeats under the same idempotency key, so no effect happens twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from queue_config.aio.periodic import Periodic
from queue_config.broker import BrokerLink
from queue_config.errors import BackendUnavailable
from queue_config.stores.tickets import TicketStore

log = structlog.get_logger("retry_sweeper")

SWEEP_BATCH = 200
# Seconds before a republished ticket may be republished again (doubling each time): its copy, too,
# needs time to get through a long work queue.
REARM_SECONDS = 60.0


class RetrySweeper:
    def __init__(
        self,
        store: TicketStore,
        broker: BrokerLink,
        kinds: Sequence[str],
        *,
        interval: float = 5.0,
        rearm_seconds: float = REARM_SECONDS,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self._store = store
        self._broker = broker
        self._kinds = list(kinds)
        self._rearm = rearm_seconds
        self._paused = paused
        self._loop = Periodic("retry-sweeper", interval, self.sweep)
        self.republished = 0

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def sweep(self) -> int:
        """Republish every overdue ticket of our kinds; the number republished."""
        if not self._broker.ready or self._paused():
            # They stay overdue in the index until the broker is back; in maintenance nobody consumes,
            # so every retry's message waits in its work queue and a copy would only add a duplicate.
            return 0
        count = 0
        for kind in self._kinds:
            if self._paused():
                break  # maintenance began during this sweep
            overdue = await self._store.sweep_retries(kind, limit=SWEEP_BATCH, rearm_seconds=self._rearm)
            for ticket_id, message in overdue:
                try:
                    await self._broker.publish(message, routing_key=kind, message_id=ticket_id)
                except BackendUnavailable as exc:
                    # Re-armed already: the next sweep after the re-arm tries again.
                    log.warning("retry_republish_failed", ticket_id=ticket_id, error=str(exc))
                    continue
                count += 1
                log.warning("retry_message_republished", ticket_id=ticket_id, kind=kind)
        self.republished += count
        return count
