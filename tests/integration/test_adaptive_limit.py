"""The workers' adaptive concurrency limit against the real core simulator (its own process): it settles
well below the workers' maximum, backs off when the core slows down and stays down while it is slow, and
comes back up when the core recovers."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bench.private_rabbit import free_port
from bench.readiness import wait_http
from queue_config.settings import Settings
from tests.support.processes import start_component
from workers.core_calls.concurrency_limit import AdaptiveLimit, LimitParams
from workers.core_calls.core_client import CoreError, HttpCoreClient
from workers.core_calls.limited_core import LimitedCore

CALLERS = 64


@pytest.fixture
async def core_url(settings: Settings, http: aiohttp.ClientSession) -> AsyncIterator[str]:
    port = free_port()
    process = start_component(
        "bench.coresim",
        settings,
        log_name="adaptive-core",
        CORE_PORT=str(port),
        CORE_SLOTS="8",
        CORE_SERVICE_MS="40",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(http, url + "/v1/ledger", 30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_the_limit_follows_the_core_down_and_back_up(
    core_url: str, http: aiohttp.ClientSession
) -> None:
    limit = AdaptiveLimit(LimitParams(initial=4, max_limit=CALLERS, bucket_seconds=1.0, window_buckets=5))
    client = HttpCoreClient(core_url, timeout_seconds=30, max_connections=CALLERS)
    core = LimitedCore(client, {"payment": limit})
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async def caller(c: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with contextlib.suppress(CoreError):
                await core.execute("payment", f"adaptive-{c}-{n}-{time.time()}", {"payload": {}})

    async def sampler() -> None:
        while not stop.is_set():
            samples.append((time.monotonic(), limit.limit))
            await asyncio.sleep(0.05)

    async def settle(seconds: float) -> float:
        """The median limit over the second half of the next ``seconds``."""
        start = time.monotonic()
        await asyncio.sleep(seconds)
        return statistics.median(v for t, v in samples if t >= start + seconds / 2)

    async def set_slots(n: int) -> None:
        async with http.put(core_url + "/v1/capacity", json={"slots": n}) as response:
            assert response.status == 200

    tasks = [asyncio.create_task(caller(c)) for c in range(CALLERS)] + [asyncio.create_task(sampler())]
    try:
        # Given 64 callers against a core with 8 slots: the limit settles far below 64
        healthy = await settle(5)
        assert 4 <= healthy <= 24, healthy

        # When the core loses three quarters of its capacity, so its latency climbs
        await set_slots(2)
        degraded = await settle(8)
        # Then the limit comes down with it
        assert degraded < 0.6 * healthy, (healthy, degraded)
        # And it stays down while the core stays slow (no drift back up)
        still_degraded = await settle(6)
        assert still_degraded < 0.6 * healthy, (healthy, still_degraded)

        # When the core recovers, the limit rises again
        await set_slots(8)
        recovered = await settle(5)
        assert recovered > 1.5 * still_degraded, (still_degraded, recovered)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
