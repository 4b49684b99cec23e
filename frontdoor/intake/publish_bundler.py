"""Publishing the tickets that concurrent requests accept as one message per kind and event-loop turn.

The coalescing is the script batcher's (``queue_config.aio.turn_batches``), by kind. py-spy of a front door
at 1,000 connections showed a quarter of its time in publishing one message per ticket (aio-pika's
message, aiormq's frames, a socket write and a confirm each), and RabbitMQ a fifth of the machine
confirming them. Now every ticket of a kind that reaches a door in the same turn of its loop travels in
one bundle (``queue_config.messages``): one publish, one confirm, and each caller still hears whether
its own ticket is safely queued. A ticket alone in its turn, the usual case off-peak, is published as a
plain single message.

A 202 keeps its meaning: each caller awaits the broker's confirm of the message carrying its ticket.
"""

from __future__ import annotations

from queue_config.aio.turn_batches import TurnBatches
from queue_config.broker import BrokerLink
from queue_config.messages import BUNDLE_HEADER, TicketMessage, encode, encode_bundle

# Tickets a bundle holds at most. A worker processes a bundle in place and holds all its tickets until
# the last is settled, so bundles stay small enough for the work of many to spread over many workers.
MAX_BUNDLE = 50


class PublishBundler:
    def __init__(self, broker: BrokerLink) -> None:
        self._broker = broker
        self._batches: TurnBatches[str, TicketMessage, None] = TurnBatches(self._send, MAX_BUNDLE)

    async def publish(self, ticket: TicketMessage) -> None:
        """Return once the broker confirmed the message carrying ``ticket``; raise as its publish did."""
        await self._batches.call(ticket.kind, ticket)

    async def _send(self, kind: str, tickets: list[TicketMessage]) -> list[None]:
        # A failed publish raises, and every caller of this bundle hears of it (and discards its ticket).
        if len(tickets) == 1:
            await self._broker.publish(encode(tickets[0]), routing_key=kind, message_id=tickets[0].ticket_id)
        else:
            await self._broker.publish(
                encode_bundle(tickets),
                routing_key=kind,
                message_id=tickets[0].ticket_id,
                headers={BUNDLE_HEADER: len(tickets)},
            )
        return [None] * len(tickets)
