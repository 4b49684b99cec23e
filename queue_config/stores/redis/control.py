"""What the admission controller keeps in Redis: its lease, the plan it writes every second (and a
copy kept for a week), the forecasters' state, the outlook and bulk calendar it writes every minute,
and the counters and lateness buckets it reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import read_many, store_call, total


class RedisControlStore:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names
        self._lease = redis.register_script(lua.source("controller_lease"))

    @store_call
    async def hold_lease(self, identity: str, ms: int) -> bool:
        """Take or renew the one controller lease; False while another identity holds it."""
        return bool(await self._lease(keys=[self._names.controller_lease], args=[identity, ms]))

    @store_call
    async def write_plan(self, encoded: bytes, *, ttl_ms: int, kept_seconds: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._names.admission_plan, encoded, px=ttl_ms)
            pipe.set(self._names.admission_plan_kept, encoded, ex=kept_seconds)
            await pipe.execute()

    @store_call
    async def last_plan(self) -> bytes | None:
        """The current plan, else the copy kept after it expired."""
        raw = await self._redis.get(self._names.admission_plan)
        raw = raw or await self._redis.get(self._names.admission_plan_kept)
        return _bytes(raw)

    @store_call
    async def plan_and_throttle(self) -> tuple[bytes | None, bytes | None]:
        """The current admission plan and throttle document, as stored, in one round trip."""
        plan, throttle = await self._redis.mget(self._names.admission_plan, self._names.throttle)
        return _bytes(plan), _bytes(throttle)

    @store_call
    async def forecast_state(self, kind: str) -> Any:
        raw = await self._redis.get(self._names.forecast_state(kind))
        return orjson.loads(raw) if raw else None

    @store_call
    async def save_forecast_state(self, kind: str, state: Any, *, ttl_seconds: int) -> None:
        await self._redis.set(self._names.forecast_state(kind), orjson.dumps(state), ex=ttl_seconds)

    @store_call
    async def lateness(self, kind: str, slots: Sequence[int]) -> Counter[int]:
        """The lateness buckets (``queue_config.planning.lateness``) of ``slots``, added up."""
        n = self._names
        async with self._redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                for shard in n.shards:
                    pipe.hgetall(n.eta_lateness(kind, slot, shard))
            counted: list[dict[bytes, bytes]] = await pipe.execute()
        counts: Counter[int] = Counter()
        for one in counted:
            for bucket, count in one.items():
                counts[int(bucket)] += int(count)
        return counts

    @store_call
    async def unfinished(self, kind: str) -> int:
        """Tickets queued and not yet finished, from the ticket store's counters."""
        n = self._names
        values = await read_many(
            self._redis,
            [n.enqueued_count(kind, s) for s in n.shards] + [n.finished_count(kind, s) for s in n.shards],
        )
        k = len(n.shards)
        return max(0, total(values[:k]) - total(values[k:]))

    @store_call
    async def write_outlook(
        self, kind: str, *, outlook: dict[str, Any], calendar: dict[str, Any], ttl_seconds: int
    ) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._names.bulk_calendar(kind), orjson.dumps(calendar), ex=ttl_seconds)
            pipe.set(self._names.outlook(kind), orjson.dumps(outlook), ex=ttl_seconds)
            await pipe.execute()

    @store_call
    async def outlooks(self, kinds: Sequence[str]) -> list[dict[str, Any] | None]:
        raws = await self._redis.mget([self._names.outlook(k) for k in kinds])
        return [orjson.loads(raw) if raw else None for raw in raws]


def _bytes(raw: bytes | str | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw
