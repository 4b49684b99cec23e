"""Change notices between processes, on Redis pub/sub: a ticket changed (workers and the ticket
store's scripts announce it; status APIs wake their long-polls), or the throttle changed (the operator
API announces it; every process re-reads its plan). Notices are hints: a reader that misses one (a
reconnect) finds the change at its next periodic read.

A ticket's change goes to its key shard's channel with SPUBLISH (Redis 7): on Redis Cluster a shard
channel's messages stay within the primary that holds the slot and its replicas, where a plain PUBLISH
crosses the cluster bus to every node (cost per ticket growing with the cluster). A reader subscribes to
every shard's channel; redis-py's cluster pub/sub keeps one connection per primary for them. The throttle's
rare notice stays a plain PUBLISH."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis.client import is_cluster

_DATA = ("message", "smessage")


class RedisSubscription:
    def __init__(self, pubsub: Any, *, sharded: bool) -> None:
        self._pubsub = pubsub
        # redis-py's cluster pub/sub reads shard channels through a method of their own.
        self._read = pubsub.get_sharded_message if sharded else pubsub.get_message

    async def next(self, timeout: float) -> str | None:
        """The next notice's text, or None when none came within ``timeout`` seconds."""
        # Subscription confirmations come through here too (as None): wait on past them.
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = await self._read(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message.get("type") in _DATA:
                data = message["data"]
                return data.decode() if isinstance(data, bytes) else str(data)
        return None


class RedisNotices:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @contextlib.asynccontextmanager
    async def ticket_changes(self) -> AsyncIterator[RedisSubscription]:
        """Notices carrying the ID of a ticket whose status changed."""
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.ssubscribe(*[self._names.events_channel(shard) for shard in self._names.shards])
            yield RedisSubscription(pubsub, sharded=is_cluster(self._redis))

    @contextlib.asynccontextmanager
    async def throttle_changes(self) -> AsyncIterator[RedisSubscription]:
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._names.throttle_changed)
            yield RedisSubscription(pubsub, sharded=False)
