"""Publishing the tickets that concurrent requests accept as one message per kind and event-loop turn.

Hand-written because no AMQP client batches the publishes of different callers. py-spy of a front door
at 1,000 connections showed a quarter of its time in publishing one message per ticket (aio-pika's
message, aiormq's frames, a socket write and a confirm each), and RabbitMQ a fifth of the machine
confirming them. Now every ticket of a kind that reaches a door in the same turn of its loop travels in
one bundle (``queue_config.messages``): one publish, one confirm, and each caller still hears whether
its own ticket is safely queued. A ticket alone in its turn, the usual case off-peak, is published as a
plain single message.

A 202 keeps its meaning: each caller awaits the broker's confirm of the message carrying its ticket.
"""

from __future__ import annotations

import asyncio

from queue_config.broker import BrokerLink
from queue_config.messages import BUNDLE_HEADER, TicketMessage, encode, encode_bundle

# Tickets a bundle holds at most. A worker processes a bundle in place and holds all its tickets until
# the last is settled, so bundles stay small enough for the work of many to spread over many workers.
MAX_BUNDLE = 50

_Waiting = tuple[TicketMessage, "asyncio.Future[None]"]


class PublishBundler:
    def __init__(self, broker: BrokerLink) -> None:
        self._broker = broker
        self._pending: dict[str, list[_Waiting]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, ticket: TicketMessage) -> None:
        """Return once the broker confirmed the message carrying ``ticket``; raise as its publish did."""
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.setdefault(ticket.kind, []).append((ticket, confirmed))
        await confirmed

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for kind, waiting in pending.items():
            for start in range(0, len(waiting), MAX_BUNDLE):
                task = asyncio.create_task(self._send(kind, waiting[start : start + MAX_BUNDLE]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, kind: str, waiting: list[_Waiting]) -> None:
        tickets = [ticket for ticket, _ in waiting]
        try:
            if len(tickets) == 1:
                await self._broker.publish(
                    encode(tickets[0]), routing_key=kind, message_id=tickets[0].ticket_id
                )
            else:
                await self._broker.publish(
                    encode_bundle(tickets),
                    routing_key=kind,
                    message_id=tickets[0].ticket_id,
                    headers={BUNDLE_HEADER: len(tickets)},
                )
        except BaseException as exc:  # every caller of this bundle hears of it, and discards its ticket
            for _, confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for _, confirmed in waiting:
            if not confirmed.done():
                confirmed.set_result(None)
