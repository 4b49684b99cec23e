"""One kept connection on which a front door sends its script batches, written and read with hiredis
directly instead of through redis-py's pipeline.

Hand-written because redis-py's per-call path (pool checkout, retry wrapper, a Python generator encoding
every argument, a timeout task, extra loop turns) cost a batch of one script call 109-114 µs of CPU here
against 54-56 µs on this pipe (20,000 calls in a row, 2026-12-06), and a front door makes three such
calls per submission (limits, reserve, commit). With two doors at 1,300 submissions a second the doors'
p99 fell from 169 to 84 ms (``bench/reports/2026-12-06-script-pipe-ab``). It is used only where the job
is plain: one Redis (not a cluster), TCP without TLS, no ``WAIT``. Everything else, and the loading of a
script Redis does not know (``NOSCRIPT``), stays with redis-py (``script_batcher``).

Unlike redis-py's pipeline it never sends a batch twice: a connection lost after a batch was written
fails that batch's callers (the store answers 503, and a client retrying with its ``Idempotency-Key`` finds
what the first try did), where a retry could apply a reservation or a limit's charge twice.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_config.stores.redis.client import is_cluster

Command = Sequence[str | bytes | int | float]
# hiredis' stub types its argument as a tuple of one item; it takes any number.
_pack = cast(Callable[[tuple[Any, ...]], bytes], hiredis.pack_command)


@dataclass(slots=True)
class _Batch:
    expected: int
    future: asyncio.Future[list[Any]]
    sent_at: float
    replies: list[Any] = field(default_factory=list)


class _RespProtocol(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self._reader = hiredis.Reader()
        self._waiting: collections.deque[_Batch] = collections.deque()
        self._transport: asyncio.Transport | None = None
        # One timer for the oldest batch, not an ``asyncio.timeout`` per batch: that was 3 % of a front
        # door's samples at 450 submissions a second (py-spy).
        self._timeout = timeout
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass

    def send(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if self._transport is None or self._transport.is_closing():
            future.set_exception(RedisConnectionError("connection to Redis lost"))
            return future
        self._waiting.append(_Batch(len(commands), future, loop.time()))
        self._transport.write(b"".join([_pack(tuple(command)) for command in commands]))
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._timeout, self._watch)
        return future

    def _watch(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        due = self._waiting[0].sent_at + self._timeout
        loop = asyncio.get_running_loop()
        if loop.time() < due:
            self._watchdog = loop.call_at(due, self._watch)
            return
        # Replies still on their way would be read as the next batch's: this connection is done.
        self.close(RedisTimeoutError(f"Redis did not answer within {self._timeout} s"))

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                batch = self._waiting[0]
                batch.replies.append(_error(reply) if isinstance(reply, hiredis.ReplyError) else reply)
                if len(batch.replies) == batch.expected:
                    self._waiting.popleft()
                    if not batch.future.done():  # its caller was cancelled
                        batch.future.set_result(batch.replies)
        except (hiredis.ProtocolError, IndexError) as exc:
            self.close(RedisConnectionError(f"unreadable reply from Redis: {exc!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}"))

    def close(self, reason: BaseException) -> None:
        self._fail(reason)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._transport is not None:
            self._transport.close()

    def _fail(self, reason: BaseException) -> None:
        while self._waiting:
            future = self._waiting.popleft().future
            if not future.done():
                future.set_exception(reason)


def _error(reply: hiredis.ReplyError) -> Exception:
    """The exception redis-py raises for this error reply (``NoScriptError`` for ``NOSCRIPT``, …)."""
    error: Exception = BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
    return error


class ScriptPipe:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._address = (host, port)
        self._timeout = timeout
        self._hello: list[Command] = []
        if password is not None:
            self._hello.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._hello.append(("SELECT", db))
        self._protocol: _RespProtocol | None = None
        self._connecting: asyncio.Task[_RespProtocol] | None = None

    @classmethod
    def beside(cls, redis: Redis) -> ScriptPipe | None:
        """A pipe to the Redis ``redis`` talks to, where it is a plain one (see the module's comment)."""
        pool = getattr(redis, "connection_pool", None)
        if is_cluster(redis) or pool is None or pool.connection_class is not Connection:
            return None
        options = pool.connection_kwargs
        return cls(
            options.get("host", "localhost"),
            int(options.get("port", 6379)),
            timeout=options.get("socket_timeout") or 5.0,
            db=int(options.get("db", 0)),
            username=options.get("username"),
            password=options.get("password"),
        )

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Each command's reply, in order; an error reply as the exception redis-py would raise for it."""
        protocol = await self._connected()
        return await protocol.send(commands)

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._protocol is not None:
            self._protocol.close(RedisConnectionError("closed"))

    async def _connected(self) -> _RespProtocol:
        if self._protocol is not None and self._protocol.usable:
            return self._protocol
        if self._connecting is None or self._connecting.done():
            # One connection attempt, however many batches are waiting for it.
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _RespProtocol:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                _, protocol = await loop.create_connection(
                    lambda: _RespProtocol(self._timeout), *self._address
                )
                if self._hello:
                    for reply in await protocol.send(self._hello):
                        if isinstance(reply, Exception):
                            protocol.close(reply)
                            raise reply
        except TimeoutError:
            raise RedisTimeoutError(f"no connection to Redis within {self._timeout} s") from None
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to Redis at {self._address}: {exc}") from exc
        self._protocol = protocol
        return protocol
