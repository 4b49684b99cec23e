"""Releasing booked bulk items when their window opens: every front door runs this, one at a time per
window (a short Redis lock), moving the window queue's messages into the kind's work queue.

Each message's ticket is marked ``queued`` (with its place in line), the message is published to the work
exchange and confirmed, and only then acked in the window queue; a door that dies half-way leaves the rest
unacked, the lock expires, and another door finishes the window. A message published twice that way is
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
from redis.asyncio import Redis

from queue_config.broker import BrokerLink
from queue_config.names import Names
from queue_config.periodic import Periodic
from queue_config.ticket_store import TicketStore, as_text

log = structlog.get_logger("window_release")

LOCK_MS = 30_000
DELETE_GRACE_SECONDS = 60.0
CHUNK = 200


class WindowRelease:
    def __init__(
        self, redis: Redis, names: Names, broker: BrokerLink, store: TicketStore, interval: float = 1.0
    ) -> None:
        self._redis = redis
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
        due = await self._redis.zrangebyscore(self._names.bulk_windows, "-inf", time.time(), start=0, num=20)
        moved = 0
        for raw in due:
            member = as_text(raw)  # type: ignore[arg-type]  # plain members: no scores asked for
            kind, _, start = member.partition(":")
            lock = f"{self._names.bulk_windows}:lock:{kind}:{start}"
            if not await self._redis.set(lock, b"1", nx=True, px=LOCK_MS):
                continue  # another door is releasing it
            try:
                moved += await self._release(kind, int(start), member)
            finally:
                await self._redis.delete(lock)
        self.released += moved
        return moved

    async def _release(self, kind: str, start: int, member: str) -> int:
        queue_name = self._names.window_queue(kind, start)
        channel = await self._broker.channel(prefetch=CHUNK)
        moved = 0
        try:
            queue = await channel.declare_queue(queue_name, passive=True)
            while True:
                batch: list[AbstractIncomingMessage] = []
                while len(batch) < CHUNK and (message := await queue.get(fail=False)) is not None:
                    batch.append(message)
                if not batch:
                    break
                await asyncio.gather(*(self._move(kind, m) for m in batch))
                moved += len(batch)
            if time.time() >= start + DELETE_GRACE_SECONDS:
                await self._retire(channel, queue_name, member)
        except Exception as exc:
            if "NOT_FOUND" in repr(exc):
                # Deleted by another door after it emptied it: only the calendar entry is left.
                await self._redis.zrem(self._names.bulk_windows, member)
            else:
                raise
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        if moved:
            log.info("window_released", kind=kind, window_start=start, items=moved)
        return moved

    async def _move(self, kind: str, message: AbstractIncomingMessage) -> None:
        ticket_id = message.message_id or ""
        # Marked queued first: a worker may take the message the moment it is published. Should the
        # publish fail, the message goes back to the window queue and is moved again next step.
        await self._store.release(ticket_id, kind)
        await self._broker.publish(message.body, routing_key=kind, message_id=ticket_id)
        await message.ack()

    async def _retire(self, channel: AbstractChannel, queue_name: str, member: str) -> None:
        raw = await channel.get_underlay_channel()
        declared = await raw.queue_declare(queue_name, passive=True)
        if declared.message_count:
            return  # a late booking arrived: released at the next step
        await raw.queue_delete(queue_name)
        await self._redis.zrem(self._names.bulk_windows, member)
