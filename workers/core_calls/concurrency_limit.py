"""An adaptive bound on concurrent calls to a core system, in the style of Netflix's concurrency-limits
gradient limiter: the limit follows the ratio of the core's no-load latency to its current latency.

- The limit is revised once per round of calls (as many calls as the limit, at least 8), from that
  round's mean latency; calls that began before the last cut are left out of the round, since they
  measure the old limit. (Revising on every call, as Gradient2 does, let one overshoot compound into a
  collapse to 1 and back in our runs against the simulator.)
- While the round's latency stays within ``tolerance`` of the no-load latency, the limit grows, by its
  square root until the first cut and by one call a round after it, but only while the callers actually
  use it (an idle worker's limit does not inflate).
- When it rises, the limit becomes ``limit · tolerance · no-load / current + 1`` (the factor never
  below half): the workers back off as soon as the core starts queueing, instead of driving it into
  the 28-second collapse.
- A timeout or an overload answer cuts the limit by 10 %.

The known drift of the gradient limiter is in its no-load estimate: Gradient2 uses a long moving average
of latency, which follows a sustained rise, so the gradient returns to 1 and the limit climbs back while
the core is still slow. Here the no-load latency is a windowed minimum of each 10-second bucket's 10th
percentile latency, allowed to rise by at most ``baseline_rise`` a second: it falls at once when the core
recovers and rises only slowly when the core's unloaded speed truly changes, so a slow core keeps the
limit down. (Hand-written: the Python ports of concurrency-limits we found are unmaintained and
synchronous.)
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LimitParams:
    initial: float = 4.0
    min_limit: float = 1.0
    max_limit: float = 32.0
    tolerance: float = 1.5
    latency_smoothing: float = 0.1
    bucket_seconds: float = 10.0
    window_buckets: int = 6
    baseline_rise: float = 0.005  # the most the no-load latency may rise a second (0.5 %)
    adaptive: bool = True


class AdaptiveLimit:
    def __init__(self, params: LimitParams, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.params = params
        self._clock = clock
        self.limit = params.max_limit if not params.adaptive else min(params.initial, params.max_limit)
        self.inflight = 0
        self.latency: float | None = None  # short moving average, seconds
        self.baseline: float | None = None  # no-load latency, seconds
        self.completed = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._bucket: list[float] = []
        self._bucket_started = clock()
        self._bucket_lows: deque[float] = deque(maxlen=params.window_buckets)
        self._baseline_at = clock()
        self._round_sum = 0.0
        self._round_n = 0
        self._round_peak = 0  # most calls in flight during the round: did the callers use the limit?
        self._cut_at = -math.inf
        self._searching = True

    async def acquire(self) -> None:
        if self.inflight < self._allowed() and not self._waiters:
            self.inflight += 1
            self._round_peak = max(self._round_peak, self.inflight)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release_slot()  # we were handed a slot as we were cancelled: pass it on
            else:
                self._waiters.remove(future)
            raise

    def release(self, latency: float, *, dropped: bool = False) -> None:
        """End a call that took ``latency`` seconds; ``dropped`` when it timed out or was refused."""
        self.completed += 1
        self._observe(latency, dropped, started=self._clock() - latency)
        self._release_slot()

    def _release_slot(self) -> None:
        self.inflight -= 1
        self._wake()

    def _allowed(self) -> int:
        return max(1, math.floor(self.limit))

    def _wake(self) -> None:
        while self._waiters and self.inflight < self._allowed():
            future = self._waiters.popleft()
            if not future.done():
                self.inflight += 1
                self._round_peak = max(self._round_peak, self.inflight)
                future.set_result(None)

    def _observe(self, latency: float, dropped: bool, started: float) -> None:
        p = self.params
        if not dropped:
            previous = latency if self.latency is None else self.latency
            self.latency = previous + p.latency_smoothing * (latency - previous)
            self._learn_baseline(latency)
        if not p.adaptive:
            return
        if dropped:
            self._cut(max(p.min_limit, self.limit * 0.9))
            return
        if started < self._cut_at:
            return  # this call measured the limit before the last cut
        self._round_sum += latency
        self._round_n += 1
        if self._round_n < max(8, math.ceil(self.limit)) or self.baseline is None:
            return
        mean = self._round_sum / self._round_n
        peak = self._round_peak
        self._round_sum, self._round_n, self._round_peak = 0.0, 0, self.inflight
        gradient = max(0.5, min(1.0, p.tolerance * self.baseline / mean))
        if gradient < 1.0:
            # One call of allowance stays on top of the cut, so the limit settles (at 2 for the steepest
            # cut) instead of collapsing to 1 when the core is slow for reasons our calls do not cause.
            # Gradient2 keeps sqrt(limit) here; with several worker processes those allowances add up
            # and kept the core at twice its no-load latency in our overload runs.
            self._cut(max(p.min_limit, min(self.limit, self.limit * gradient + 1)))
            return
        # Grow only while the limit is what holds callers back; an idle worker's limit stays put. Until
        # the first cut the limit searches fast (by its square root a round); after it, by one call a
        # round, as TCP leaves slow start: several worker processes each jumping by sqrt(limit) at once
        # kept the core queueing in our overload runs.
        if peak >= self.limit / 2:
            step = math.sqrt(self.limit) if self._searching else 1.0
            self.limit = min(p.max_limit, self.limit + step)
            self._wake()

    def _cut(self, limit: float) -> None:
        self._searching = False
        self.limit = limit
        self._cut_at = self._clock()
        self._round_sum, self._round_n, self._round_peak = 0.0, 0, self.inflight

    def _learn_baseline(self, latency: float) -> None:
        p = self.params
        now = self._clock()
        self._bucket.append(latency)
        if self.baseline is None:
            self.baseline = latency
        first = not self._bucket_lows
        # The first bucket closes after a handful of calls, so one odd first call does not linger.
        if len(self._bucket) < 5 or (
            now - self._bucket_started < p.bucket_seconds and not (first and len(self._bucket) >= 20)
        ):
            return
        ordered = sorted(self._bucket)
        self._bucket_lows.append(ordered[len(ordered) // 10])
        self._bucket = []
        self._bucket_started = now
        candidate = min(self._bucket_lows)
        elapsed, self._baseline_at = now - self._baseline_at, now
        ceiling = self.baseline * (1 + p.baseline_rise * elapsed)
        self.baseline = candidate if first else min(candidate, ceiling)
