"""Counting a front door's traffic: arrivals, admissions and refusals per kind, summed over all front
doors in the store (``queue_config.stores.redis.traffic``).

A request only bumps an in-memory counter; a background task adds the counts to the store once a second
in one call. So a thousand requests a second cost a few Redis commands a second, not a thousand, and
ten front doors add up to one series the controller and the forecaster can read.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable

from queue_config.aio.periodic import Periodic
from queue_config.observability import metrics
from queue_config.stores.traffic import TrafficStore


class TrafficCounter:
    def __init__(self, store: TrafficStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
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
            await self._store.add(counts)
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
