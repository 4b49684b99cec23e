"""Traffic series summed over every front door, per kind and metric, per second and per minute.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

ARRIVALS = "arrivals"  # valid submissions, before admission: the demand the forecaster learns

ENTERPRISE_ARRIVALS = "enterprise"  # bulk items offered by enterprises (counted by the bulk API)

ADMITTED = "admitted"

SHED = "shed"  # 503: the system is full

LIMITED = "limited"  # 429: a client over its own limit

METRICS = (ARRIVALS, ADMITTED, SHED, LIMITED)


class TrafficStore(Protocol):
    """Traffic series summed over every front door, per kind and metric, per second and per minute."""

    async def add(self, counts: Mapping[tuple[str, str, int], int]) -> None:
        """Add (kind, metric, unix second) -> count to the per-second and per-minute series."""

    async def seconds(self, kind: str, metric: str, seconds: Iterable[int]) -> list[int]: ...

    async def minutes(self, kind: str, metric: str, minutes: Iterable[int]) -> list[int]: ...

    async def finish_rate(self, kind: str, now: float, buckets: int = 1) -> float:
        """Tickets of ``kind`` finished a second over the current 5-second bucket and the ``buckets``
        before it: recent enough to follow a rush, long enough not to be noise."""
