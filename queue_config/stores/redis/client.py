"""The Redis client every component builds the same way: short timeouts, so an outage becomes a fast
503 instead of a hang, and health-checked pooled connections that heal when Redis returns.

The pool blocks when all its connections are busy (up to the Redis timeout) instead of raising "Too many
connections": at a thousand concurrent requests, an exhausted pool is back-pressure to wait out, not an
outage to answer 503 for. redis-py's default pool raises; its BlockingConnectionPool waits.

``redis+cluster://host:port[,host:port…]`` (SPEC "Additions") selects Redis Cluster: redis-py's cluster
client, which finds the slot map from any of the nodes given and follows it when a replica is promoted.
The store modules never ask which one they have, except where a cluster needs a call split by slot
(``is_cluster``, ``read_many``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queue_config.errors import StoreUnavailable
from queue_config.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


CLUSTER_SCHEME = "redis+cluster"


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The ``host:port`` pairs of a ``redis+cluster://`` URL."""
    rest = url.split("://", 1)[1].split("/", 1)[0]
    nodes = []
    for part in rest.split(","):
        host_port = urlsplit(f"//{part.rpartition('@')[2]}")
        nodes.append((host_port.hostname or "127.0.0.1", host_port.port or 6379))
    return nodes


def connect(settings: Settings) -> Redis:
    if settings.redis_url.startswith(CLUSTER_SCHEME + "://"):
        # A cluster client types as Redis for the stores: they use the commands both share.
        return connect_cluster(settings)  # type: ignore[return-value]
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_seconds,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=15,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it with itself


def connect_cluster(settings: Settings) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(settings.redis_url)],
        max_connections=settings.redis_max_connections,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=15,
        # While a primary is down and before its replica is promoted its slots are not covered: the
        # other slots must go on serving.
        require_full_coverage=False,
    )


def is_cluster(redis: Redis) -> bool:
    return isinstance(redis, RedisCluster)


async def read_many(redis: Redis, keys: list[str]) -> list[bytes | None]:
    """GET of many keys: one MGET on one Redis; on a cluster, one per slot (redis-py sends them to
    their nodes in parallel)."""
    if not keys:
        return []
    if isinstance(redis, RedisCluster):
        values: list[bytes | None] = await redis.mget_nonatomic(keys)
        return values
    return await redis.mget(keys)  # type: ignore[return-value]


def total(values: list[bytes | None]) -> int:
    return sum(int(v) for v in values if v)


def torn_connection(exc: BaseException) -> bool:
    """redis-py 8's cluster client, writing on a connection that a node's death closed a moment before,
    fails on the dead transport instead of raising ConnectionError: "'NoneType' object has no attribute
    'writelines'", or uvloop's "unable to perform operation on <TCPTransport closed=True ...>; the
    handler is closed" (both seen in bench.failover as a primary was killed, as 500s). Those two are a
    lost connection; any other AttributeError or RuntimeError is a bug and stays one."""
    text = str(exc)
    return (isinstance(exc, AttributeError) and "writelines" in text) or (
        isinstance(exc, RuntimeError) and "handler is closed" in text
    )


def store_call(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError, ClusterError, RedisClusterException) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc
        except (AttributeError, RuntimeError) as exc:
            if torn_connection(exc):
                raise StoreUnavailable(f"redis connection lost: {exc}") from exc
            raise

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
