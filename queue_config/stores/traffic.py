"""Traffic accounting shared by every process: arrivals, admissions and refusals per kind, per second
and per minute, summed in Redis over all front doors.

A request only bumps an in-memory counter; a background task adds the counts to Redis once a second in
one pipeline. So a thousand requests a second cost a few Redis commands a second, not a thousand, and
ten front doors add up to one series the controller and the forecaster can read.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable

import structlog
from redis.asyncio import Redis

from queue_config.aio.periodic import Periodic
from queue_config.names import Names
from queue_config.observability import metrics
from queue_config.stores.ticket_store import RATE_BUCKET_SECONDS, store_call

log = structlog.get_logger("traffic")

ARRIVALS = "arrivals"  # valid submissions, before admission: the demand the forecaster learns
ENTERPRISE_ARRIVALS = "enterprise"  # bulk items offered by enterprises (counted by the bulk API)
ADMITTED = "admitted"
SHED = "shed"  # 503: the system is full
LIMITED = "limited"  # 429: a client over its own limit
METRICS = (ARRIVALS, ADMITTED, SHED, LIMITED)

SECOND_TTL = 3600
MINUTE_TTL = 8 * 24 * 3600  # a week of minutes and a day to spare: enough to rebuild a forecast


class TrafficCounter:
    def __init__(self, redis: Redis, names: Names, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._names = names
        self._clock = clock
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._loop = Periodic("traffic-flush", 1.0, self.flush)

    def count(self, kind: str, metric: str, n: int = 1) -> None:
        self._counts[(kind, metric, int(self._clock()))] += n
        metrics.labelled(metrics.TRAFFIC, kind, metric).inc(n)

    async def flush(self) -> None:
        counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for (kind, metric, second), n in counts.items():
                    sk = self._names.traffic_second(kind, metric, second)
                    mk = self._names.traffic_minute(kind, metric, second // 60)
                    pipe.incrby(sk, n)
                    pipe.expire(sk, SECOND_TTL)
                    pipe.incrby(mk, n)
                    pipe.expire(mk, MINUTE_TTL)
                await pipe.execute()
        except Exception:
            # Redis is away: keep the counts for the next flush rather than lose the demand signal.
            self._counts.update(counts)
            raise

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        with contextlib.suppress(Exception):
            await self.flush()


class TrafficReader:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

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
        keys = [self._names.finished_bucket(kind, b) for b in range(current - buckets, current + 1)]
        total = sum(int(v or 0) for v in await self._redis.mget(keys))
        return total / (now - (current - buckets) * RATE_BUCKET_SECONDS)
