"""Booking bulk items: what may run now, and which later windows take the rest.

The bookings of every front door meet in one Redis hash per kind (window start -> items booked), and a
Lua script books a whole batch's items for one kind at once, first into the current window (the
enterprises' share of the admission rate for the rest of it) and then into the calendar's windows in
order, so two batches booked at the same moment never overfill a window between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from frontdoor.bulk.calendar import window_start
from queue_config.names import Names
from queue_config.planning.admission_plan import KindPlan
from queue_config.stores.ticket_store import store_call

# KEYS: booked hash; ARGV: items, oldest window still of interest, then (start, budget) pairs
# Returns (start, count) pairs in booking order.
_BOOK = """
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], field) end
end
local left = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV, 2 do
  if left <= 0 then break end
  local start, budget = ARGV[i], tonumber(ARGV[i + 1])
  local used = tonumber(redis.call('HGET', KEYS[1], start) or '0')
  local take = math.min(left, budget - used)
  if take > 0 then
    redis.call('HINCRBY', KEYS[1], start, take)
    left = left - take
    table.insert(out, start)
    table.insert(out, take)
  end
end
redis.call('EXPIRE', KEYS[1], 172800)
return out
"""


# KEYS: booked hash; ARGV: (start, count) pairs to give back
_UNBOOK = """
for i = 1, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Allotment:
    window_start: int | None  # None: runs now
    count: int
    booked_in: int  # the window whose budget it took (the current one when it runs now)


class Booker:
    def __init__(self, redis: Redis, names: Names, window_seconds: int) -> None:
        self._redis = redis
        self._names = names
        self._window = window_seconds
        self._book = redis.register_script(_BOOK)
        self._unbook = redis.register_script(_UNBOOK)

    @store_call
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
        args: list[int] = [items, current - self._window]
        for start, budget in windows:
            args += [start, budget]
        reply = await self._book(keys=[self._names.bulk_booked(kind)], args=args)
        out: list[Allotment] = []
        for i in range(0, len(reply), 2):
            start, count = int(reply[i]), int(reply[i + 1])
            out.append(Allotment(None if start == current else start, count, start))
        return out

    @store_call
    async def unbook(self, kind: str, counts: dict[int, int]) -> None:
        """Give back what a batch booked for items that turned out to be repeats of an earlier attempt's
        (a resumed batch): their first booking still holds their place."""
        args = [v for start, n in sorted(counts.items()) if n > 0 for v in (start, n)]
        if args:
            await self._unbook(keys=[self._names.bulk_booked(kind)], args=args)

    async def _calendar(self, kind: str, cap: float, now: float) -> list[tuple[int, int]]:
        raw = await self._redis.get(self._names.bulk_calendar(kind))
        windows = [(int(s), int(b)) for s, b in orjson.loads(raw)["windows"]] if raw else []
        windows = [(s, b) for s, b in windows if s > now]
        if windows:
            return windows
        # No calendar yet: promise only the share in each coming window.
        per_window = max(1, int(cap * self._window))
        first = window_start(now, self._window) + self._window
        return [(first + i * self._window, per_window) for i in range(12)]
