"""``python -m bench.baselines.asyncio_portal``: the straightforward asyncio version.

What a team writes first with the same tools: an aiohttp handler that validates like ticketgate, writes
the ticket record to Redis, publishes the message persistent with a publisher confirm (one request, one
publish, one confirm awaited), and answers 202. No admission control, no batching across requests.
Messages go to a quorum queue of its own (``BASELINE_QUEUE``), which the harness deletes afterwards.
Listens on ``BASELINE_PORT``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import orjson
from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from bench.baselines import INVALID, read_submission, serve

REDIS = web.AppKey("redis", Redis)
EXCHANGE = web.AppKey("exchange", aio_pika.abc.AbstractExchange)
QUEUE = os.environ.get("BASELINE_QUEUE", "bench-asyncio-portal")


async def submit(request: web.Request) -> web.Response:
    sub = await read_submission(request)
    if sub is None:
        return web.json_response(INVALID, status=422)
    ticket_id = uuid.uuid4().hex
    now = time.time()
    await request.app[REDIS].hset(
        f"{QUEUE}:ticket:{ticket_id}",
        mapping={"status": "queued", "kind": sub.kind, "created_at": now},
    )
    body = orjson.dumps({"ticket_id": ticket_id, "kind": sub.kind, "payload": sub.payload})
    await request.app[EXCHANGE].publish(
        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=ticket_id),
        routing_key=QUEUE,
    )
    return web.json_response({"ticket_id": ticket_id, "status": "queued"}, status=202)


async def _connections(app: web.Application) -> AsyncIterator[None]:
    # A bounded pool that waits for a free connection: redis-py's default pool refuses past its size.
    pool = BlockingConnectionPool.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), max_connections=128
    )
    redis = Redis(connection_pool=pool)
    connection = await aio_pika.connect_robust(
        os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    channel = await connection.channel(publisher_confirms=True)
    await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    app[REDIS] = redis
    app[EXCHANGE] = channel.default_exchange
    yield
    await connection.close()
    await redis.aclose()


def main() -> None:
    serve(submit, _connections, 8096)


if __name__ == "__main__":
    main()
