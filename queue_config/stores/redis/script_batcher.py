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
        async with self._redis.pipeline(transaction=False) as pipe:
            # EVALSHA directly: a Script called on a pipeline makes redis-py ask SCRIPT EXISTS before
            # every execute (6 % of the door's time); a script Redis does not know (after its restart)
            # answers NOSCRIPT and is run again below, which loads it.
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            replies = await pipe.execute(raise_on_error=False)
        # A reply that is an error is that caller's error (``TurnBatches`` raises it for them alone).
        return [
            await _rerun(script, keys, args) if isinstance(reply, NoScriptError) else reply
            for (script, keys, args), reply in zip(calls, replies, strict=True)
        ]


async def _rerun(script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """A script Redis did not know, run on its own (which loads it); its own error stays its own."""
    try:
        return await script(keys=keys, args=args)
    except ResponseError as exc:
        return exc
