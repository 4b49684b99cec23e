"""Traffic series in Redis: arrivals, admissions and refusals per kind, per second and per minute,
summed over all front doors (which add their counts once a second, ``frontdoor.admission.traffic_counter``),
and the finish rate the ticket store counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import structlog
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis.client import read_many, store_call
from queue_config.stores.tickets import RATE_BUCKET_SECONDS

log = structlog.get_logger("traffic")


SECOND_TTL = 3600
MINUTE_TTL = 8 * 24 * 3600  # a week of minutes and a day to spare: enough to rebuild a forecast


class RedisTrafficStore:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @store_call
    async def add(self, counts: Mapping[tuple[str, str, int], int]) -> None:
        """Add (kind, metric, unix second) -> count to the per-second and per-minute series."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for (kind, metric, second), n in counts.items():
                sk = self._names.traffic_second(kind, metric, second)
                mk = self._names.traffic_minute(kind, metric, second // 60)
                pipe.incrby(sk, n)
                pipe.expire(sk, SECOND_TTL)
                pipe.incrby(mk, n)
                pipe.expire(mk, MINUTE_TTL)
            await pipe.execute()

    @store_call
    async def seconds(self, kind: str, metric: str, seconds: Iterable[int]) -> list[int]:
        keys = [self._names.traffic_second(kind, metric, s) for s in seconds]
        return [int(v or 0) for v in await self._redis.mget(keys)] if keys else []

    @store_call
    async def minutes(self, kind: str, metric: str, minutes: Iterable[int]) -> list[int]:
        keys = [self._names.traffic_minute(kind, metric, m) for m in minutes]
        return [int(v or 0) for v in await self._redis.mget(keys)] if keys else []

    @store_call
    async def finish_rate(self, kind: str, now: float, buckets: int = 1) -> float:
        """Tickets of ``kind`` finished a second over the current 5-second bucket and the ``buckets``
        before it: recent enough to follow a rush, long enough not to be noise."""
        current = int(now // RATE_BUCKET_SECONDS)
        n = self._names
        keys = [
            n.finished_bucket(kind, b, s) for b in range(current - buckets, current + 1) for s in n.shards
        ]
        total = sum(int(v or 0) for v in await read_many(self._redis, keys))
        return total / (now - (current - buckets) * RATE_BUCKET_SECONDS)
