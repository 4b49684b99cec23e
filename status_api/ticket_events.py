"""Wake long-polling readers when a ticket changes.

Workers publish every transition's ticket ID on one Redis channel. Each status process holds a single
subscription and wakes only the readers of that ticket, instead of one subscription per waiting request.
Readers also re-read on a short timer, so a message missed during a Redis reconnect delays an answer by
at most that timer, never forever.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from queue_config.stores.notices import Notices

log = structlog.get_logger("ticket_events")


class TicketEvents:
    def __init__(self, notices: Notices) -> None:
        self._notices = notices
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="ticket-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, ticket_id: str, timeout: float) -> bool:
        """True when an event for ``ticket_id`` arrived within ``timeout`` seconds."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(ticket_id, set())
        waiters.add(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters.discard(future)
            if not waiters:
                self._waiters.pop(ticket_id, None)

    def _wake(self, ticket_id: str) -> None:
        for future in self._waiters.get(ticket_id, ()):
            if not future.done():
                future.set_result(None)

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with self._notices.ticket_changes() as changes:
                    while True:
                        ticket_id = await changes.next(timeout=5.0)
                        if ticket_id is not None:
                            self._wake(ticket_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("events_subscription_lost", error=repr(exc))
                await asyncio.sleep(1.0)
