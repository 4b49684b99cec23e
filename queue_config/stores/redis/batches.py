"""Batches: an enterprise's bulk submission as one thing it can follow, and the callback when it ends.

A batch is a Redis hash (owner, totals, callback URL and delivery state) plus the list of its ticket
IDs in item order ("" for rejected items). Its status is read from the tickets themselves, so it can
never disagree with them. The worker that finishes the batch's last ticket books its callback (see
``lua/ticket_finish.lua``); whichever worker process claims it delivers it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from redis.asyncio import Redis

from queue_config.kinds import Status
from queue_config.names import Names
from queue_config.stores.archive import TicketArchive
from queue_config.stores.batches import batch_state
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import read_many, store_call
from queue_config.stores.redis.record_fields import both, first, read
from queue_config.stores.tickets import as_text
from queue_config.ticket_ids import shard_of

READ_CHUNK = 1000


class RedisBatchStore:
    def __init__(
        self,
        redis: Redis,
        names: Names,
        *,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        archive: TicketArchive | None = None,
    ) -> None:
        self._redis = redis
        self._archive = archive  # the items done long enough ago to have left Redis
        self._names = names
        self._ttl = ttl_seconds
        self._clock = clock
        self._accepted = redis.register_script(lua.source("batch_accepted"))
        self._claim = redis.register_script(lua.source("batch_claim_callbacks"))

    # --- intake -----------------------------------------------------------------------------------
    @store_call
    async def open(self, batch_id: str, *, enterprise_id: str, total: int, callback_url: str | None) -> bool:
        """Start a batch record; False if it already exists (a retried request resuming it)."""
        key = self._names.batch(batch_id)
        created = await self._redis.hsetnx(key, "enterprise_id", enterprise_id)
        if created:
            await self._redis.hset(
                key,
                mapping={
                    "state": "accepting",
                    "total": total,
                    "callback_url": callback_url or "",
                    "created_at": self._clock(),
                },
            )
            await self._redis.expire(key, self._ttl)
        return bool(created)

    @store_call
    async def accepted(
        self, batch_id: str, *, tickets: list[str | None], created: int, response: bytes
    ) -> None:
        """Record the batch's tickets in item order and the answer its client got (kept for retries
        with the same Idempotency-Key), then mark it accepted."""
        n = self._names
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(n.batch_tickets(batch_id))
            pipe.rpush(n.batch_tickets(batch_id), *[t or "" for t in tickets])
            pipe.expire(n.batch_tickets(batch_id), self._ttl)
            pipe.set(n.batch_response(batch_id), response, ex=self._ttl)
            pipe.expire(n.batch_finished(batch_id), self._ttl)
            await pipe.execute()
        accepted = sum(1 for t in tickets if t)
        await self._accepted(
            keys=[n.batch(batch_id), n.batch_finished(batch_id), n.batch_callbacks(shard_of(batch_id))],
            args=[batch_id, created, accepted, self._clock()],
        )

    @store_call
    async def find_key(self, scope: str, key_digest: str) -> tuple[str, str] | None:
        """The (batch ID, body digest) an enterprise's Idempotency-Key was first used for."""
        names = self._names
        current, legacy = await read_many(
            self._redis, [names.idempotency(scope, key_digest), names.other_idempotency(scope, key_digest)]
        )
        raw = current or legacy
        if raw is None:
            return None
        batch_id, _, body_digest = as_text(raw).partition("|")
        return batch_id, body_digest

    @store_call
    async def keep_key(
        self, scope: str, key_digest: str, batch_id: str, body_digest: str, *, ttl_seconds: int
    ) -> bool:
        """Remember the batch of an Idempotency-Key; False when another request's is kept already."""
        key = self._names.idempotency(scope, key_digest)
        return bool(await self._redis.set(key, f"{batch_id}|{body_digest}", nx=True, ex=ttl_seconds))

    @store_call
    async def response(self, batch_id: str) -> bytes | None:
        raw = await self._redis.get(self._names.batch_response(batch_id))
        return None if raw is None else raw if isinstance(raw, bytes) else raw.encode()

    # --- readers --------------------------------------------------------------------------------
    @store_call
    async def meta(self, batch_id: str) -> dict[str, str] | None:
        raw = await self._redis.hgetall(self._names.batch(batch_id))
        return {as_text(k): as_text(v) for k, v in raw.items()} if raw else None

    @store_call
    async def status_document(
        self, batch_id: str, meta: dict[str, str], shown: Callable[[Status], Status]
    ) -> dict[str, Any]:
        """SPEC's batch status: counts per status and the failed items, read from the tickets.
        ``shown`` maps a stored status to what clients see (queued tickets are ``held`` in maintenance)."""
        n = self._names
        tickets = [as_text(t) for t in await self._redis.lrange(n.batch_tickets(batch_id), 0, -1)]
        counts: dict[str, int] = {}
        failed: list[dict[str, Any]] = []
        live = [(i, t) for i, t in enumerate(tickets) if t]
        for start in range(0, len(live), READ_CHUNK):
            chunk = live[start : start + READ_CHUNK]
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, ticket_id in chunk:
                    pipe.hmget(n.ticket(ticket_id), both("status", "error"))
                rows: list[Any] = [first(row) for row in await pipe.execute()]
            gone = [ticket_id for (_, ticket_id), (status, _) in zip(chunk, rows, strict=True) if not status]
            if gone and self._archive is not None:
                archived = await self._archive.fetch(gone)
                rows = [
                    (read(archived[t], "status"), read(archived[t], "error"))
                    if not status and t in archived
                    else (status, error)
                    for (_, t), (status, error) in zip(chunk, rows, strict=True)
                ]
            for (index, ticket_id), (status, error) in zip(chunk, rows, strict=True):
                name = shown(Status(as_text(status))).value if status else "unknown"
                counts[name] = counts.get(name, 0) + 1
                if name == Status.FAILED.value:
                    failed.append(
                        {
                            "index": index,
                            "ticket_id": ticket_id,
                            "error": orjson.loads(error) if error else None,
                        }
                    )
        total = int(meta.get("total", len(tickets)))
        return {
            "batch_id": batch_id,
            "total": total,
            "accepted": len(live),
            "rejected": total - len(live) if meta.get("state") == "accepted" else 0,
            "state": batch_state(meta.get("state") == "accepted", counts),
            "counts": counts,
            "failed": failed,
        }

    # --- callbacks -------------------------------------------------------------------------------
    @store_call
    async def claim_callbacks(self, lease_seconds: float, limit: int = 10) -> list[str]:
        due: list[str] = []
        for shard in self._names.shards:
            if len(due) >= limit:
                break
            claimed = await self._claim(
                keys=[self._names.batch_callbacks(shard)],
                args=[self._clock(), lease_seconds, limit - len(due)],
            )
            due += [as_text(d) for d in claimed]
        return due

    @store_call
    async def callback_delivered(self, batch_id: str) -> None:
        n = self._names
        await self._redis.hset(n.batch(batch_id), "callback_delivered_at", self._clock())
        await self._redis.zrem(n.batch_callbacks(shard_of(batch_id)), batch_id)

    @store_call
    async def forget_callback(self, batch_id: str) -> None:
        await self._redis.zrem(self._names.batch_callbacks(shard_of(batch_id)), batch_id)

    @store_call
    async def callback_later(self, batch_id: str, *, at: float, attempts: int, error: str) -> None:
        n = self._names
        await self._redis.hset(
            n.batch(batch_id), mapping={"callback_attempts": attempts, "callback_error": error[:300]}
        )
        await self._redis.zadd(n.batch_callbacks(shard_of(batch_id)), {batch_id: at})

    @store_call
    async def callback_abandoned(self, batch_id: str, error: str) -> None:
        n = self._names
        await self._redis.hset(
            n.batch(batch_id),
            mapping={"callback_abandoned_at": self._clock(), "callback_error": error[:300]},
        )
        await self._redis.zrem(n.batch_callbacks(shard_of(batch_id)), batch_id)
