"""What the leading controller publishes for the minutes ahead, once a minute per kind: the bulk
calendar (read by bulk intake) and the operator's outlook (read by ``GET /v1/admin/forecast``).

Both are derived from the forecaster that only the leader holds, so they are written to Redis for every
front door to read.
"""

from __future__ import annotations

import math

from frontdoor.admission.forecast import Forecaster
from frontdoor.bulk import calendar as bulk_calendar
from queue_config.planning.admission_plan import KindPlan
from queue_config.stores import traffic
from queue_config.stores.control import ControlStore
from queue_config.stores.traffic import TrafficStore

HISTORY_MINUTES = 60
AHEAD_MINUTES = 60
TTL_SECONDS = 3600
# Recommended workers keep this much capacity above the forecast's upper bound.
WORKER_HEADROOM = 1.2


def recommended_workers(peak_per_second: float, capacity: float, processes: int) -> int | None:
    """Worker processes that would serve ``peak_per_second`` with headroom, at the capacity each of
    today's ``processes`` shows; None while no worker reports."""
    if processes <= 0 or capacity <= 0:
        return None
    per_process = capacity / processes
    return max(1, math.ceil(peak_per_second * WORKER_HEADROOM / per_process))


class Outlook:
    def __init__(
        self, control: ControlStore, traffic: TrafficStore, *, window_seconds: int, every_seconds: float
    ) -> None:
        self._control = control
        self._traffic = traffic
        self._window = window_seconds
        self._every = every_seconds
        self._written: dict[str, float] = {}

    def due(self, kind: str, now: float) -> bool:
        return now - self._written.get(kind, 0.0) >= self._every

    async def publish(
        self,
        kind: str,
        forecaster: Forecaster,
        plan: KindPlan,
        *,
        enterprise_share: float,
        now: float,
    ) -> None:
        self._written[kind] = now
        last = forecaster.last_minute

        def expected(minute: int) -> float:
            return forecaster.mean(max(1, minute - last)) if last is not None else 0.0

        windows = bulk_calendar.calendar(
            now=now,
            window_seconds=self._window,
            capacity=plan.capacity,
            enterprise_share=enterprise_share,
            arrivals_per_minute=expected if last is not None else None,
        )
        current = int(now // 60)
        past = list(range(current - HISTORY_MINUTES, current))
        counts = await self._traffic.minutes(kind, traffic.ARRIVALS, past)
        ahead = []
        if last is not None:
            for minute in range(current, current + AHEAD_MINUTES):
                p = forecaster.predict(max(1, minute - last))
                ahead.append([minute * 60, round(p.mean, 1), round(p.low, 1), round(p.high, 1)])
        outlook = {
            "at": now,
            "arrivals": [[m * 60, c] for m, c in zip(past, counts, strict=True)],
            "forecast": ahead,
            "coverage": forecaster.params.coverage,
            # Which of the forecaster's candidates carry it at each horizon, and how much: operators see
            # when the seasonal shape has lost its place (a holiday, a storm) and the recent level leads.
            "weights": {str(h): w for h, w in forecaster.weights().items()},
            # The upper bound of the coming hour's busiest minute, a second: what workers should serve.
            "peak_per_second": max((row[3] for row in ahead), default=plan.demand * 60) / 60,
        }
        await self._control.write_outlook(
            kind,
            outlook=outlook,
            calendar={"at": now, "window_seconds": self._window, "windows": windows},
            ttl_seconds=TTL_SECONDS,
        )
