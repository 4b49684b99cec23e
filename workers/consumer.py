"""A consumer per queue: its own channel, prefetch equal to its concurrency, and a clean drain on stop.
Each kind has one on each of its work-queue shards (tickets to process; the kind's concurrency split
over them) and one on its staging queue (bulk bundles to split onto the work queue).

Shutdown order matters: stop taking deliveries first, then let in-flight tickets finish (within a bound)
while the connection stays open so their acks can still reach the broker, and only then close it.
Whatever is still unfinished at the bound goes back to the queue when the channel closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from queue_config.broker import BrokerLink
from queue_config.messages import tickets_in
from queue_config.observability import metrics
from queue_config.topology import Topology

log = structlog.get_logger("consumer")

# The longest a stopping consumer waits for one broker call (cancel, channel close).
BROKER_CALL_SECONDS = 2.0


class MessageProcessor(Protocol):
    async def process(self, message: AbstractIncomingMessage) -> None: ...


class KindConsumer:
    def __init__(
        self,
        kind: str,
        topology: Topology,
        *,
        broker: BrokerLink,
        processor: MessageProcessor,
        concurrency: int,
        staging: bool = False,
        shard: int = 0,
    ) -> None:
        self.kind = kind
        self._topology = topology
        self._broker = broker
        self._processor = processor
        self._concurrency = concurrency
        self._staging = staging
        names = topology.names
        self.queue_name = names.staging_queue(kind) if staging else names.queue(kind, shard)
        self._arguments: dict[str, aio_pika.abc.FieldValue] = (
            topology.window_queue_arguments() if staging else topology.main_queue_arguments()
        )
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._held = 0

    @property
    def inflight(self) -> int:
        """Tickets this consumer holds (a bundle counts its tickets), for the capacity reports."""
        return self._held

    async def start(self, *, consume: bool = True) -> None:
        self._channel = await self._broker.channel(prefetch=self._concurrency)
        # Declared, not merely looked up: the robust channel restores only queues it declared, and with
        # them their consumers, after the broker comes back.
        self._queue = await self._channel.declare_queue(
            self.queue_name, durable=True, arguments=self._arguments
        )
        if consume:
            self._tag = await self._queue.consume(self._on_message)
        log.info(
            "consumer_started",
            queue=self.queue_name,
            concurrency=self._concurrency,
            paused=not consume,
        )

    async def pause(self) -> None:
        """Stop taking deliveries (maintenance); tickets already taken finish."""
        if self._queue is not None and self._tag is not None:
            tag, self._tag = self._tag, None
            await self._queue.cancel(tag)
            log.info("consumer_paused", queue=self.queue_name)

    async def resume(self) -> None:
        if self._queue is not None and self._tag is None:
            self._tag = await self._queue.consume(self._on_message)
            log.info("consumer_resumed", queue=self.queue_name)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Prefetch bounds how many of these run at once; each runs as its own task so one slow core
        # call never holds up the deliveries behind it.
        task = asyncio.create_task(self._run(message))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, message: AbstractIncomingMessage) -> None:
        # Tickets taken for processing count as in flight; staged bundles being split do not.
        gauge = None if self._staging else metrics.IN_FLIGHT.labels(self.kind)
        held = 0 if self._staging else tickets_in(message.headers)
        self._held += held
        if gauge is not None:
            gauge.inc(held)
        try:
            await self._processor.process(message)
        except Exception:
            # Hand the message back now rather than hold it (and a prefetch slot) until the channel
            # closes; if the broker is what failed, the channel's close hands it back all the same.
            # The ticket's idempotency makes the redelivery safe.
            log.exception("message_processing_crashed", queue=self.queue_name)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        finally:
            self._held -= held
            if gauge is not None:
                gauge.dec(held)

    async def stop(self, grace_seconds: float) -> None:
        # With the broker gone, aio-pika's robust channel holds every call until it reconnects: a
        # worker told to stop then waited out its whole stop timeout (30 s). Nothing is delivered
        # without a connection, so there is nothing to cancel, and the calls that remain get a bound.
        if self._queue is not None and self._tag is not None and self._broker.ready:
            try:
                async with asyncio.timeout(BROKER_CALL_SECONDS):
                    await self._queue.cancel(self._tag)
            except Exception as exc:  # the broker may already be gone; nothing left to cancel then
                log.warning("consumer_cancel_failed", kind=self.kind, error=repr(exc))
        if self._inflight:
            log.info("draining", kind=self.kind, inflight=len(self._inflight))
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._channel is not None:
            try:
                async with asyncio.timeout(BROKER_CALL_SECONDS):
                    await self._channel.close()
            except Exception as exc:  # unacked messages go back when the broker drops the connection
                log.warning("consumer_channel_close_failed", kind=self.kind, error=repr(exc))
