"""The front door's own connection for script batches (``script_pipe``): against the real Redis for what
Redis answers, and against small stand-in servers for what a real one will not do on demand (close a
connection mid-batch, stay silent)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import hiredis
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_config.settings import Settings
from queue_config.stores.redis.script_batcher import ScriptBatcher
from queue_config.stores.redis.script_pipe import Command, ScriptPipe

_INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


class CountingPipe(ScriptPipe):
    def __init__(self, pipe: ScriptPipe) -> None:
        self.__dict__.update(pipe.__dict__)
        self.batches = 0

    async def execute(self, commands: Any) -> list[Any]:
        self.batches += 1
        return await super().execute(commands)


def _pipe_to(redis: Redis) -> ScriptPipe:
    pipe = ScriptPipe.beside(redis)
    assert pipe is not None
    return pipe


async def test_concurrent_calls_go_through_the_pipe_each_with_its_own_reply(
    fresh_namespace: Settings, redis: Redis
) -> None:
    pipe = CountingPipe(_pipe_to(redis))
    batcher = ScriptBatcher(redis, pipe)
    script = redis.register_script(_INCR)
    await script(keys=["warm"], args=[0])  # loaded: this test is about the pipe, not NOSCRIPT
    ns = fresh_namespace.namespace
    await redis.set(f"{ns}:not-a-number", "x")
    keys = [f"{ns}:c{i % 3}" for i in range(600)]
    keys[77] = f"{ns}:not-a-number"
    try:
        results = await asyncio.gather(
            *(batcher.run(script, [key], [1]) for key in keys), return_exceptions=True
        )
        assert isinstance(results[77], ResponseError)
        for c in range(3):
            mine = sorted(int(str(r)) for i, r in enumerate(results) if i != 77 and keys[i] == f"{ns}:c{c}")
            assert mine == list(range(1, len(mine) + 1))
        assert 1 <= pipe.batches <= 3  # 600 callers in a turn: a few batches, all on the pipe
    finally:
        await batcher.close()
        await redis.delete(*{*keys, f"{ns}:not-a-number", "warm"})


async def test_a_script_redis_does_not_know_is_loaded_through_redis_py(
    fresh_namespace: Settings, redis: Redis
) -> None:
    script = redis.register_script(f"return 'pipe-{fresh_namespace.namespace}' .. ARGV[1]")
    assert (await redis.script_exists(script.sha)) == [False]
    pipe = _pipe_to(redis)
    try:
        (raw,) = await pipe.execute([("EVALSHA", script.sha, 0, "x")])
        assert isinstance(raw, NoScriptError)  # the pipe says NOSCRIPT as redis-py would...
        batcher = ScriptBatcher(redis, pipe)
        assert await batcher.run(script, [], ["1"]) == f"pipe-{fresh_namespace.namespace}1".encode()
        assert (await redis.script_exists(script.sha)) == [True]  # ...and the batcher loads it
    finally:
        await pipe.close()


async def test_it_selects_the_database_of_the_url(fresh_namespace: Settings) -> None:
    other_db = Redis.from_url(fresh_namespace.redis_url.rsplit("/", 1)[0] + "/3")
    key = f"{fresh_namespace.namespace}:db3"
    pipe = _pipe_to(other_db)
    try:
        assert await pipe.execute([("SET", key, "here"), ("GET", key)]) == [b"OK", b"here"]
        assert await other_db.get(key) == b"here"
    finally:
        await other_db.delete(key)
        await other_db.aclose()
        await pipe.close()


async def test_a_refused_login_is_said_as_redis_py_says_it(fresh_namespace: Settings) -> None:
    # The shared Redis has no password: AUTH is refused, as a wrong password would be (redis-py's
    # AuthenticationError is a ConnectionError: the store answers 503, as for any Redis it cannot use)
    pipe = ScriptPipe("127.0.0.1", _port(fresh_namespace), timeout=2.0, password="not-the-password")
    with pytest.raises(AuthenticationError):
        await pipe.execute([("PING",)])
    await pipe.close()


def test_only_a_plain_redis_gets_a_pipe() -> None:
    assert ScriptPipe.beside(Redis.from_url("redis://127.0.0.1:6379/0")) is not None
    assert ScriptPipe.beside(Redis.from_url("rediss://127.0.0.1:6379/0")) is None
    assert ScriptPipe.beside(Redis.from_url("unix:///tmp/redis.sock")) is None
    cluster = RedisCluster.__new__(RedisCluster)  # never connects: only its type is asked
    assert ScriptPipe.beside(cluster) is None  # type: ignore[arg-type]


def _port(settings: Settings) -> int:
    return int(settings.redis_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


Answer = Callable[[int, list[Any]], bytes | None]


@asynccontextmanager
async def stand_in(answer: Answer, delay: float = 0.0) -> AsyncIterator[list[int]]:
    """A server on a free port that reads RESP commands and answers what ``answer(connection number,
    commands read)`` gives (``None``: close the connection), ``delay`` seconds later; yields [port,
    connections so far]."""
    state = [0, 0]
    loop = asyncio.get_running_loop()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state[1] += 1
        number, parser = state[1], hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            commands = []
            while (command := parser.gets()) is not False:
                commands.append(command)
            reply = answer(number, commands)
            if reply is None:
                break
            loop.call_later(delay, writer.write, reply)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state[0] = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


async def test_a_connection_lost_mid_batch_fails_that_batch_and_the_next_reconnects() -> None:
    # The first connection closes as soon as a batch arrives; the second answers every command
    def answer(connection: int, commands: list[Any]) -> bytes | None:
        return None if connection == 1 else b":7\r\n" * len(commands)

    async with stand_in(answer) as state:
        pipe = ScriptPipe("127.0.0.1", state[0], timeout=2.0)
        batch: list[Command] = [("INCR", "a"), ("INCR", "b")]
        first = await asyncio.gather(pipe.execute(batch), pipe.execute(batch), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in first), first
        # Never sent again on its own: a batch may have applied; its callers decide (503, client retry)
        assert await pipe.execute(batch) == [7, 7]
        assert state[1] == 2
        await pipe.close()


async def test_a_silent_redis_is_a_timeout_and_the_connection_is_replaced() -> None:
    # The first connection never answers; on the second, every command gets its reply
    def answer(connection: int, commands: list[Any]) -> bytes | None:
        return b"" if connection == 1 else b"+PONG\r\n" * len(commands)

    async with stand_in(answer) as state:
        pipe = ScriptPipe("127.0.0.1", state[0], timeout=0.3)
        with pytest.raises(RedisTimeoutError):
            await pipe.execute([("PING",)])
        # A late reply of the silent connection can never be taken for this batch's: a new connection
        assert await pipe.execute([("PING",), ("PING",)]) == [b"PONG", b"PONG"]
        assert state[1] == 2
        await pipe.close()


async def test_each_batch_has_the_whole_timeout_from_its_own_send() -> None:
    # Redis answers every batch 0.2 s after it came, with a timeout of 0.3 s; the second batch is sent
    # 0.15 s after the first, so it is still waiting when the first batch's 0.3 s are up
    async with stand_in(lambda _, commands: b"+PONG\r\n" * len(commands), delay=0.2) as state:
        pipe = ScriptPipe("127.0.0.1", state[0], timeout=0.3)
        first = asyncio.create_task(pipe.execute([("PING",)]))
        await asyncio.sleep(0.15)
        assert list(await asyncio.gather(first, pipe.execute([("PING",)]))) == [[b"PONG"], [b"PONG"]]
        assert state[1] == 1  # no timeout closed the connection
        await pipe.close()


async def test_nothing_listening_is_a_connection_error() -> None:
    pipe = ScriptPipe("127.0.0.1", 1, timeout=0.5)
    with pytest.raises(RedisConnectionError):
        await pipe.execute([("PING",)])
