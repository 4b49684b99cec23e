"""The loop-lag probe sees a blocked event loop: a handler that holds the loop for 60 ms shows up as a
timer about 60 ms late."""

from __future__ import annotations

import asyncio
import time

from queue_config.observability.loop_lag import LoopLag
from queue_config.observability.metrics import LOOP_LAG


def _later_than(bound: float) -> float:
    """Timers the histogram saw fire more than ``bound`` seconds late (``bound`` is one of its buckets)."""
    counts = {
        float(sample.labels["le"]): sample.value
        for metric in LOOP_LAG.collect()
        for sample in metric.samples
        if sample.name.endswith("_bucket")
    }
    return counts[float("inf")] - counts[bound]


async def test_a_blocked_loop_shows_as_a_late_timer() -> None:
    probe = LoopLag()
    before = _later_than(0.05)
    await probe.start()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.06)  # a step that holds the loop, as a blocking call would
        await asyncio.sleep(0.05)
    finally:
        await probe.stop()
    assert _later_than(0.05) - before >= 1
