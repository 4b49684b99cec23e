"""Background steps stop when asked, even a step that swallows its cancellation (as an aiormq channel
being opened did, which kept a front door alive after SIGTERM)."""

from __future__ import annotations

import asyncio

from queue_config.aio.periodic import Periodic


async def test_a_step_that_swallows_cancellation_cannot_keep_the_loop_alive() -> None:
    steps = 0

    async def stubborn() -> None:
        nonlocal steps
        steps += 1
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            raise RuntimeError("channel closed") from None  # what a library may turn a cancel into

    loop = Periodic("stubborn", 0.05, stubborn)
    await loop.start()
    await asyncio.sleep(0.1)
    await asyncio.wait_for(loop.stop(), 2)
    seen = steps
    await asyncio.sleep(0.5)
    assert steps == seen  # no step ran after stop


async def test_a_failing_step_is_retried_next_period() -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("redis away")

    loop = Periodic("flaky", 0.05, flaky)
    await loop.start()
    await asyncio.sleep(0.4)
    await loop.stop()
    assert calls >= 3
