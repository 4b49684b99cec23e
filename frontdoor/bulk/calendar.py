"""The bulk calendar: how many bulk items each coming window can take without delaying citizens.

A window may take the enterprises' share of capacity at any time, and more where the forecast expects
citizens to leave capacity idle (nights, weekends): ``capacity * (1 - headroom) - expected arrivals``.
The controller writes the calendar for the next ``MAX_WINDOWS`` windows; bulk intake books into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

MAX_WINDOWS = 288  # a day of five-minute windows
HEADROOM = 0.1  # capacity kept free for citizens' surprises above the forecast


def window_start(now: float, window_seconds: int) -> int:
    return int(now // window_seconds) * window_seconds


def calendar(
    *,
    now: float,
    window_seconds: int,
    capacity: float,
    enterprise_share: float,
    arrivals_per_minute: Callable[[int], float] | None,
) -> list[tuple[int, int]]:
    """``(window start, items it may take)`` for the windows after the current one.

    ``arrivals_per_minute(m)`` is the forecast for the minute starting at unix minute ``m`` (None: no
    forecast yet, so only the share is promised)."""
    first = window_start(now, window_seconds) + window_seconds
    out: list[tuple[int, int]] = []
    for i in range(MAX_WINDOWS):
        start = first + i * window_seconds
        share = enterprise_share * capacity
        spare = 0.0
        if arrivals_per_minute is not None:
            minutes = range(start // 60, math.ceil((start + window_seconds) / 60))
            expected = sum(arrivals_per_minute(m) for m in minutes) / (60 * len(minutes))
            spare = capacity * (1 - HEADROOM) - expected
        out.append((start, max(0, int(max(share, spare) * window_seconds))))
    return out
