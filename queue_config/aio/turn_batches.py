"""Calls that concurrent requests make in the same turn of the event loop, sent together as one batch.

Hand-written because neither redis-py nor aio-pika batches the calls of different callers. A front door
uses it twice: for its Redis script calls (``queue_config.stores.redis.script_batcher``) and for
publishing accepted tickets (``frontdoor.intake.publish_bundler``). Each caller awaits its own result,
or its own error; when the whole batch fails, every caller of that batch hears of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

# ``send`` answers one result per item, in order: a value, or the exception that item's caller gets.
Send = Callable[[K, list[T]], Awaitable[Sequence[R | BaseException]]]


class TurnBatches(Generic[K, T, R]):
    def __init__(self, send: Send[K, T, R], max_batch: int) -> None:
        self._send = send
        self._max = max_batch
        self._pending: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, key: K, item: T) -> R:
        """``item``'s result, sent with the other items of ``key`` that arrive in this turn."""
        (future,) = self._enqueue(key, [item])
        return await future

    async def call_many(self, key: K, items: Sequence[T]) -> list[R | Exception]:
        """Each item's result or error, in order, sent with this turn's other items of ``key``: one
        caller's several calls (a request charging limits on several Redis nodes) share the batches."""
        results: list[R | Exception] = []
        for future in self._enqueue(key, items):
            try:
                results.append(await future)
            except Exception as exc:
                results.append(exc)
        return results

    def _enqueue(self, key: K, items: Sequence[T]) -> list[asyncio.Future[R]]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = [loop.create_future() for _ in items]
        if not self._pending:
            # A task, not call_soon(flush) that then starts tasks: its first step runs in the next turn,
            # after every call of this one, and sends the first batch itself. Each turn a caller waits in
            # costs it the length of a turn, which at half a door's load is milliseconds.
            self._keep(loop.create_task(self._flush()))
        self._pending.setdefault(key, []).extend(zip(items, futures, strict=True))
        return futures

    async def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        batches = [
            (key, waiting[start : start + self._max])
            for key, waiting in pending.items()
            for start in range(0, len(waiting), self._max)
        ]
        for key, batch in batches[1:]:
            self._keep(asyncio.create_task(self._run(key, batch)))
        await self._run(*batches[0])

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: K, waiting: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._send(key, [item for item, _ in waiting])
        except BaseException as exc:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
