"""A rate limiter shared by every front door: limits per client, per enterprise and per kind.

The Protocol every back end implements (``queue_config.stores.redis``, ``queue_config.stores.memory``)
and what it takes and gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    interval_ms: float  # one request per interval in the long run
    tolerance_ms: float  # how far ahead of now the TAT may run: the burst allowance

    @classmethod
    def per_minute(cls, key: str, per_minute: float) -> Limit:
        # The whole minute's allowance may come as one burst, then one request per interval.
        return cls(key, 60_000 / per_minute if per_minute > 0 else 0.0, 60_000)

    @classmethod
    def per_second(cls, key: str, rate: float, burst_seconds: float) -> Limit:
        return cls(key, 1000 / rate if rate > 0 else math.inf, burst_seconds * 1000)

    @property
    def live(self) -> bool:
        return self.interval_ms > 0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: float = 0.0
    exceeded: str | None = None  # the key of the limit that refused


class Limiter(Protocol):
    """A rate limiter shared by every front door."""

    async def acquire(self, limits: list[Limit], cost: int = 1) -> Verdict:
        """Charge ``cost`` requests to every limit, or nothing when any of them refuses."""
