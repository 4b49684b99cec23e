"""The link to RabbitMQ that every component holds: one robust connection, opened in the background so
that a component starts (and answers 503) while the broker is down, and a confirming publisher.

Publishing: a small pool of confirm-mode channels shared by every request. Concurrent publishes on one
channel are pipelined by the broker (each awaits its own delivery tag), so a front door keeps hundreds
of confirms in flight instead of one round-trip per request in series.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import aio_pika
import aiormq
import structlog
from aio_pika import RobustConnection
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection, DeliveryMode
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from queue_config.amqp_nodes import FailoverConnection, node_urls
from queue_config.errors import BrokerUnavailable
from queue_config.messages import TicketMessage, encode
from queue_config.topology import Topology

log = structlog.get_logger("broker")

RECONNECT_INTERVAL_SECONDS = 1.0

OnConnect = Callable[[AbstractRobustConnection], Awaitable[None]]


async def _publish_pipelined(
    channel: AbstractChannel, exchange: str, message: aio_pika.Message, routing_key: str
) -> None:
    """``exchange.publish`` (mandatory, confirmed), without holding the channel while the frames are
    written. aio-pika's publish asks aiormq to wait until the connection's writer task has put the frames
    on the socket, under the channel's lock: every publish on a channel then took three turns of the
    event loop in series (queue, write, wake), which at half a door's maximum, with turns of a few
    milliseconds, was 65 ms of a submission's time waiting for a channel (``intake_stage=publish``,
    2026-12-05). The confirm, which is what makes a 202 true, is still awaited; the frames are ordered
    by the connection's write queue, which is bounded, so a slow socket still holds publishers back."""
    if channel.is_closed:
        raise ChannelInvalidStateError(f"{channel!r} closed")
    # aiormq's own channel class takes ``wait``; its abstract base does not declare it.
    underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
    await underlay.basic_publish(
        message.body,
        exchange=exchange,
        routing_key=routing_key,
        properties=message.properties,
        mandatory=True,
        wait=False,
    )


class BrokerLink:
    def __init__(
        self,
        url: str,
        topology: Topology,
        *,
        publisher_channels: int = 4,
        publish_timeout: float = 5.0,
        on_connect: OnConnect | None = None,
    ) -> None:
        self._url = url
        self._topology = topology
        self._publisher_channels = publisher_channels
        self._timeout = publish_timeout
        self._on_connect = on_connect
        self.connection: AbstractRobustConnection | None = None
        self._exchanges: list[AbstractExchange] = []
        self._default_exchanges: list[AbstractExchange] = []
        self._delay_exchanges: list[AbstractExchange] = []
        self._confirming: list[AbstractChannel] = []  # the channel of each pool's exchange, by index
        self._next = itertools.count()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._admin: AbstractChannel | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name="broker-connect")

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    @property
    def ready(self) -> bool:
        # ``connected`` is cleared the moment the transport is lost and set again on reconnect;
        # ``is_closed`` of a robust connection stays False throughout, so it alone cannot tell.
        connection = self.connection
        return (
            self._connected.is_set()
            and connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
        )

    async def _connect_forever(self) -> None:
        # The first connection is retried here forever; after it, aio-pika's robust connection restores
        # itself (and its channels) whenever the broker comes back.
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
            retry=retry_if_exception_type((AMQPError, OSError, asyncio.TimeoutError)),
        )
        nodes = node_urls(self._url)
        attempts = itertools.count(random.randrange(len(nodes)))
        async for attempt in retrying:
            with attempt:
                # Reconnect every second, not aio-pika's default 5 s: after a broker restart the doors
                # answered no 202 for up to 5 s after the node was back. With several nodes, each
                # attempt goes to the next one (``queue_config.amqp_nodes``).
                first = nodes[next(attempts) % len(nodes)]
                connection = await aio_pika.connect_robust(
                    first,
                    timeout=5,
                    reconnect_interval=RECONNECT_INTERVAL_SECONDS,
                    connection_class=FailoverConnection.with_nodes(nodes)
                    if len(nodes) > 1
                    else RobustConnection,
                )
        self.connection = connection
        async with connection.channel() as channel:
            await self._topology.declare(channel)
        for _ in range(self._publisher_channels):
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._confirming.append(channel)
            self._exchanges.append(
                await channel.get_exchange(self._topology.names.work_exchange, ensure=False)
            )
            self._default_exchanges.append(channel.default_exchange)
            self._delay_exchanges.append(
                await channel.get_exchange(self._topology.names.delay_exchange, ensure=False)
            )
        if self._on_connect is not None:
            await self._on_connect(connection)
        self._connected.set()
        log.info("broker_connected")

    async def channel(self, prefetch: int) -> AbstractChannel:
        if self.connection is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        return channel

    async def declare_queue(self, name: str, arguments: Mapping[str, aio_pika.abc.FieldValue]) -> None:
        """Declare a durable queue (idempotent) on a channel kept for such calls."""
        if not self.ready or self.connection is None:
            raise BrokerUnavailable("RabbitMQ is not connected")
        try:
            if self._admin is None or self._admin.is_closed:
                self._admin = await self.connection.channel()
            raw = await self._admin.get_underlay_channel()
            await raw.queue_declare(name, durable=True, arguments=dict(arguments))
        except (TimeoutError, AMQPError, ChannelInvalidStateError, OSError, RuntimeError) as exc:
            self._admin = None
            raise BrokerUnavailable(f"declare failed: {exc!r}") from exc

    async def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        to_queue: bool = False,
        delay_ms: int | None = None,
        headers: Mapping[str, aio_pika.abc.FieldValue] | None = None,
    ) -> None:
        """Publish a persistent message and wait for the broker's confirm.

        ``to_queue`` publishes straight to the queue named ``routing_key`` (the default exchange), as
        for a dead letter; otherwise ``routing_key`` is a kind and the message goes to the kind's next
        work-queue shard: now, or with ``delay_ms`` after waiting in the kind's delay queue of that TTL."""
        if not self.ready:
            raise BrokerUnavailable("RabbitMQ is not connected")
        message_headers = dict(headers or {})
        if to_queue:
            pool = self._default_exchanges
        elif delay_ms is not None:
            pool = self._delay_exchanges
            message_headers.update(self._topology.delay_headers(routing_key, delay_ms))
        else:
            pool = self._exchanges
        turn = next(self._next)
        exchange, channel = pool[turn % len(pool)], self._confirming[turn % len(pool)]
        if not to_queue:
            routing_key = self._topology.work_route(routing_key, turn)
        message = aio_pika.Message(
            body,
            delivery_mode=DeliveryMode.PERSISTENT,
            content_type="application/json",
            message_id=message_id,
            headers=message_headers,
        )
        try:
            # asyncio.timeout, not wait_for: wait_for wraps every publish in a task of its own (3 % of a
            # front door's time at a thousand publishes a second).
            async with asyncio.timeout(self._timeout):
                await _publish_pipelined(channel, exchange.name, message, routing_key)
        except (TimeoutError, AMQPError, ChannelInvalidStateError, OSError, RuntimeError) as exc:
            raise BrokerUnavailable(f"publish not confirmed: {exc!r}") from exc

    async def dead_letter(self, ticket: TicketMessage) -> None:
        """Put one ticket, as its own message, in its kind's dead-letter queue (confirmed): for tickets
        that came in a bundle, which cannot be rejected to the dead exchange for one of them."""
        await self.publish(
            encode(ticket),
            routing_key=self._topology.names.dead_queue(ticket.kind),
            message_id=ticket.ticket_id,
            to_queue=True,
        )

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.connection is not None:
            await self.connection.close()
