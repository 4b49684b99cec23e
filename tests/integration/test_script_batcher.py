"""The script batcher against the real Redis: concurrent callers share pipelines, and each still gets its
own reply or its own error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from queue_config.settings import Settings
from queue_config.stores.redis.script_batcher import MAX_BATCH, ScriptBatcher

# INCRBY a counter by ARGV[1]; fails (a Redis error) when the key holds something else.
_INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


class CountingRedis:
    """The real client, counting the pipelines opened through it."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pipelines = 0

    def pipeline(self, transaction: bool = True) -> Any:
        self.pipelines += 1
        return self.redis.pipeline(transaction=transaction)


def _counted(redis: Redis) -> tuple[CountingRedis, ScriptBatcher, AsyncScript]:
    """A batcher whose pipelines are counted, and the counting script it runs."""
    counting = CountingRedis(redis)
    return counting, ScriptBatcher(counting), redis.register_script(_INCR)  # type: ignore[arg-type]


async def test_concurrent_calls_share_pipelines_and_get_their_own_replies(
    fresh_namespace: Settings, redis: Redis
) -> None:
    counting, batcher, script = _counted(redis)
    ns = fresh_namespace.namespace
    await redis.set(f"{ns}:not-a-number", "x")

    # When 600 requests call at once, one of them on a key that makes its script fail
    keys = [f"{ns}:c{i % 3}" for i in range(600)]
    keys[123] = f"{ns}:not-a-number"
    results = await asyncio.gather(*(batcher.run(script, [key], [1]) for key in keys), return_exceptions=True)

    # Then only that one failed, every other got its own counter's value, and they shared pipelines
    assert isinstance(results[123], ResponseError)
    replies = [r for i, r in enumerate(results) if i != 123]
    assert all(isinstance(r, int) for r in replies)
    for c in range(3):
        mine = sorted(int(str(r)) for i, r in enumerate(results) if i != 123 and keys[i] == f"{ns}:c{c}")
        assert mine == list(range(1, len(mine) + 1))
    assert counting.pipelines == -(-600 // MAX_BATCH)  # 3 pipelines, not 600 round trips
    await redis.delete(*{*keys, f"{ns}:not-a-number"})


async def test_one_callers_several_calls_share_the_turns_pipeline(
    fresh_namespace: Settings, redis: Redis
) -> None:
    # Given requests that each make three calls at once (a limiter charging three slots), one failing
    counting, batcher, script = _counted(redis)
    ns = fresh_namespace.namespace
    await redis.set(f"{ns}:bad", "x")
    calls = [(script, [f"{ns}:a"], [1]), (script, [f"{ns}:bad"], [1]), (script, [f"{ns}:b"], [2])]

    # When 40 such requests run concurrently
    results = await asyncio.gather(*(batcher.run_many(calls) for _ in range(40)))

    # Then each got its replies in order, the failing call as its own error, all in one pipeline
    for first, failed, third in results:
        assert isinstance(first, int) and isinstance(third, int)
        assert isinstance(failed, ResponseError)
    assert sorted(int(r[0]) for r in results) == list(range(1, 41))
    assert sorted(int(r[2]) for r in results) == list(range(2, 82, 2))
    assert counting.pipelines == 1
    await redis.delete(f"{ns}:a", f"{ns}:b", f"{ns}:bad")


async def test_a_broken_connection_reaches_every_caller_of_the_batch() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    batcher = ScriptBatcher(dead)
    script = dead.register_script(_INCR)
    results = await asyncio.gather(
        *(batcher.run(script, ["k"], [1]) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, (RedisConnectionError, OSError)) for r in results), results
    await dead.aclose()


@pytest.mark.parametrize("calls", [1, MAX_BATCH + 1])
async def test_a_cancelled_caller_does_not_break_the_others(
    fresh_namespace: Settings, redis: Redis, calls: int
) -> None:
    batcher = ScriptBatcher(redis)
    script = redis.register_script(_INCR)
    key = f"{fresh_namespace.namespace}:n"
    tasks = [asyncio.create_task(batcher.run(script, [key], [1])) for _ in range(calls + 1)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    done = await asyncio.gather(*tasks[1:])
    assert sorted(done)[-1] >= calls  # the others all counted (the cancelled one may have, too)
    await redis.delete(key)


async def test_a_script_redis_does_not_know_yet_is_loaded_and_run(
    fresh_namespace: Settings, redis: Redis
) -> None:
    # A script text no one has loaded (unique per run), as after a Redis restart emptied its script cache
    script = redis.register_script(
        "if ARGV[1] == 'bad' then return redis.error_reply('bad argument') end "
        f"return '{fresh_namespace.namespace}' .. ARGV[1]"
    )
    assert (await redis.script_exists(script.sha)) == [False]
    batcher = ScriptBatcher(redis)
    # One of the calls fails on its own: it must not take the others down with it
    args = ["0", "bad", "2"]
    replies = await asyncio.gather(*(batcher.run(script, [], [a]) for a in args), return_exceptions=True)
    assert isinstance(replies[1], ResponseError)
    assert [replies[0], replies[2]] == [f"{fresh_namespace.namespace}{i}".encode() for i in (0, 2)]
    assert (await redis.script_exists(script.sha)) == [True]
