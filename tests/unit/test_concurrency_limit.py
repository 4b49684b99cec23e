"""The adaptive limit on its own, with a virtual clock and a scripted core: it grows while latency stays
near the no-load level, cuts when latency rises, does not drift back up while the core stays slow, and
never holds more calls than its limit."""

from __future__ import annotations

import asyncio

from workers.core_calls.concurrency_limit import AdaptiveLimit, LimitParams


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _rounds(limit: AdaptiveLimit, clock: Clock, latency: float, seconds: float) -> list[float]:
    """Keep the limit full for ``seconds`` of virtual time with calls taking ``latency``; the limit seen
    after each round of calls."""
    seen = []
    end = clock.now + seconds
    while clock.now < end:
        n = max(1, int(limit.limit))
        for _ in range(n):
            await limit.acquire()
        clock.now += latency
        for _ in range(n):
            limit.release(latency)
        seen.append(limit.limit)
    return seen


async def test_it_grows_while_fast_and_cuts_when_slow_without_drifting_back() -> None:
    clock = Clock()
    limit = AdaptiveLimit(LimitParams(initial=4, max_limit=64), clock=clock)

    # While the core answers in 100 ms the limit grows to the maximum
    fast = await _rounds(limit, clock, 0.1, 30)
    assert fast[-1] == 64

    # When latency triples it is cut at once (the first round still mixes in fast calls)
    slow = await _rounds(limit, clock, 0.3, 60)
    assert slow[0] < 64 and slow[2] <= 32
    # And a minute of the same slowness does not let it creep back
    assert max(slow[12:]) <= 8, slow

    # When the core recovers, it grows again
    recovered = await _rounds(limit, clock, 0.1, 30)
    assert recovered[-1] == 64


async def test_a_timeout_cuts_the_limit_and_a_fixed_limit_never_moves() -> None:
    clock = Clock()
    limit = AdaptiveLimit(LimitParams(initial=10, max_limit=64), clock=clock)
    await limit.acquire()
    limit.release(5.0, dropped=True)
    assert limit.limit == 9.0

    fixed = AdaptiveLimit(LimitParams(max_limit=16, adaptive=False), clock=clock)
    await _rounds(fixed, clock, 0.1, 5)
    await _rounds(fixed, clock, 1.0, 5)
    assert fixed.limit == 16 and fixed.latency is not None


async def test_callers_beyond_the_limit_wait_their_turn() -> None:
    limit = AdaptiveLimit(LimitParams(initial=2, max_limit=2))
    await limit.acquire()
    await limit.acquire()
    third = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0.01)
    assert not third.done() and limit.inflight == 2
    limit.release(0.01)
    await asyncio.wait_for(third, 1)
    assert limit.inflight == 2
    # A waiter that gives up does not take a slot with it
    fourth = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0.01)
    fourth.cancel()
    limit.release(0.01)
    limit.release(0.01)
    assert limit.inflight == 0
