"""The Redis client every component builds the same way: short timeouts, so an outage becomes a fast
503 instead of a hang, and health-checked pooled connections that heal when Redis returns.

The pool blocks when all its connections are busy (up to the Redis timeout) instead of raising "Too many
connections": at a thousand concurrent requests, an exhausted pool is back-pressure to wait out, not an
outage to answer 503 for. redis-py's default pool raises; its BlockingConnectionPool waits.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_config.errors import StoreUnavailable
from queue_config.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


def connect(settings: Settings) -> Redis:
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=15,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it with itself


def store_call(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
