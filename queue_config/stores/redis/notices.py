"""Change notices between processes, on Redis pub/sub: a ticket changed (workers and the ticket
store's scripts announce it; status APIs wake their long-polls), or the throttle changed (the operator
API announces it; every process re-reads its plan). Notices are hints: a reader that misses one (a
reconnect) finds the change at its next periodic read."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from queue_config.names import Names


class RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    async def next(self, timeout: float) -> str | None:
        """The next notice's text, or None when none came within ``timeout`` seconds."""
        # Subscription confirmations come through here too (as None): wait on past them.
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message.get("type") == "message":
                data = message["data"]
                return data.decode() if isinstance(data, bytes) else str(data)
        return None


class RedisNotices:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    def ticket_changes(self) -> contextlib.AbstractAsyncContextManager[RedisSubscription]:
        """Notices carrying the ID of a ticket whose status changed."""
        return self._subscribe(self._names.events_channel)

    def throttle_changes(self) -> contextlib.AbstractAsyncContextManager[RedisSubscription]:
        return self._subscribe(self._names.throttle_changed)

    @contextlib.asynccontextmanager
    async def _subscribe(self, channel: str) -> AsyncIterator[RedisSubscription]:
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(channel)
            yield RedisSubscription(pubsub)
