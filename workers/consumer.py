"""A consumer per kind: its own channel, prefetch equal to its concurrency, and a clean drain on stop.

Shutdown order matters: stop taking deliveries first, then let in-flight tickets finish (within a bound)
while the connection stays open so their acks can still reach the broker, and only then close it.
Whatever is still unfinished at the bound goes back to the queue when the channel closes.
"""

from __future__ import annotations

import asyncio

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from queue_config import metrics
from queue_config.broker import BrokerLink
from queue_config.topology import Topology
from workers.processor import Processor

log = structlog.get_logger("consumer")


class KindConsumer:
    def __init__(
        self, kind: str, topology: Topology, *, broker: BrokerLink, processor: Processor, concurrency: int
    ) -> None:
        self.kind = kind
        self._topology = topology
        self._broker = broker
        self._processor = processor
        self._concurrency = concurrency
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def start(self, *, consume: bool = True) -> None:
        self._channel = await self._broker.channel(prefetch=self._concurrency)
        # Declared, not merely looked up: the robust channel restores only queues it declared, and with
        # them their consumers, after the broker comes back.
        self._queue = await self._channel.declare_queue(
            self._topology.names.queue(self.kind),
            durable=True,
            arguments=self._topology.main_queue_arguments(),
        )
        if consume:
            self._tag = await self._queue.consume(self._on_message)
        log.info("consumer_started", kind=self.kind, concurrency=self._concurrency, paused=not consume)

    async def pause(self) -> None:
        """Stop taking deliveries (maintenance); tickets already taken finish."""
        if self._queue is not None and self._tag is not None:
            tag, self._tag = self._tag, None
            await self._queue.cancel(tag)
            log.info("consumer_paused", kind=self.kind)

    async def resume(self) -> None:
        if self._queue is not None and self._tag is None:
            self._tag = await self._queue.consume(self._on_message)
            log.info("consumer_resumed", kind=self.kind)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Prefetch bounds how many of these run at once; each runs as its own task so one slow core
        # call never holds up the deliveries behind it.
        task = asyncio.create_task(self._run(message))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, message: AbstractIncomingMessage) -> None:
        gauge = metrics.IN_FLIGHT.labels(self.kind)
        gauge.inc()
        try:
            await self._processor.process(message)
        except Exception:
            # The message stays unacked and returns to the queue when the channel closes or the
            # broker's consumer timeout fires; the ticket's idempotency makes that safe.
            log.exception("ticket_processing_crashed", kind=self.kind)
        finally:
            gauge.dec()

    async def stop(self, grace_seconds: float) -> None:
        if self._queue is not None and self._tag is not None:
            try:
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
            await self._channel.close()
