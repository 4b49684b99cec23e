"""The live store's side of moving done tickets to the archive (``workers.upkeep.archive_mover``): which
are due, a lease per key shard, and deleting what the archive now holds."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.stores.archive import DoneTicket
from queue_config.stores.redis import lua, record_fields
from queue_config.stores.redis.client import store_call
from queue_config.stores.tickets import as_text


class RedisDoneTickets:
    def __init__(self, redis: Redis, names: Names) -> None:
        self.redis = redis
        self.names = names
        self._forget = redis.register_script(lua.source("ticket_forget", names.store_format))
        self._claim = redis.register_script(lua.source("controller_lease"))  # any lease, by its key

    @store_call
    async def claim(self, shard: int, holder: str, ms: int) -> bool:
        return bool(await self._claim(keys=[self.names.archive_claim(shard)], args=[holder, ms]))

    @store_call
    async def done_before(self, shard: int, before: float, limit: int) -> list[DoneTicket]:
        index = self.names.done_index(shard)
        listed: list[tuple[bytes, float]] = await self.redis.zrangebyscore(  # type: ignore[assignment]
            index, "-inf", before, start=0, num=limit, withscores=True
        )
        if not listed:
            return []
        # One pipeline: the records are in the index's shard, so on a cluster it goes to one node.
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id, _ in listed:
                pipe.hgetall(self.names.ticket(as_text(ticket_id)))
            records = await pipe.execute()
        return [
            DoneTicket(
                as_text(ticket_id),
                float(score),
                {as_text(k): as_text(v) for k, v in record.items()} if record else None,
            )
            for (ticket_id, score), record in zip(listed, records, strict=True)
        ]

    @store_call
    async def forget(self, shard: int, moved: Sequence[DoneTicket]) -> int:
        if not moved:
            return 0
        pairs: list[str] = []
        for ticket in moved:
            pairs += [ticket.ticket_id, record_fields.read(ticket.fields or {}, "updated_at", "")]
        deleted = await self._forget(
            keys=[self.names.done_index(shard)], args=[self.names.ticket_prefix_in(shard), *pairs]
        )
        return int(deleted)
