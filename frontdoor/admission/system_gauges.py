"""The front door's view of the whole system for ``/metrics``: queue depth, capacity and admission rate
from the plan, ETA hit rate and the forecast against actual arrivals from Redis, every few seconds. Every
front door exports the same values, so a dashboard may scrape any of them."""

from __future__ import annotations

import time

from queue_config.aio.periodic import Periodic
from queue_config.kinds import KINDS
from queue_config.observability import metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.stores import traffic
from queue_config.stores.backend import Stores

REFRESH_SECONDS = 5.0


class SystemGauges:
    def __init__(self, stores: Stores, plan: PlanReader) -> None:
        self._stores = stores
        self._plan = plan
        self._loop = Periodic("system-gauges", REFRESH_SECONDS, self.refresh)

    async def refresh(self) -> None:
        minute = int(time.time() // 60)
        for k in KINDS:
            plan = self._plan.kind(k)
            if plan is not None:
                metrics.QUEUE_DEPTH.labels(k).set(plan.backlog)
                metrics.CAPACITY.labels(k).set(plan.capacity)
                metrics.ADMISSION_RATE.labels(k).set(plan.rate if plan.rate is not None else float("inf"))
            hit, miss = await self._stores.tickets.eta_outcomes(k)
            if hit + miss:
                metrics.ETA_HIT_RATE.labels(k).set(hit / (hit + miss))
            (outlook,) = await self._stores.control.outlooks([k])
            if outlook:
                now = next((row for row in outlook["forecast"] if row[0] // 60 == minute), None)
                if now is not None:
                    for bound, value in zip(("mean", "low", "high"), now[1:], strict=True):
                        metrics.FORECAST.labels(k, bound).set(value)
            (last,) = await self._stores.traffic.minutes(k, traffic.ARRIVALS, [minute - 1])
            metrics.ARRIVALS_LAST_MINUTE.labels(k).set(last)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
