"""Once a second, tell the admission controller what this worker process can do per kind: its adaptive
limit, in-flight calls, messages it holds and the core latency it sees
(``queue_config.planning.capacity``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

from queue_config.aio.periodic import Periodic
from queue_config.planning.capacity import CapacityReport
from queue_config.stores.capacity import CapacityBoard
from workers.core_calls.concurrency_limit import AdaptiveLimit


class CapacityReporter:
    def __init__(
        self,
        board: CapacityBoard,
        limits: Mapping[str, AdaptiveLimit],
        held: Callable[[str], int],
        *,
        interval: float = 1.0,
    ) -> None:
        self._board = board
        self._limits = limits
        self._held = held
        self.worker_id = uuid.uuid4().hex[:12]
        self._loop = Periodic("capacity-reporter", interval, self.publish)

    def reports(self) -> dict[str, CapacityReport]:
        now = time.time()
        out = {}
        for kind, limit in self._limits.items():
            if limit.latency is None:
                # Nothing measured yet: no claim about capacity, but the process consumes this kind (the
                # dashboard's worker count, which read 0 for a kind no ticket of had come yet).
                out[kind] = CapacityReport(
                    at=now,
                    limit=round(limit.limit, 2),
                    inflight=0,
                    held=self._held(kind),
                    latency=0.0,
                    baseline=0.0,
                    completed=0,
                )
                continue
            out[kind] = CapacityReport(
                at=now,
                limit=round(limit.limit, 2),
                inflight=limit.inflight,
                held=self._held(kind),
                latency=round(limit.latency, 4),
                baseline=round(limit.baseline or limit.latency, 4),
                completed=limit.completed,
            )
        return out

    async def publish(self) -> None:
        reports = self.reports()
        if reports:
            await self._board.publish(self.worker_id, reports)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
