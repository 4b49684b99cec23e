"""Coalescing the Redis script calls of concurrent requests into one pipeline per event-loop turn
(``queue_config.aio.turn_batches``).

Hand-written because redis-py pipelines only batch the calls of one caller. py-spy of a front door
accepting at 1,000 connections showed redis-py's per-call cost at about a third of its time: a pool
checkout, a retry wrapper, a timeout and a socket write per call, for three script calls per request
(admission, reserve, commit). Calls made by different requests in the same turn of the event loop now
share one checkout and one write; each caller still gets its own reply or its own error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from queue_config.aio.turn_batches import TurnBatches

# More calls than this in one turn go in several pipelines: a bounded time for Redis to hold the
# connection, and a bounded loss when that connection breaks.
MAX_BATCH = 256

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any]]


async def call_script(
    script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], batcher: ScriptBatcher | None
) -> Any:
    """One caller's script call: coalesced with other callers' through ``batcher``, or on its own."""
    if batcher is None:
        return await script(keys=keys, args=args)
    return await batcher.run(script, keys, args)


class ScriptBatcher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._batches: TurnBatches[None, _Call, Any] = TurnBatches(self._send, MAX_BATCH)

    async def run(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The script's reply, as ``script(keys=..., args=...)`` would give it."""
        return await self._batches.call(None, (script, keys, args))

    async def _send(self, _: None, calls: list[_Call]) -> list[Any]:
        # A reply that is an error is that caller's error (``TurnBatches`` raises it for them alone).
        return await pipelined(self._redis, calls)


async def pipelined(redis: Redis, calls: Sequence[_Call]) -> list[Any]:
    """Script calls in one pipeline (on a cluster, redis-py splits it by node); each reply in order, an
    error reply as the exception itself."""
    async with redis.pipeline(transaction=False) as pipe:
        # EVALSHA directly: a Script called on a pipeline makes redis-py ask SCRIPT EXISTS before
        # every execute (6 % of the door's time); a script Redis does not know (after its restart, or a
        # replica just promoted) answers NOSCRIPT and is run again below, which loads it.
        for script, keys, args in calls:
            # execute_command, not pipe.evalsha: redis-py's cluster pipeline refuses that method (it
            # cannot know the keys are in one slot); ours always are (``queue_config.key_shards``), and
            # the pipeline sends each call to its slot's node.
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except AttributeError as exc:
            # redis-py 8's cluster pipeline, writing to a connection that a node's death closed a moment
            # before, fails on its missing writer ("'NoneType' object has no attribute 'writelines'",
            # seen in bench.failover when a primary was killed): a lost connection, not our bug.
            raise RedisConnectionError(f"connection lost while sending: {exc}") from exc
    return [
        await _rerun(script, keys, args) if isinstance(reply, NoScriptError) else reply
        for (script, keys, args), reply in zip(calls, replies, strict=True)
    ]


async def run_scripts(redis: Redis, calls: Sequence[_Call]) -> list[Any]:
    """``pipelined``, raising the first error reply."""
    replies = await pipelined(redis, calls) if calls else []
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _rerun(script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """A script Redis did not know, run on its own (which loads it); its own error stays its own."""
    try:
        return await script(keys=keys, args=args)
    except ResponseError as exc:
        return exc
