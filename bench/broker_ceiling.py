"""``python -m bench.broker_ceiling``: the broker's own intake, the ceiling for any front door.

A pipelined publisher with hundreds of persistent messages in flight, each confirmed, into a fresh
quorum queue of its own (deleted afterwards); with ``--queues N``, into N such queues, each publisher
connection to its own queue (and, when ``--amqp-url`` lists the nodes of a cluster, to the next node),
which is what sharding one kind over N queues would buy. It talks aiormq directly, below aio-pika's message
objects, so what it measures is RabbitMQ on this machine rather than the client library.

Prints one JSON line: ``{"messages", "seconds", "per_second", "connections", "in_flight", "queues",
"broker_cpu_ms_per_message"}``; the last is the CPU (user + system) of the broker nodes at the URLs, when
they run on this machine (else null).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Sequence

import aiormq
import orjson
from pamqp.commands import Basic
from yarl import URL

from bench.server_usage import cpu_seconds, listening_pids
from queue_config.amqp_nodes import node_urls
from queue_config.settings import Settings

_BODY = orjson.dumps(
    {
        "ticket_id": "x" * 40,
        "kind": "payment",
        "citizen_id": "11010519491231002X",
        "payload": {"scheme": "pension", "amount_cents": 12345, "period": "2026-11"},
        "created_at": 1.0,
    }
)


async def _publisher(url: str, queue: str, count: int, in_flight: int) -> None:
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        properties = Basic.Properties(delivery_mode=2, content_type="application/json")
        window = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with window:
                confirm = await channel.basic_publish(_BODY, routing_key=queue, properties=properties)
                if not isinstance(confirm, Basic.Ack):
                    raise RuntimeError(f"not confirmed: {confirm!r}")

        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await connection.close()


async def measure(
    url: str, messages: int, connections: int, in_flight: int, queues: int = 1
) -> dict[str, float | None]:
    nodes = node_urls(url)
    names = [f"bench-ceiling-{uuid.uuid4().hex[:8]}" for _ in range(queues)]
    # Each queue declared through another node: with leader locator "client-local" or "balanced" the
    # leaders spread over the cluster.
    admins = [await aiormq.connect(nodes[i % len(nodes)]) for i in range(queues)]
    try:
        channels = [await admin.channel() for admin in admins]
        for channel, queue in zip(channels, names, strict=True):
            await channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        share = messages // connections
        brokers = listening_pids({URL(u).port or 5672 for u in nodes})
        cpu_before = cpu_seconds(brokers)
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _publisher(nodes[i % len(nodes)], names[i % queues], share, in_flight)
                for i in range(connections)
            )
        )
        seconds = time.perf_counter() - began
        cpu = cpu_seconds(brokers) - cpu_before
        for channel, queue in zip(channels, names, strict=True):
            await channel.queue_delete(queue)
    finally:
        for admin in admins:
            await admin.close()
    total = share * connections
    return {
        "messages": total,
        "seconds": round(seconds, 3),
        "per_second": round(total / seconds, 1),
        "connections": connections,
        "in_flight": in_flight,
        "queues": queues,
        "broker_cpu_ms_per_message": round(1000 * cpu / (share * connections), 4) if brokers else None,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_ceiling", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--in-flight", type=int, default=500, help="unconfirmed messages per connection")
    parser.add_argument("--queues", type=int, default=1, help="queues the connections spread over")
    parser.add_argument("--amqp-url", default=Settings.from_env().amqp_url, help="one node, or a cluster's")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.amqp_url, args.messages, args.connections, args.in_flight, args.queues))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
