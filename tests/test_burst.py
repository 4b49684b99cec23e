"""A burst far above the Redis pool size is waited out, not refused: every submission gets its 202."""

from __future__ import annotations

import asyncio

import aiohttp
from redis.asyncio import Redis

from queue_config.settings import Settings
from tests.support.system import start_system, submission


async def test_a_burst_of_concurrent_submissions_is_all_accepted_and_queued_once(
    fresh_namespace: Settings, redis: Redis
) -> None:
    # A client without aiohttp's default 100-connection cap, so 500 requests are truly concurrent
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Given a front door with only 4 Redis connections for hundreds of concurrent requests
        settings = fresh_namespace.replace(redis_max_connections=4)
        system = await start_system(settings, http, redis, status=False, workers=False)
        try:
            # When 500 distinct submissions arrive at once
            replies = await asyncio.gather(*(system.submit(submission("payment", n)) for n in range(500)))
            # Then every one is accepted and queued exactly once
            codes = [code for code, _, _ in replies]
            assert codes.count(202) == 500, {c: codes.count(c) for c in set(codes)}
            assert len({doc["ticket_id"] for _, doc, _ in replies}) == 500
            assert await system.queue_depth(system.names.queue("payment")) == 500
        finally:
            await system.stop()
