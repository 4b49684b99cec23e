"""What the ticket store reads without changing: records, statuses, and the per-kind counts, each the
sum of its key shards' counters (``queue_config.key_shards``). ``RedisTicketStore`` builds on it."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from queue_config.kinds import Status
from queue_config.names import Names
from queue_config.stores.archive import TicketArchive
from queue_config.stores.redis.client import read_many, store_call, total
from queue_config.stores.redis.record_fields import both, first, ticket_record
from queue_config.stores.tickets import TicketRecord, as_text
from queue_config.ticket_ids import shard_of


class RedisTicketReader:
    redis: Redis
    names: Names
    archive: TicketArchive | None  # where done tickets go after ``ARCHIVE_AFTER_SECONDS``

    async def _first_place(self, kind: str, hint: int | None) -> int:
        """The place in line of the next ticket: the front door's estimate, else the counters read."""
        if hint:
            return hint
        n = self.names
        return total(await read_many(self.redis, [n.enqueued_count(kind, s) for s in n.shards])) + 1

    @store_call
    async def eta_outcomes(self, kind: str) -> tuple[int, int]:
        """(hits, misses): finished tickets of ``kind`` within and beyond their promised p90."""
        n = self.names
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in n.shards:
                pipe.hmget(n.eta_outcomes(kind, shard), "hit", "miss")
            rows = await pipe.execute()
        return sum(int(h or 0) for h, _ in rows), sum(int(m or 0) for _, m in rows)

    @store_call
    async def get(self, ticket_id: str) -> TicketRecord | None:
        raw = await self.redis.hgetall(self.names.ticket(ticket_id))
        if raw:
            return ticket_record(ticket_id, raw)
        if self.archive is None:
            return None
        # Not in Redis: done long enough ago to have moved (an unreachable archive raises, so a reader
        # answers 503, never 404, for a ticket that may be there).
        fields = (await self.archive.fetch([ticket_id])).get(ticket_id)
        return ticket_record(ticket_id, fields) if fields else None

    @store_call
    async def statuses(self, ticket_ids: Sequence[str]) -> list[Status | None]:
        """Each ticket's stored status (``accepting`` included), None for one without a record."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                pipe.hmget(self.names.ticket(ticket_id), both("status"))
            rows = await pipe.execute()
        return [Status(as_text(s)) if s is not None else None for s in (first(row)[0] for row in rows)]

    @store_call
    async def dead_letters(self, kind: str, limit: int) -> tuple[int, list[tuple[str, float]]]:
        """How many tickets of ``kind`` failed, and the newest ``limit`` of them with when they failed."""
        n = self.names
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in n.shards:
                pipe.zcard(n.dead_letters(kind, shard))
                pipe.zrevrange(n.dead_letters(kind, shard), 0, limit - 1, withscores=True)
            replies = await pipe.execute()
        count = sum(int(c) for c in replies[0::2])
        rows = sorted((row for shard_rows in replies[1::2] for row in shard_rows), key=lambda r: -r[1])
        return count, [(as_text(member), float(score)) for member, score in rows[:limit]]

    @store_call
    async def failed_at(self, kind: str, ticket_id: str) -> float | None:
        score = await self.redis.zscore(self.names.dead_letters(kind, shard_of(ticket_id)), ticket_id)
        return None if score is None else float(score)

    @store_call
    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int, int]:
        """Tickets of ``kind`` queued in all, finished in all, and finished in the given
        ``RATE_BUCKET_SECONDS`` buckets: each the sum of the key shards' counters."""
        n = self.names
        shards = n.shards
        keys = [n.enqueued_count(kind, s) for s in shards] + [n.finished_count(kind, s) for s in shards]
        keys += [n.finished_bucket(kind, b, s) for b in buckets for s in shards]
        values = await read_many(self.redis, keys)
        k = len(shards)
        return total(values[:k]), total(values[k : 2 * k]), total(values[2 * k :])
