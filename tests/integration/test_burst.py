"""A burst far above the Redis pool size is waited out, not refused: every submission gets its 202, and
its tickets share bundle messages and confirms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from frontdoor.app_keys import BROKER
from queue_config.settings import Settings
from tests.support.system import start_system, submission


@pytest.fixture
async def wide_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client without aiohttp's default 100-connection cap, so hundreds of requests are concurrent."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        yield http


async def test_a_burst_of_concurrent_submissions_is_all_accepted_and_queued_once(
    fresh_namespace: Settings, redis: Redis, wide_http: aiohttp.ClientSession
) -> None:
    # Given a front door with only 4 Redis connections for hundreds of concurrent requests
    settings = fresh_namespace.replace(redis_max_connections=4)
    system = await start_system(settings, wide_http, redis, status=False, workers=False)
    try:
        # When 500 distinct submissions arrive at once
        replies = await asyncio.gather(*(system.submit(submission("payment", n)) for n in range(500)))
        # Then every one is accepted and queued exactly once
        codes = [code for code, _, _ in replies]
        assert codes.count(202) == 500, {c: codes.count(c) for c in set(codes)}
        issued = sorted(doc["ticket_id"] for _, doc, _ in replies)
        assert len(set(issued)) == 500
        assert sorted(await system.queued_ticket_ids(system.names.queue("payment"))) == issued
    finally:
        await system.stop()


async def test_concurrent_submissions_share_bundles_and_confirms(
    fresh_namespace: Settings, redis: Redis, wide_http: aiohttp.ClientSession
) -> None:
    # Given a front door with a single publisher channel, whose publishes we count
    settings = fresh_namespace.replace(publisher_channels=1)
    system = await start_system(settings, wide_http, redis, status=False, workers=False)
    try:
        assert system.frontdoor is not None
        broker = system.frontdoor.app[BROKER]
        (exchange,) = broker._exchanges
        publishes = 0
        original = exchange.publish

        async def counting_publish(*args: object, **kwargs: object) -> object:
            nonlocal publishes
            publishes += 1
            return await original(*args, **kwargs)  # type: ignore[call-overload]  # returns once confirmed

        exchange.publish = counting_publish  # type: ignore[method-assign, assignment]

        # When 200 submissions arrive together
        replies = await asyncio.gather(*(system.submit(submission("transfer", n)) for n in range(200)))

        # Then all are accepted and queued, in far fewer messages (and confirms) than tickets
        assert [code for code, _, _ in replies].count(202) == 200
        queued = await system.queued_ticket_ids(system.names.queue("transfer"))
        assert sorted(queued) == sorted(doc["ticket_id"] for _, doc, _ in replies)
        assert publishes <= 100, publishes
    finally:
        await system.stop()
