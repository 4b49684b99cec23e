"""The event loop's lag, measured the way a request feels it: a timer due every 10 ms, and how late the
loop gets round to it (``ticketgate_event_loop_lag_seconds``). A front door whose latency rises long
before its CPU is used up shows here whether its loop is blocked (lag grows) or its requests wait on
something else (lag stays small). About 100 wake-ups a second: a few milliseconds of CPU."""

from __future__ import annotations

import asyncio
import contextlib

from queue_config.observability import gc_pauses
from queue_config.observability.metrics import LOOP_LAG

INTERVAL_SECONDS = 0.01


class LoopLag:
    def __init__(self, interval: float = INTERVAL_SECONDS, *, gc_young_threshold: int = 0) -> None:
        self._interval = interval
        self._gc_young = gc_young_threshold
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Started once a service's parts are up: what exists now lives as long as the process, and a
        # collection walking it is one cause of lag (frozen, and the rest timed beside the lag).
        gc_pauses.freeze_startup_heap()
        gc_pauses.collect_young_less_often(self._gc_young)
        gc_pauses.watch()
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            LOOP_LAG.observe(max(0.0, loop.time() - due))
