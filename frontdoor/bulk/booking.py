"""Booking bulk items: what may run now, and which later windows take the rest.

A batch's items for one kind are booked at once (``queue_config.stores.redis.bulk_windows``), first into the
current window (the enterprises' share of the admission rate for the rest of it) and then into the
calendar's windows in order, so two batches booked at the same moment never overfill a window between
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from frontdoor.bulk.calendar import window_start
from queue_config.planning.admission_plan import KindPlan
from queue_config.stores.bulk_windows import BulkWindowStore


@dataclass(frozen=True, slots=True)
class Allotment:
    window_start: int | None  # None: runs now
    count: int
    booked_in: int  # the window whose budget it took (the current one when it runs now)


class Booker:
    def __init__(self, store: BulkWindowStore, window_seconds: int) -> None:
        self._store = store
        self._window = window_seconds

    async def book(self, kind: str, items: int, plan: KindPlan | None, now: float) -> list[Allotment]:
        if items <= 0:
            return []
        cap = plan.enterprise_cap if plan is not None else None
        if cap is None:
            # No controller has planned yet: the load is not limited, for bulk as for citizens.
            return [Allotment(None, items, window_start(now, self._window))]
        current = window_start(now, self._window)
        now_budget = int(cap * (current + self._window - now))
        windows = [(current, now_budget), *await self._calendar(kind, cap, now)]
        # Past the calendar, later windows take the enterprises' share each, so no item is ever refused
        # for load alone.
        last = windows[-1][0]
        per_window = max(1, int(cap * self._window))
        extra = math.ceil(items / per_window)
        windows += [(last + (i + 1) * self._window, per_window) for i in range(extra)]
        booked = await self._store.book(kind, items, forget_before=current - self._window, windows=windows)
        return [Allotment(None if start == current else start, count, start) for start, count in booked]

    async def unbook(self, kind: str, counts: dict[int, int]) -> None:
        """Give back what a batch booked for items that turned out to be repeats of an earlier attempt's
        (a resumed batch): their first booking still holds their place."""
        await self._store.unbook(kind, counts)

    async def _calendar(self, kind: str, cap: float, now: float) -> list[tuple[int, int]]:
        calendar = await self._store.calendar(kind)
        windows = [(int(s), int(b)) for s, b in calendar["windows"]] if calendar else []
        windows = [(s, b) for s, b in windows if s > now]
        if windows:
            return windows
        # No calendar yet: promise only the share in each coming window.
        per_window = max(1, int(cap * self._window))
        first = window_start(now, self._window) + self._window
        return [(first + i * self._window, per_window) for i in range(12)]
