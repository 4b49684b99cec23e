"""A service's parts started in order and stopped in the reverse order, through aiohttp's
``cleanup_ctx``: each part opens and closes in one place, so nobody keeps a start list and a stop list
that must mirror each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from aiohttp import web

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def running(part: Service) -> CleanupContext:
    async def context(_: web.Application) -> AsyncIterator[None]:
        await part.start()
        yield
        await part.stop()

    return context


def closing(close: Callable[[], Awaitable[object]]) -> CleanupContext:
    async def context(_: web.Application) -> AsyncIterator[None]:
        yield
        await close()

    return context
