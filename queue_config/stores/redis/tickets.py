"""The ticket store: ticket records in Redis and every status transition, each one atomic."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from queue_config.kinds import Status
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import store_call
from queue_config.stores.redis.script_batcher import ScriptBatcher, call_script
from queue_config.stores.tickets import (
    RATE_BUCKET_SECONDS,
    Attempt,
    Commit,
    NewTicket,
    Reservation,
    TicketRecord,
    as_text,
)

# Tickets per call of a batch script: long enough to amortise the call, short enough (a few ms of Redis
# time) not to hold up the single submissions behind it.
SCRIPT_BATCH = 500
# Lateness buckets are read for the last minute; kept a little longer.
LATENESS_TTL_SECONDS = 120


def reservation(reply: list[Any]) -> tuple[Reservation, str, int | None]:
    """The outcome of a RESERVE call: what happened, the ticket ID, and its place in line if it has one."""
    seq = int(reply[2]) if len(reply) > 2 else None
    return Reservation(as_text(reply[0])), as_text(reply[1]), seq


def _optional(value: float | None) -> str | float:
    return "" if value is None else round(value, 3)


class RedisTicketStore:
    def __init__(
        self,
        redis: Redis,
        names: Names,
        *,
        ticket_ttl: int,
        idempotency_ttl: int,
        pending_ttl: int,
        clock: Callable[[], float] = time.time,
        batcher: ScriptBatcher | None = None,
    ) -> None:
        self.redis = redis
        self._batcher = batcher
        self.names = names
        self._ticket_ttl = ticket_ttl
        self._idem_ttl = idempotency_ttl
        self._pending_ttl = pending_ttl
        self._clock = clock
        self._reserve = redis.register_script(lua.source("ticket_reserve"))
        self._reserve_many = redis.register_script(lua.source("ticket_reserve_many"))
        self._commit = redis.register_script(lua.source("ticket_commit"))
        self._commit_many = redis.register_script(lua.source("ticket_commit_many"))
        self._discard = redis.register_script(lua.source("ticket_discard"))
        self._begin = redis.register_script(lua.source("ticket_begin_attempt"))
        self._retrying = redis.register_script(lua.source("ticket_retrying"))
        self._sweep = redis.register_script(lua.source("ticket_sweep_retries"))
        self._finish = redis.register_script(lua.source("ticket_finish"))
        self._release = redis.register_script(lua.source("ticket_release"))
        self._replay = redis.register_script(lua.source("ticket_replay"))

    @classmethod
    def from_settings(
        cls,
        redis: Redis,
        settings: Settings,
        batcher: ScriptBatcher | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> RedisTicketStore:
        return cls(
            redis,
            Names(settings.namespace),
            ticket_ttl=settings.ticket_ttl_seconds,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            pending_ttl=settings.pending_ttl_seconds,
            batcher=batcher,
            clock=clock,
        )

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await call_script(script, keys, args, self._batcher)

    async def _in_chunks(
        self, script: AsyncScript, keys: list[str], head: list[Any], items: list[str]
    ) -> list[Any]:
        """A batch script over ``items`` (one argument each), ``SCRIPT_BATCH`` a call, in one pipeline."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(items), SCRIPT_BATCH):
                await script(keys=keys, args=[*head, *items[start : start + SCRIPT_BATCH]], client=pipe)
            replies: list[Any] = await pipe.execute()
        return replies

    # --- front door ------------------------------------------------------------------------------
    @store_call
    async def reserve(self, new: NewTicket) -> tuple[Reservation, str, int | None]:
        """Reserve a new ticket, or find the one this submission repeats (see ``Reservation``)."""
        keys, args = self._reserve_call(new)
        return reservation(await self._call(self._reserve, keys, args))

    @store_call
    async def reserve_many(
        self, kind: str, scope: str, batch_id: str, tickets: Sequence[NewTicket]
    ) -> list[tuple[Reservation, str, int | None]]:
        """``reserve`` for many tickets of one kind, scope and batch, in a few pipelined calls."""
        n = self.names
        head: list[str | float | int] = [
            n.ticket_prefix,
            n.idempotency(scope, ""),
            n.dedupe(scope, ""),
            self._clock(),
            self._pending_ttl,
            self._idem_ttl,
            self._ticket_ttl,
            kind,
            batch_id,
        ]
        items = [
            f"{t.ticket_id}\t{t.body_digest}\t{t.idempotency_digest or ''}\t{t.masked_client}\t"
            f"{'1' if t.scheduled else ''}"
            for t in tickets
        ]
        replies = await self._in_chunks(self._reserve_many, [n.enqueued_count(kind)], head, items)
        out: list[tuple[Reservation, str, int | None]] = []
        for reply in replies:
            for i in range(0, len(reply), 3):
                seq = int(reply[i + 2])
                out.append((Reservation(as_text(reply[i])), as_text(reply[i + 1]), seq or None))
        return out

    def _reserve_call(self, new: NewTicket) -> tuple[list[str], list[str | float | int]]:
        n = self.names
        idem = n.idempotency(new.scope, new.idempotency_digest) if new.idempotency_digest else ""
        keys = [
            n.ticket(new.ticket_id),
            idem,
            n.dedupe(new.scope, new.body_digest),
            n.enqueued_count(new.kind),
        ]
        args: list[str | float | int] = [
            new.ticket_id,
            n.ticket_prefix,
            new.body_digest,
            self._clock(),
            self._pending_ttl,
            self._idem_ttl,
            self._ticket_ttl,
            new.kind,
            new.masked_client,
            new.batch_id or "",
            "1" if new.scheduled else "",
        ]
        return keys, args

    @store_call
    async def commit(
        self,
        ticket_id: str,
        kind: str,
        promised_by: float | None = None,
        *,
        promise_model: float | None = None,
        scheduled_for: float | None = None,
    ) -> None:
        """Mark a reserved ticket queued, or ``scheduled`` for a later window; ``promised_by`` is the p90
        deadline its client was given, ``promise_model`` the model's p90 (seconds) before calibration."""
        now = self._clock()
        await self._call(
            self._commit,
            [self.names.ticket(ticket_id), self.names.eta_outcomes(kind), self._lateness(kind, now)],
            [
                now,
                self._ticket_ttl,
                _optional(promised_by),
                _optional(scheduled_for),
                _optional(promise_model),
                LATENESS_TTL_SECONDS,
            ],
        )

    def _lateness(self, kind: str, now: float) -> str:
        return self.names.eta_lateness(kind, int(now // RATE_BUCKET_SECONDS))

    @store_call
    async def commit_many(self, kind: str, tickets: Sequence[Commit]) -> None:
        """``commit`` for many tickets of one kind."""
        n = self.names
        now = self._clock()
        head: list[str | float | int] = [n.ticket_prefix, now, self._ticket_ttl, LATENESS_TTL_SECONDS]
        items = [
            f"{c.ticket_id}\t{_optional(c.promised_by)}\t{_optional(c.scheduled_for)}\t{_optional(c.promise_model)}"
            for c in tickets
        ]
        await self._in_chunks(
            self._commit_many, [n.eta_outcomes(kind), self._lateness(kind, now)], head, items
        )

    @store_call
    async def release(self, ticket_ids: Sequence[str], kind: str) -> None:
        """Tickets whose messages are now in the kind's work queue: a ``scheduled`` one (its window opened)
        becomes ``queued`` and takes its place in line; any other is left as it is."""
        n = self.names
        now = self._clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                await self._release(
                    keys=[n.ticket(ticket_id), n.enqueued_count(kind), n.events_channel],
                    args=[ticket_id, now],
                    client=pipe,
                )
            await pipe.execute()

    @store_call
    async def replay(self, ticket_id: str, kind: str) -> bool:
        """Queue a failed ticket again with a fresh attempt budget; False unless it was failed."""
        n = self.names
        return bool(
            await self._replay(
                keys=[n.ticket(ticket_id), n.enqueued_count(kind), n.events_channel, n.dead_letters(kind)],
                args=[ticket_id, self._clock()],
            )
        )

    @store_call
    async def discard(
        self, ticket_id: str, kind: str, *, scope: str, body_digest: str, idempotency_digest: str | None
    ) -> None:
        n = self.names
        idem_key = n.idempotency(scope, idempotency_digest) if idempotency_digest else ""
        await self._discard(
            keys=[n.ticket(ticket_id), idem_key, n.dedupe(scope, body_digest), n.finished_count(kind)],
            args=[ticket_id],
        )

    # --- everyone -------------------------------------------------------------------------------
    @store_call
    async def eta_outcomes(self, kind: str) -> tuple[int, int]:
        """(hits, misses): finished tickets of ``kind`` within and beyond their promised p90."""
        hits, misses = await self.redis.hmget(self.names.eta_outcomes(kind), "hit", "miss")
        return int(hits or 0), int(misses or 0)

    @store_call
    async def get(self, ticket_id: str) -> TicketRecord | None:
        raw = await self.redis.hgetall(self.names.ticket(ticket_id))
        return TicketRecord.from_hash(ticket_id, raw) if raw else None

    @store_call
    async def statuses(self, ticket_ids: Sequence[str]) -> list[Status | None]:
        """Each ticket's stored status (``accepting`` included), None for one without a record."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in ticket_ids:
                pipe.hget(self.names.ticket(ticket_id), "status")
            raw = await pipe.execute()
        return [Status(as_text(s)) if s is not None else None for s in raw]

    @store_call
    async def dead_letters(self, kind: str, limit: int) -> tuple[int, list[tuple[str, float]]]:
        """How many tickets of ``kind`` failed, and the newest ``limit`` of them with when they failed."""
        key = self.names.dead_letters(kind)
        total = await self.redis.zcard(key)
        rows: list[tuple[bytes, float]] = await self.redis.zrevrange(  # type: ignore[assignment]
            key, 0, limit - 1, withscores=True
        )
        return int(total), [(as_text(member), float(score)) for member, score in rows]

    @store_call
    async def failed_at(self, kind: str, ticket_id: str) -> float | None:
        score = await self.redis.zscore(self.names.dead_letters(kind), ticket_id)
        return None if score is None else float(score)

    @store_call
    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int]:
        """Tickets of ``kind`` finished in all, and in the given ``RATE_BUCKET_SECONDS`` buckets."""
        n = self.names
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(n.finished_count(kind))
            pipe.mget([n.finished_bucket(kind, b) for b in buckets])
            total, counts = await pipe.execute()
        return int(total or 0), sum(int(c) for c in counts if c)

    # --- workers --------------------------------------------------------------------------------
    @store_call
    async def begin_attempt(
        self, ticket_id: str, *, kind: str, created_at: float, masked_client: str
    ) -> Attempt:
        """Mark the ticket ``processing`` and count the attempt; a terminal status is returned as is,
        so a redelivered message of a finished ticket is acked without touching the core system."""
        n = self.names
        status, attempts, failures = await self._begin(
            keys=[n.ticket(ticket_id), n.events_channel, n.retrying(kind)],
            args=[ticket_id, self._clock(), kind, created_at, masked_client, self._ticket_ttl],
        )
        return Attempt(Status(status.decode()), int(attempts), int(failures))

    @store_call
    async def mark_retrying(
        self, ticket_id: str, kind: str, error: Any, *, due: float, message: bytes
    ) -> None:
        """Record the core's transient answer; ``message`` is kept until it is back at a worker, which
        it should be by ``due`` (``sweep_retries`` hands out the overdue ones)."""
        n = self.names
        await self._retrying(
            keys=[n.ticket(ticket_id), n.events_channel, n.retrying(kind)],
            args=[ticket_id, self._clock(), orjson.dumps(error), due, message],
        )

    @store_call
    async def sweep_retries(self, kind: str, *, limit: int, rearm_seconds: float) -> list[tuple[str, bytes]]:
        """Tickets of ``kind`` whose message is overdue from its delay queue, each with its message,
        re-armed so that it is handed out again only after ``rearm_seconds`` (doubling each time)."""
        reply = await self._sweep(
            keys=[self.names.retrying(kind)],
            args=[self.names.ticket_prefix, self._clock(), limit, rearm_seconds],
        )
        return [(as_text(reply[i]), bytes(reply[i + 1])) for i in range(0, len(reply), 2)]

    @store_call
    async def finish(
        self,
        ticket_id: str,
        kind: str,
        *,
        result: Any = None,
        error: Any = None,
        batch_id: str | None = None,
    ) -> bool:
        """Record ``done`` (with ``result``) or ``failed`` (with ``error``); False if already final."""
        now = self._clock()
        status, field, value = ("failed", "error", error) if error is not None else ("done", "result", result)
        n = self.names
        bucket = n.finished_bucket(kind, int(now // RATE_BUCKET_SECONDS))
        changed = await self._finish(
            keys=[
                n.ticket(ticket_id),
                n.events_channel,
                n.finished_count(kind),
                bucket,
                n.eta_outcomes(kind),
                n.dead_letters(kind),
                n.batch(batch_id) if batch_id else "",
                n.batch_finished(batch_id) if batch_id else "",
                n.batch_callbacks if batch_id else "",
                self._lateness(kind, now),
                n.retrying(kind),
            ],
            args=[ticket_id, now, status, field, orjson.dumps(value), 600, batch_id or ""],
        )
        return bool(changed)
