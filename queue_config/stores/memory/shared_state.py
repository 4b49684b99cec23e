"""The smaller stores in process memory, mirroring ``queue_config.stores.redis`` for unit tests: the
throttle, the controller's state, traffic, capacity reports, enterprises, bulk windows, the audit log,
change notices and the rate limiter (GCRA, against the store's clock as the Lua uses Redis's)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from queue_config.planning.capacity import REPORT_FRESH_SECONDS, CapacityReport
from queue_config.planning.throttle import Throttle
from queue_config.stores.audit import KEPT
from queue_config.stores.enterprises import Enterprise, NewEnterprise, key_hash, new_enterprise, plausible_key
from queue_config.stores.limiter import Limit, Verdict
from queue_config.stores.memory.tickets import MemoryTicketStore
from queue_config.stores.tickets import RATE_BUCKET_SECONDS

Clock = Callable[[], float]


class MemoryThrottleStore:
    def __init__(self, defaults: Throttle) -> None:
        self.defaults = defaults
        self._kept: Throttle | None = None

    async def get(self) -> Throttle:
        return self._kept or self.defaults

    async def put(self, throttle: Throttle) -> None:
        self._kept = throttle


class MemoryControlStore:
    def __init__(self, tickets: MemoryTicketStore, throttle: MemoryThrottleStore, clock: Clock) -> None:
        self._tickets = tickets
        self._throttle = throttle
        self._clock = clock
        self._lease: tuple[str, float] | None = None  # holder, until
        self._plan: tuple[bytes, float] | None = None  # plan, until
        self._kept_plan: bytes | None = None
        self._forecasts: dict[str, Any] = {}
        self._outlooks: dict[str, dict[str, Any]] = {}
        self.calendars: dict[str, dict[str, Any]] = {}

    async def hold_lease(self, identity: str, ms: int) -> bool:
        now = self._clock()
        if self._lease is None or self._lease[0] == identity or self._lease[1] <= now:
            self._lease = (identity, now + ms / 1000)
            return True
        return False

    async def write_plan(self, encoded: bytes, *, ttl_ms: int, kept_seconds: int) -> None:
        self._plan = (encoded, self._clock() + ttl_ms / 1000)
        self._kept_plan = encoded

    def _current_plan(self) -> bytes | None:
        return self._plan[0] if self._plan is not None and self._plan[1] > self._clock() else None

    async def last_plan(self) -> bytes | None:
        return self._current_plan() or self._kept_plan

    async def plan_and_throttle(self) -> tuple[bytes | None, bytes | None]:
        kept = self._throttle._kept
        return self._current_plan(), None if kept is None else msgspec.json.encode(kept)

    async def forecast_state(self, kind: str) -> Any:
        return self._forecasts.get(kind)

    async def save_forecast_state(self, kind: str, state: Any, *, ttl_seconds: int) -> None:
        self._forecasts[kind] = state

    async def lateness(self, kind: str, slots: Sequence[int]) -> Counter[int]:
        counts: Counter[int] = Counter()
        for slot in slots:
            counts.update(self._tickets.lateness.get((kind, slot), Counter()))
        return counts

    async def unfinished(self, kind: str) -> int:
        return max(0, self._tickets._enqueued[kind] - self._tickets._finished[kind])

    async def write_outlook(
        self, kind: str, *, outlook: dict[str, Any], calendar: dict[str, Any], ttl_seconds: int
    ) -> None:
        self._outlooks[kind] = outlook
        self.calendars[kind] = calendar

    async def outlooks(self, kinds: Sequence[str]) -> list[dict[str, Any] | None]:
        return [self._outlooks.get(k) for k in kinds]


class MemoryTrafficStore:
    def __init__(self, tickets: MemoryTicketStore) -> None:
        self._tickets = tickets
        self._seconds: Counter[tuple[str, str, int]] = Counter()
        self._minutes: Counter[tuple[str, str, int]] = Counter()

    async def add(self, counts: Mapping[tuple[str, str, int], int]) -> None:
        for (kind, metric, second), n in counts.items():
            self._seconds[(kind, metric, second)] += n
            self._minutes[(kind, metric, second // 60)] += n

    async def seconds(self, kind: str, metric: str, seconds: Iterable[int]) -> list[int]:
        return [self._seconds[(kind, metric, s)] for s in seconds]

    async def minutes(self, kind: str, metric: str, minutes: Iterable[int]) -> list[int]:
        return [self._minutes[(kind, metric, m)] for m in minutes]

    async def finish_rate(self, kind: str, now: float, buckets: int = 1) -> float:
        current = int(now // RATE_BUCKET_SECONDS)
        _, _, done = await self._tickets.finishes(kind, range(current - buckets, current + 1))
        return done / (now - (current - buckets) * RATE_BUCKET_SECONDS)


class MemoryCapacityBoard:
    def __init__(self) -> None:
        self._reports: dict[str, dict[str, CapacityReport]] = defaultdict(dict)

    async def publish(self, worker_id: str, reports: dict[str, CapacityReport]) -> None:
        for kind, report in reports.items():
            self._reports[kind][worker_id] = report

    async def fresh(self, kind: str, now: float) -> list[CapacityReport]:
        return [r for r in self._reports[kind].values() if now - r.at <= REPORT_FRESH_SECONDS]


class MemoryEnterpriseStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._by_id: dict[str, Enterprise] = {}
        self._by_key: dict[str, str] = {}

    async def create(self, name: str, quota_per_minute: int) -> NewEnterprise:
        new = new_enterprise(name, quota_per_minute, self._clock())
        self._by_id[new.enterprise.enterprise_id] = new.enterprise
        self._by_key[new.enterprise.key_hash] = new.enterprise.enterprise_id
        return new

    async def get(self, enterprise_id: str) -> Enterprise | None:
        return self._by_id.get(enterprise_id)

    async def all(self) -> list[Enterprise]:
        return sorted(self._by_id.values(), key=lambda e: e.created_at)

    async def revoke(self, enterprise_id: str) -> Enterprise | None:
        enterprise = self._by_id.get(enterprise_id)
        if enterprise is None:
            return None
        if enterprise.revoked_at is None:
            enterprise = msgspec.structs.replace(enterprise, revoked_at=round(self._clock(), 3))
        self._by_key.pop(enterprise.key_hash, None)
        self._by_id[enterprise_id] = enterprise
        return enterprise

    async def authenticate(self, api_key: str | None) -> Enterprise | None:
        if not plausible_key(api_key):
            return None
        assert api_key is not None
        enterprise = self._by_id.get(self._by_key.get(key_hash(api_key), ""))
        return enterprise if enterprise is not None and enterprise.revoked_at is None else None


class MemoryBulkWindowStore:
    def __init__(self, control: MemoryControlStore, clock: Clock) -> None:
        self._control = control
        self._clock = clock
        self._booked: dict[str, Counter[int]] = defaultdict(Counter)
        self._opening: dict[str, int] = {}
        self._locks: dict[str, float] = {}

    async def book(
        self, kind: str, items: int, *, forget_before: int, windows: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        booked = self._booked[kind]
        for start in [s for s in booked if s < forget_before]:
            del booked[start]
        out, left = [], items
        for start, budget in windows:
            if left <= 0:
                break
            take = min(left, budget - booked[start])
            if take > 0:
                booked[start] += take
                left -= take
                out.append((start, take))
        return out

    async def unbook(self, kind: str, counts: Mapping[int, int]) -> None:
        booked = self._booked[kind]
        for start, n in counts.items():
            booked[start] -= n
            if booked[start] <= 0:
                del booked[start]

    async def calendar(self, kind: str) -> dict[str, Any] | None:
        return self._control.calendars.get(kind)

    async def opening(self, windows: Mapping[str, int]) -> None:
        self._opening.update(windows)

    async def due(self, limit: int) -> list[str]:
        now = self._clock()
        opening = sorted((start, member) for member, start in self._opening.items() if start <= now)
        return [member for _, member in opening[:limit]]

    async def lock(self, member: str, ms: int) -> bool:
        now = self._clock()
        if self._locks.get(member, 0.0) > now:
            return False
        self._locks[member] = now + ms / 1000
        return True

    async def unlock(self, member: str) -> None:
        self._locks.pop(member, None)

    async def opened(self, member: str) -> None:
        self._opening.pop(member, None)


class MemoryAuditLog:
    def __init__(self, notices: MemoryNotices, clock: Clock) -> None:
        self._notices = notices
        self._clock = clock
        self._entries: list[dict[str, Any]] = []

    async def record(
        self, *, token: str, action: str, before: Any, after: Any, throttle_changed: bool = False
    ) -> None:
        entry = {"at": self._clock(), "token": token, "action": action, "before": before, "after": after}
        self._entries = [entry, *self._entries][:KEPT]
        if throttle_changed:
            self._notices.announce("throttle", "1")

    async def entries(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._entries]


class MemorySubscription:
    def __init__(self, queue: asyncio.Queue[str]) -> None:
        self._queue = queue

    async def next(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class MemoryNotices:
    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    def announce(self, channel: str, text: str) -> None:
        for queue in self._listeners[channel]:
            queue.put_nowait(text)

    def ticket_changes(self) -> contextlib.AbstractAsyncContextManager[MemorySubscription]:
        return self._subscribe("tickets")

    def throttle_changes(self) -> contextlib.AbstractAsyncContextManager[MemorySubscription]:
        return self._subscribe("throttle")

    @contextlib.asynccontextmanager
    async def _subscribe(self, channel: str) -> AsyncIterator[MemorySubscription]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners[channel].add(queue)
        try:
            yield MemorySubscription(queue)
        finally:
            self._listeners[channel].discard(queue)


class MemoryLimiter:
    """GCRA as ``lua/limiter_gcra.lua`` runs it: every limit checked first, all charged or none."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}

    async def acquire(self, limits: list[Limit], cost: int = 1) -> Verdict:
        live = [limit for limit in limits if limit.live]
        for limit in live:
            if math.isinf(limit.interval_ms):
                return Verdict(False, 60.0, limit.key)
        now = self._clock() * 1000
        tats = []
        for limit in live:
            tat = max(self._tats.get(limit.key, 0.0), now)
            allow_at = tat + limit.interval_ms * cost - limit.tolerance_ms
            if allow_at > now:
                return Verdict(False, math.ceil(allow_at - now) / 1000, limit.key)
            tats.append(tat + limit.interval_ms * cost)
        for limit, tat in zip(live, tats, strict=True):
            self._tats[limit.key] = tat
        return Verdict(True)


class MemorySpentProofs:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._spent: dict[str, float] = {}

    async def spend(self, proof_id: str, ttl_seconds: int) -> bool:
        now = self._clock()
        if self._spent.get(proof_id, 0.0) > now:
            return False
        self._spent[proof_id] = now + max(1, ttl_seconds)
        return True
