"""Splitting staged bulk bundles into single tickets on the kind's work queue.

A batch reaches RabbitMQ as bundles of many tickets (see ``queue_config.messages``), which keeps its
accept fast; workers then move each bundle's tickets onto the work queue one message each, confirmed,
and ack the bundle only after every one is confirmed. A worker that dies half-way leaves the bundle
unacked and it is moved again: a ticket published twice is harmless, since processing is idempotent by
ticket ID and a finished ticket is recognised before any core call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from aio_pika.abc import AbstractIncomingMessage

from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable, MessageRejected
from queue_config.messages import decode_bundle, encode

log = structlog.get_logger("bundle_mover")

# How long a bundle that could not be moved is held before it goes back to its queue.
REQUEUE_DELAY_SECONDS = 1.0


class BundleMover:
    def __init__(
        self,
        broker: BrokerLink,
        *,
        paused: Callable[[], bool] = lambda: False,
        requeue_delay: float = REQUEUE_DELAY_SECONDS,
    ) -> None:
        self._broker = broker
        self._paused = paused
        self._requeue_delay = requeue_delay

    async def process(self, message: AbstractIncomingMessage) -> None:
        if self._paused():
            await message.nack(requeue=True)  # maintenance: no new work enters the work queues
            return
        try:
            tickets = decode_bundle(message.body)
        except MessageRejected as exc:
            # Only ever written by our own front doors: requeueing it would spin on it for ever.
            log.error("bundle_undecodable", message_id=message.message_id, error=str(exc))
            await message.reject()
            return
        try:
            await asyncio.gather(
                *(
                    self._broker.publish(encode(t), routing_key=t.kind, message_id=t.ticket_id)
                    for t in tickets
                )
            )
        except BrokerUnavailable as exc:
            log.warning("bundle_not_moved", message_id=message.message_id, error=str(exc))
            # Not at once: while a restarted broker's publisher channels come back one by one, the
            # bundle came straight back, some of its tickets were published again on each pass and the
            # rest failed again. A CI chaos run saw 25 passes in a second and a dozen copies of one
            # ticket, processed side by side, whose attempts then counted as crashes.
            await asyncio.sleep(self._requeue_delay)
            await message.nack(requeue=True)
            return
        await message.ack()
