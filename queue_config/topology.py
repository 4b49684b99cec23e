"""The RabbitMQ topology, declared idempotently by every component at start.

Per kind:
- ``<ns>.<kind>`` (and ``<ns>.<kind>.q1`` … with ``QUEUE_SHARDS`` > 1): durable quorum work queues bound
  to the work exchange; rejected messages and those past ``x-delivery-limit`` go to the dead exchange.
  Each publisher deals its messages over a kind's shards in turn (per-door choice: no broker plugin,
  and bundles hold tickets of many key shards anyway); workers consume every shard. The first shard
  keeps the unsharded name and routing key, so one shard is the topology before sharding.
- ``<ns>.<kind>.retry.<ttl>ms``: quorum queues with a queue-level TTL that dead-letter back to the work
  exchange. RabbitMQ before 3.12 has no per-message TTL on quorum queues, and per-message TTL on any
  queue only expires at the head, so each (attempt level, jitter step) gets its own fixed-TTL queue:
  FIFO order then equals expiry order. Retries reach them through the headers exchange ``<ns>.delay``
  (bound on the kind and TTL headers) with the routing key of the work shard they return to: with no
  dead-letter routing key a message keeps its own, so retries are dealt over the shards like first
  attempts (one dead-letter routing key per delay queue sent them all to the first shard).
- ``<ns>.<kind>.dead``: durable quorum dead-letter queue that operators inspect and replay.
- ``<ns>.<kind>.bulk``: quorum queue of bundles of bulk items that may run now
  (``frontdoor.bulk.window_release``
  moves them to the work queue); booked items wait in ``<ns>.<kind>.window.<start>`` queues, declared
  when a batch books them.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType

from queue_config.kinds import KINDS
from queue_config.names import Names
from queue_config.settings import Settings


@dataclass(frozen=True, slots=True)
class Topology:
    names: Names
    delivery_limit: int
    queue_shards: int
    delay_ttls_ms: tuple[tuple[int, ...], ...]
    """``delay_ttls_ms[level]`` are the jitter steps after the ``level + 1``-th failed attempt."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        levels = []
        for level in range(max(settings.max_attempts - 1, 0)):
            base = min(settings.retry_base_seconds * 2**level, settings.retry_max_seconds)
            jitter = settings.retry_base_seconds
            steps = settings.retry_jitter_steps
            levels.append(
                tuple(
                    round(1000 * min(base + jitter * j / steps, settings.retry_max_seconds))
                    for j in range(steps)
                )
            )
        return cls(Names(settings.namespace), settings.delivery_limit, settings.queue_shards, tuple(levels))

    def work_queues(self, kind: str) -> list[str]:
        return [self.names.queue(kind, shard) for shard in range(self.queue_shards)]

    def work_route(self, kind: str, turn: int) -> str:
        """The routing key of the shard of ``kind`` whose turn ``turn`` is."""
        return self.names.work_route(kind, turn % self.queue_shards)

    def delay_ttl_for(self, attempt: int, wanted_seconds: float) -> int:
        """The declared TTL closest to ``wanted_seconds`` for a retry after ``attempt`` attempts."""
        steps = self.delay_ttls_ms[min(attempt, len(self.delay_ttls_ms)) - 1]
        wanted_ms = wanted_seconds * 1000
        return min(steps, key=lambda ttl: abs(ttl - wanted_ms))

    def main_queue_arguments(self) -> dict[str, aio_pika.abc.FieldValue]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.names.dead_exchange,
            # Dead-lettering stays at-most-once here on purpose. At-least-once (3.10+) starts a DLX
            # worker per queue, and on 3.10 a burst of those (many queues created, or all recovered at
            # once after a restart) wedged our broker: see rabbitmq-server#16652. Operators on a broker
            # where it is mature enable it with a policy (dead-letter-strategy, overflow), which needs
            # no change to these declared arguments.
        }

    def delay_queue_arguments(self, ttl_ms: int) -> dict[str, aio_pika.abc.FieldValue]:
        return {
            "x-queue-type": "quorum",
            "x-message-ttl": ttl_ms,
            "x-dead-letter-exchange": self.names.work_exchange,
        }

    @staticmethod
    def delay_headers(kind: str, ttl_ms: int) -> dict[str, aio_pika.abc.FieldValue]:
        """What the delay exchange routes on; strings, so the binding and the message compare equal
        whatever integer width each encoder picks."""
        return {"tg-kind": kind, "tg-delay": f"{ttl_ms}ms"}

    def delay_ttls(self) -> list[int]:
        return sorted({ttl for level in self.delay_ttls_ms for ttl in level})

    def window_queue_arguments(self) -> dict[str, aio_pika.abc.FieldValue]:
        # A quorum queue like the others: a booked bulk item is as durable as a queued one.
        return {"x-queue-type": "quorum"}

    async def declare(self, channel: AbstractChannel) -> None:
        names = self.names
        work = await channel.declare_exchange(names.work_exchange, ExchangeType.DIRECT, durable=True)
        dead = await channel.declare_exchange(names.dead_exchange, ExchangeType.DIRECT, durable=True)
        delay = await channel.declare_exchange(names.delay_exchange, ExchangeType.HEADERS, durable=True)
        # The work queues first, shard by shard across the kinds: a broker placing leaders "balanced"
        # gives consecutive declarations to different nodes, so a kind's shards (and the kinds' first
        # shards) land on different nodes. Declared kind by kind, each kind's dozen queues put every
        # kind's first shard on the same node.
        for shard in range(self.queue_shards):
            for kind in KINDS:
                main = await channel.declare_queue(
                    names.queue(kind, shard), durable=True, arguments=self.main_queue_arguments()
                )
                await main.bind(work, routing_key=names.work_route(kind, shard))
        for kind in KINDS:
            dead_queue = await channel.declare_queue(
                names.dead_queue(kind), durable=True, arguments={"x-queue-type": "quorum"}
            )
            for shard in range(self.queue_shards):
                # Dead-lettered messages keep the routing key they came with.
                await dead_queue.bind(dead, routing_key=names.work_route(kind, shard))
            await channel.declare_queue(
                names.staging_queue(kind), durable=True, arguments=self.window_queue_arguments()
            )
            for ttl in self.delay_ttls():
                delay_queue = await channel.declare_queue(
                    names.delay_queue(kind, ttl), durable=True, arguments=self.delay_queue_arguments(ttl)
                )
                await delay_queue.bind(
                    delay, routing_key="", arguments={"x-match": "all", **self.delay_headers(kind, ttl)}
                )

    def delay_queue_names(self, kind: str) -> list[str]:
        return [self.names.delay_queue(kind, ttl) for ttl in self.delay_ttls()]

    def all_queue_names(self) -> list[str]:
        out: list[str] = []
        for kind in KINDS:
            out += self.work_queues(kind)
            out += [self.names.dead_queue(kind), self.names.staging_queue(kind)]
            out += self.delay_queue_names(kind)
        return out
