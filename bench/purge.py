"""``python -m bench.purge NAMESPACE``: delete a namespace's queues, exchanges and Redis keys.

For benchmark and test runs, which each use a namespace of their own."""

from __future__ import annotations

import asyncio
import sys

import aio_pika
from redis.asyncio import Redis

from queue_config.amqp_nodes import node_urls
from queue_config.errors import ArchiveUnavailable
from queue_config.kinds import KINDS
from queue_config.settings import Settings
from queue_config.stores.postgres.archive import PostgresArchive
from queue_config.stores.redis.client import connect
from queue_config.topology import Topology


async def purge_namespace(settings: Settings, redis: Redis) -> None:
    topology = Topology.from_settings(settings)
    connection = None  # broker gone: nothing to delete there
    for url in node_urls(settings.amqp_url):
        try:
            connection = await aio_pika.connect(url, timeout=10)
            break
        except (aio_pika.exceptions.AMQPError, OSError):
            continue
    names = topology.names
    # Window queues exist only while bulk items are booked into them; the calendar knows which.
    members: list[bytes] = await redis.zrange(names.bulk_windows, 0, -1)  # type: ignore[assignment]
    windows = [m.decode().split(":") for m in members]
    if connection is not None:
        async with connection:
            channel = await connection.channel()
            for name in topology.all_queue_names():
                await channel.queue_delete(name)
            for kind in KINDS:  # deleting a queue that does not exist is no error
                for ttl in topology.delay_ttls():
                    await channel.queue_delete(names.legacy_delay_queue(kind, ttl))
            for kind, start in windows:
                await channel.queue_delete(names.window_queue(kind, int(start)))
            await channel.exchange_delete(topology.names.work_exchange)
            await channel.exchange_delete(topology.names.dead_exchange)
            await channel.exchange_delete(topology.names.delay_exchange)
    if settings.database_url:
        archive = PostgresArchive(settings.database_url, settings.namespace)
        try:
            await archive.forget_namespace()
        except ArchiveUnavailable:
            pass  # no archive answering: nothing of this namespace is in it
        finally:
            await archive.close()
    keys = [key async for key in redis.scan_iter(f"{settings.namespace}:*", count=1000)]
    for i in range(0, len(keys), 500):
        # One DEL a key: on Redis Cluster the keys are in many slots (the pipeline sends each to its node).
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys[i : i + 500]:
                pipe.delete(key)
            await pipe.execute()


async def _main(namespace: str) -> None:
    settings = Settings.from_env().replace(namespace=namespace)
    redis = connect(settings)
    try:
        await purge_namespace(settings, redis)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
