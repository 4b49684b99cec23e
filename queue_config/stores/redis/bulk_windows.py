"""Bulk windows in Redis: per kind, the items booked into each window (window start -> items), the
forecast's calendar of windows with spare capacity, and the index of window queues waiting to open.

The bookings of every front door meet in one hash per kind, and one Lua script books a whole batch's
items for a kind at once, so two batches booked at the same moment never overfill a window between them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import store_call
from queue_config.stores.tickets import as_text

BOOKINGS_TTL_SECONDS = 172_800


class RedisBulkWindowStore:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names
        self._book = redis.register_script(lua.source("bulk_book"))
        self._unbook = redis.register_script(lua.source("bulk_unbook"))

    @store_call
    async def book(
        self, kind: str, items: int, *, forget_before: int, windows: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Book ``items`` into ``windows`` ((start, budget) in order), each up to its budget less what
        is booked there already; returns (start, count) in booking order. Windows that start before
        ``forget_before`` are forgotten."""
        args: list[int] = [items, forget_before]
        for start, budget in windows:
            args += [start, budget]
        reply = await self._book(keys=[self._names.bulk_booked(kind)], args=args)
        return [(int(reply[i]), int(reply[i + 1])) for i in range(0, len(reply), 2)]

    @store_call
    async def unbook(self, kind: str, counts: Mapping[int, int]) -> None:
        args = [v for start, n in sorted(counts.items()) if n > 0 for v in (start, n)]
        if args:
            await self._unbook(keys=[self._names.bulk_booked(kind)], args=args)

    @store_call
    async def calendar(self, kind: str) -> dict[str, Any] | None:
        """The outlook's calendar for ``kind``: ``{"at", "window_seconds", "windows": [[start, budget]]}``."""
        raw = await self._redis.get(self._names.bulk_calendar(kind))
        return orjson.loads(raw) if raw else None

    @store_call
    async def opening(self, windows: Mapping[str, int]) -> None:
        """Window queues (``"<kind>:<start>"`` -> start) that hold items and must be released."""
        if windows:
            await self._redis.zadd(self._names.bulk_windows, dict(windows))

    @store_call
    async def due(self, limit: int) -> list[str]:
        raw = await self._redis.zrangebyscore(
            self._names.bulk_windows, "-inf", time.time(), start=0, num=limit
        )
        return [as_text(m) for m in raw]  # type: ignore[arg-type]  # plain members: no scores asked for

    @store_call
    async def lock(self, member: str, ms: int) -> bool:
        """Only one door releases a window at a time; the lock ends on its own should that door die."""
        return bool(await self._redis.set(self._lock(member), b"1", nx=True, px=ms))

    @store_call
    async def unlock(self, member: str) -> None:
        await self._redis.delete(self._lock(member))

    @store_call
    async def opened(self, member: str) -> None:
        """The window queue is gone: nothing is left to release."""
        await self._redis.zrem(self._names.bulk_windows, member)

    def _lock(self, member: str) -> str:
        kind, _, start = member.partition(":")
        return f"{self._names.bulk_windows}:lock:{kind}:{start}"
