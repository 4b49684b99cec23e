"""Releasing booked bulk items when their window opens: every front door runs this, one at a time per
window (a short Redis lock), moving the window queue's bundles (``queue_config.messages.TicketBundle``)
into the kind's staging queue, where workers split them into single tickets on the work queue.

For each bundle the tickets are marked ``queued`` (each takes its place in line), the bundle is published
to the staging queue and confirmed, and only then acked in the window queue; a door that dies half-way
leaves it unacked, the lock expires, and another door moves it again. A ticket moved twice that way is
harmless: workers are idempotent by ticket ID.

A window queue is deleted once it has stayed empty ``DELETE_GRACE_SECONDS`` past its start. RabbitMQ
cannot delete a quorum queue "if empty" (it closes the whole connection with NOT_IMPLEMENTED), so the
grace is what protects a bulk request that booked the window before it opened and publishes late; a
publish after the deletion is unroutable, fails, and that request answers 503 rather than lose an item.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from queue_config.aio.periodic import Periodic
from queue_config.broker import BrokerLink
from queue_config.errors import MessageRejected
from queue_config.messages import BUNDLE_HEADER, decode_bundle, tickets_in
from queue_config.names import Names
from queue_config.stores.bulk_windows import BulkWindowStore
from queue_config.stores.tickets import TicketStore

log = structlog.get_logger("window_release")

LOCK_MS = 30_000
DELETE_GRACE_SECONDS = 60.0
CHUNK = 500  # tickets moved together


class WindowRelease:
    def __init__(
        self,
        windows: BulkWindowStore,
        names: Names,
        broker: BrokerLink,
        store: TicketStore,
        interval: float = 1.0,
    ) -> None:
        self._windows = windows
        self._names = names
        self._broker = broker
        self._store = store
        self._loop = Periodic("window-release", interval, self.step)
        self.released = 0

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def step(self) -> int:
        if not self._broker.ready:
            return 0
        moved = 0
        for member in await self._windows.due(limit=20):
            kind, _, start = member.partition(":")
            if not await self._windows.lock(member, LOCK_MS):
                continue  # another door is releasing it
            try:
                moved += await self._release(kind, int(start), member)
            finally:
                await self._windows.unlock(member)
        self.released += moved
        return moved

    async def _release(self, kind: str, start: int, member: str) -> int:
        queue_name = self._names.window_queue(kind, start)
        # A channel of its own: a NOT_FOUND (a window queue another door deleted) closes it.
        channel = await self._broker.channel(prefetch=CHUNK)
        try:
            moved = await self._drain(channel, kind, queue_name)
            if time.time() >= start + DELETE_GRACE_SECONDS:
                await self._retire(channel, queue_name, member)
        except Exception as exc:
            if "NOT_FOUND" in repr(exc):
                # Deleted by another door after it emptied it: only the calendar entry is left.
                await self._windows.opened(member)
                return 0
            raise
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        if moved:
            log.info("window_released", kind=kind, window_start=start, items=moved)
        return moved

    async def _drain(self, channel: AbstractChannel, kind: str, queue_name: str) -> int:
        queue = await channel.declare_queue(queue_name, passive=True)
        moved = 0
        while True:
            batch: list[AbstractIncomingMessage] = []
            items = 0
            while items < CHUNK and (message := await queue.get(fail=False)) is not None:
                batch.append(message)
                items += tickets_in(message.headers)
            if not batch:
                return moved
            moved += sum(await asyncio.gather(*(self._move(kind, m) for m in batch)))

    async def _move(self, kind: str, message: AbstractIncomingMessage) -> int:
        try:
            ticket_ids = [t.ticket_id for t in decode_bundle(message.body)]
        except MessageRejected:
            # Only ever written by our own front doors: requeueing it would spin on it for ever.
            log.error("bundle_undecodable", message_id=message.message_id)
            await message.reject()
            return 0
        try:
            # Marked queued first: a worker may take a ticket the moment it reaches the work queue.
            # Should the publish fail, the bundle goes back and is moved again (repeats are harmless).
            await self._store.release(ticket_ids, kind)
            await self._broker.publish(
                message.body,
                routing_key=self._names.staging_queue(kind),
                message_id=message.message_id or "",
                to_queue=True,
                headers={BUNDLE_HEADER: len(ticket_ids)},
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            raise
        await message.ack()
        return len(ticket_ids)

    async def _retire(self, channel: AbstractChannel, queue_name: str, member: str) -> None:
        raw = await channel.get_underlay_channel()
        declared = await raw.queue_declare(queue_name, passive=True)
        if declared.message_count:
            return  # a late booking arrived: released at the next step
        await raw.queue_delete(queue_name)
        await self._windows.opened(member)
