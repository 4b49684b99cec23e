"""The front door's view of the whole system for ``/metrics``: queue depth, capacity and admission rate
from the plan, ETA hit rate and the forecast against actual arrivals from Redis, every few seconds. Every
front door exports the same values, so a dashboard may scrape any of them."""

from __future__ import annotations

import time

import orjson
from redis.asyncio import Redis

from queue_config.aio.periodic import Periodic
from queue_config.kinds import KINDS
from queue_config.names import Names
from queue_config.observability import metrics
from queue_config.planning.admission_plan import PlanReader

REFRESH_SECONDS = 5.0


class SystemGauges:
    def __init__(self, redis: Redis, names: Names, plan: PlanReader) -> None:
        self._redis = redis
        self._names = names
        self._plan = plan
        self._loop = Periodic("system-gauges", REFRESH_SECONDS, self.refresh)

    async def refresh(self) -> None:
        minute = int(time.time() // 60)
        for kind in KINDS:
            k = kind.value
            plan = self._plan.kind(k)
            if plan is not None:
                metrics.QUEUE_DEPTH.labels(k).set(plan.backlog)
                metrics.CAPACITY.labels(k).set(plan.capacity)
                metrics.ADMISSION_RATE.labels(k).set(plan.rate if plan.rate is not None else float("inf"))
            hit, miss = await self._redis.hmget(self._names.eta_outcomes(k), "hit", "miss")
            finished = int(hit or 0) + int(miss or 0)
            if finished:
                metrics.ETA_HIT_RATE.labels(k).set(int(hit or 0) / finished)
            raw = await self._redis.get(self._names.outlook(k))
            if raw:
                outlook = orjson.loads(raw)
                now = next((row for row in outlook["forecast"] if row[0] // 60 == minute), None)
                if now is not None:
                    for bound, value in zip(("mean", "low", "high"), now[1:], strict=True):
                        metrics.FORECAST.labels(k, bound).set(value)
            last = await self._redis.get(self._names.traffic_minute(k, "arrivals", minute - 1))
            metrics.ARRIVALS_LAST_MINUTE.labels(k).set(int(last or 0))

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
