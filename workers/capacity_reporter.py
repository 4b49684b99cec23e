"""Once a second, tell the admission controller what this worker process can do per kind: its adaptive
limit, in-flight calls, messages it holds and the core latency it sees (``queue_config.capacity``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Mapping

import structlog

from queue_config.capacity import CapacityBoard, CapacityReport
from workers.concurrency_limit import AdaptiveLimit

log = structlog.get_logger("capacity_reporter")


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
        self._interval = interval
        self.worker_id = uuid.uuid4().hex[:12]
        self._task: asyncio.Task[None] | None = None

    def reports(self) -> dict[str, CapacityReport]:
        now = time.time()
        out = {}
        for kind, limit in self._limits.items():
            if limit.latency is None:
                continue  # nothing measured yet: no claim about capacity
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

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="capacity-reporter")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            reports = self.reports()
            if not reports:
                continue
            try:
                await self._board.publish(self.worker_id, reports)
            except Exception as exc:
                log.debug("capacity_report_failed", error=repr(exc))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
