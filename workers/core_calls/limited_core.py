"""A core-system client that keeps each kind's calls within its adaptive concurrency limit (middleware
around any ``CoreSystem``, so handlers and the HTTP client know nothing about it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from workers.core_calls.concurrency_limit import AdaptiveLimit
from workers.core_calls.core_client import CoreSystem, TransientCoreError


class LimitedCore:
    def __init__(self, core: CoreSystem, limits: Mapping[str, AdaptiveLimit]) -> None:
        self._core = core
        self.limits = limits

    async def execute(self, kind: str, idempotency_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        limit = self.limits[kind]
        await limit.acquire()
        started = time.monotonic()
        dropped = False
        try:
            return await self._core.execute(kind, idempotency_key, body)
        except TransientCoreError:
            # A timeout or overload answer says "too much" more plainly than any latency.
            dropped = True
            raise
        finally:
            limit.release(time.monotonic() - started, dropped=dropped)
