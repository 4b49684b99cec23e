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
from queue_config.observability.metrics import UNREPLICATED
from queue_config.stores.redis.client import is_cluster, torn_connection
from queue_config.stores.redis.script_pipe import ScriptPipe

# More calls than this in one turn go in several pipelines: a bounded time for Redis to hold the
# connection, and a bounded loss when that connection breaks.
MAX_BATCH = 256

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any]]
# A durable call's WAIT: (replicas, timeout in ms); None for a call that need not wait.
Wait = tuple[int, int] | None


async def call_script(
    script: AsyncScript,
    keys: Sequence[Any],
    args: Sequence[Any],
    batcher: ScriptBatcher | None,
    *,
    wait: Wait = None,
) -> Any:
    """One caller's script call: coalesced with other callers' through ``batcher``, or on its own; with
    ``wait``, answered once that many replicas hold what it wrote (or the timeout passed)."""
    if batcher is not None:
        return await batcher.run(script, keys, args, wait)
    if wait is None:
        return await script(keys=keys, args=args)
    # A cluster client types as Redis for the stores.
    client: Redis = script.registered_client  # type: ignore[assignment]
    reply = (await pipelined(client, [(script, keys, args)], wait=wait))[0]
    if isinstance(reply, Exception):
        raise reply
    return reply


class ScriptBatcher:
    def __init__(self, redis: Redis, pipe: ScriptPipe | None = None) -> None:
        self._redis = redis
        self._pipe = pipe
        # Durable calls are batched apart from the others, so that only they wait for the replicas.
        self._batches: TurnBatches[Wait, _Call, Any] = TurnBatches(self._send, MAX_BATCH)

    async def run(
        self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any], wait: Wait = None
    ) -> Any:
        """The script's reply, as ``script(keys=..., args=...)`` would give it."""
        return await self._batches.call(wait, (script, keys, args))

    async def run_many(self, calls: Sequence[_Call]) -> list[Any]:
        """Each call's reply, an error reply as the exception itself (as ``pipelined`` answers)."""
        return await self._batches.call_many(None, list(calls))

    async def _send(self, wait: Wait, calls: list[_Call]) -> list[Any]:
        # A reply that is an error is that caller's error (``TurnBatches`` raises it for them alone).
        if self._pipe is None or (wait is not None and wait[0] > 0):
            return await pipelined(self._redis, calls, wait=wait)
        replies = await self._pipe.execute(
            [("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args in calls]
        )
        return await _loaded(calls, replies)

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()


async def pipelined(redis: Redis, calls: Sequence[_Call], *, wait: Wait = None) -> list[Any]:
    """Script calls in one pipeline (on a cluster, redis-py splits it by node); each reply in order, an
    error reply as the exception itself.

    With ``wait``, the pipeline ends with a WAIT on every node it wrote to: Redis replicates
    asynchronously, and a primary lost before its replica had a reservation would lose the ticket's
    idempotency and dedupe keys with it, so a client retrying would get a second ticket (a second
    effect). WAIT on the connection that wrote covers every earlier write of that primary; one WAIT per
    node per pipeline covers every caller in it."""
    async with redis.pipeline(transaction=False) as pipe:
        # EVALSHA directly: a Script called on a pipeline makes redis-py ask SCRIPT EXISTS before
        # every execute (6 % of the door's time); a script Redis does not know (after its restart, or a
        # replica just promoted) answers NOSCRIPT and is run again below, which loads it.
        for script, keys, args in calls:
            # execute_command, not pipe.evalsha: redis-py's cluster pipeline refuses that method (it
            # cannot know the keys are in one slot); ours always are (``queue_config.key_shards``), and
            # the pipeline sends each call to its slot's node.
            pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        waits = 0
        if wait is not None and wait[0] > 0:
            if is_cluster(redis):
                owners = [redis.get_node_from_key(keys[0]) for _, keys, _ in calls]  # type: ignore[attr-defined]
                nodes = {node.name: node for node in owners}
                for node in nodes.values():
                    pipe.execute_command("WAIT", wait[0], wait[1], target_nodes=node)
                waits = len(nodes)
            else:
                pipe.execute_command("WAIT", wait[0], wait[1])
                waits = 1
        try:
            replies = await pipe.execute(raise_on_error=False)
        except (AttributeError, RuntimeError) as exc:
            # The batcher's callers are not behind ``store_call``: say what it would (``torn_connection``).
            if torn_connection(exc):
                raise RedisConnectionError(f"connection lost while sending: {exc}") from exc
            raise
    if waits:
        acked, replies = replies[-waits:], replies[:-waits]
        if any(isinstance(n, Exception) or int(n) < wait[0] for n in acked):  # type: ignore[index]
            UNREPLICATED.inc()
    return await _loaded(calls, replies)


async def _loaded(calls: Sequence[_Call], replies: Sequence[Any]) -> list[Any]:
    """``replies``, each ``NOSCRIPT`` replaced by the reply of its call run again through redis-py."""
    return [
        await _rerun(script, keys, args) if isinstance(reply, NoScriptError) else reply
        for (script, keys, args), reply in zip(calls, replies, strict=True)
    ]


async def run_scripts(redis: Redis, calls: Sequence[_Call], *, wait: Wait = None) -> list[Any]:
    """``pipelined``, raising the first error reply."""
    replies = await pipelined(redis, calls, wait=wait) if calls else []
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
