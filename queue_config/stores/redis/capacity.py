"""Capacity reports in Redis: one hash per kind, worker process -> its latest report."""

from __future__ import annotations

import msgspec
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.planning.capacity import REPORT_FRESH_SECONDS, REPORTS_TTL_SECONDS, CapacityReport, decoder
from queue_config.stores.redis.client import store_call


class RedisCapacityBoard:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    @store_call
    async def publish(self, worker_id: str, reports: dict[str, CapacityReport]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for kind, report in reports.items():
                key = self._names.capacity_reports(kind)
                pipe.hset(key, worker_id, msgspec.json.encode(report))
                pipe.expire(key, REPORTS_TTL_SECONDS)
            await pipe.execute()

    @store_call
    async def fresh(self, kind: str, now: float) -> list[CapacityReport]:
        key = self._names.capacity_reports(kind)
        raw = await self._redis.hgetall(key)
        reports, gone = [], []
        for worker, value in raw.items():
            try:
                report = decoder.decode(value)
            except msgspec.DecodeError:
                gone.append(worker)
                continue
            if now - report.at <= REPORT_FRESH_SECONDS:
                reports.append(report)
            elif now - report.at > REPORTS_TTL_SECONDS:
                gone.append(worker)  # a worker that stopped: forget it
        if gone:
            await self._redis.hdel(key, *gone)
        return reports
