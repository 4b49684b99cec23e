"""A background step run every few seconds until stopped: the plan reader, the traffic flush, the capacity
reports and the admission controller all run on it.

A failing step is logged and tried again next period. Stopping is bounded: the step is cancelled and, if
it swallows its cancellation (an aiormq channel being opened turned ours into a channel error, which the
step's own error handling then caught, and a front door ignored SIGTERM for minutes), the loop still ends
because it checks a flag, and ``stop`` gives up waiting after ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("periodic")


class Periodic:
    def __init__(self, name: str, interval: float, step: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self._step = step
        self._stopping = False
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stopping:
            began = time.monotonic()
            try:
                await self._step()
                if self._failing:
                    log.info("periodic_step_recovered", task=self.name)
                self._failing = False
            except Exception as exc:  # Redis or the broker away: next period will tell
                # Said once when the trouble starts, not once a second for as long as it lasts.
                level = log.debug if self._failing else log.warning
                level("periodic_step_failed", task=self.name, error=repr(exc))
                self._failing = True
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - began)))

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            log.warning("periodic_task_left_running", task=self.name)
