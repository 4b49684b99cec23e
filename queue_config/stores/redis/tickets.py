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
from queue_config.stores.archive import TicketArchive
from queue_config.stores.redis import lua
from queue_config.stores.redis.client import is_cluster, store_call
from queue_config.stores.redis.record_fields import OWNER_DIGITS, moment, promise, stored_citizen
from queue_config.stores.redis.reservations import FoundBy, bulk_item, reservation, reservations
from queue_config.stores.redis.script_batcher import ScriptBatcher, Wait, call_script, run_scripts
from queue_config.stores.redis.ticket_reader import RedisTicketReader
from queue_config.stores.tickets import (
    RATE_BUCKET_SECONDS,
    Attempt,
    Commit,
    NewTicket,
    Reservation,
    as_text,
)
from queue_config.ticket_ids import shard_of

# Tickets per call of a batch script: long enough to amortise the call, short enough (a few ms of Redis
# time) not to hold up the single submissions behind it.
SCRIPT_BATCH = 500
# Lateness buckets are read for the last minute; kept a little longer.
LATENESS_TTL_SECONDS = 120


class RedisTicketStore(RedisTicketReader):
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
        wait: Wait = None,
        archive: TicketArchive | None = None,
    ) -> None:
        self.redis = redis
        self.archive = archive
        self._wait = wait  # for commits: the last write before a ticket's 202 (``pipelined``)
        self._batcher = batcher
        self.names = names
        self._ticket_ttl = ticket_ttl
        self._idem_ttl = idempotency_ttl
        self._pending_ttl = pending_ttl
        self._clock = clock

        def script(name: str) -> AsyncScript:
            return redis.register_script(lua.source(name, names.store_format))

        self._reserve = script("ticket_reserve")
        self._reserve_many = script("ticket_reserve_many")
        self._commit = script("ticket_commit")
        self._commit_many = script("ticket_commit_many")
        self._discard = script("ticket_discard")
        self._begin = script("ticket_begin_attempt")
        self._retrying = script("ticket_retrying")
        self._sweep = script("ticket_sweep_retries")
        self._finish = script("ticket_finish")
        self._release = script("ticket_release")
        self._replay = script("ticket_replay")

    @classmethod
    def from_settings(
        cls,
        redis: Redis,
        settings: Settings,
        batcher: ScriptBatcher | None = None,
        *,
        clock: Callable[[], float] = time.time,
        archive: TicketArchive | None = None,
    ) -> RedisTicketStore:
        return cls(
            redis,
            Names(settings.namespace, settings.store_format),
            archive=archive,
            ticket_ttl=settings.ticket_ttl_seconds,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            pending_ttl=settings.pending_ttl_seconds,
            batcher=batcher,
            clock=clock,
            wait=(replicas, settings.redis_wait_timeout_ms)
            if (replicas := settings.wait_replicas(is_cluster(redis)))
            else None,
        )

    def _owner(self, scope: str) -> str:
        return scope[: OWNER_DIGITS[self.names.store_format]]

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any], wait: Wait = None) -> Any:
        return await call_script(script, keys, args, self._batcher, wait=wait)

    async def _in_chunks(
        self, script: AsyncScript, keys: list[str], head: list[Any], items: list[str], wait: Wait = None
    ) -> list[Any]:
        """A batch script over ``items`` (one argument each), ``SCRIPT_BATCH`` a call, in one pipeline."""
        return await run_scripts(
            self.redis,
            [
                (script, keys, [*head, *items[start : start + SCRIPT_BATCH]])
                for start in range(0, len(items), SCRIPT_BATCH)
            ],
            wait=wait,
        )

    # --- front door ------------------------------------------------------------------------------
    @store_call
    async def reserve(self, new: NewTicket) -> tuple[Reservation, str, int | None]:
        """Reserve a new ticket, or find the one this submission repeats (see ``Reservation``).

        With replicas, answered once a replica holds it (WAIT): the 202 follows the publish, not the
        commit, and a primary lost after the 202 must not take the ticket's idempotency and dedupe keys
        with it, or a client's retry would be a second ticket and a second effect."""
        keys, args = await self._reserve_call(new)
        return reservation(await self._call(self._reserve, keys, args, wait=self._wait))

    @store_call
    async def reserve_many(
        self, kind: str, scope: str, batch_id: str, tickets: Sequence[NewTicket]
    ) -> list[tuple[Reservation, str, int | None]]:
        """``reserve`` for many tickets of one kind, scope and batch, in a few pipelined calls."""
        n = self.names
        if not tickets:
            return []
        # Every ticket of one scope is minted in its scope's shard (tests' made-up IDs: shard 0).
        shard = shard_of(tickets[0].ticket_id)
        place = await self._first_place(kind, tickets[0].place)
        head: list[str | float | int] = [
            n.ticket_prefix_in(shard),
            "",  # (unused: the keys are named per ticket below)
            "",
            moment(self._clock()),
            self._pending_ttl,
            self._idem_ttl,
            self._ticket_ttl,
            kind,
            batch_id,
        ]
        items = [bulk_item(n, t) for t in tickets]
        keys = [n.enqueued_count(kind, shard)]
        # Each chunk's first place assumes the chunks before it queued every ticket: an estimate, and
        # one that errs towards a longer wait.
        replies = await run_scripts(
            self.redis,
            [
                (
                    self._reserve_many,
                    keys,
                    [*head, place + start, self._owner(scope), *items[start : start + SCRIPT_BATCH]],
                )
                for start in range(0, len(items), SCRIPT_BATCH)
            ],
        )
        return reservations(replies)

    async def _reserve_call(self, new: NewTicket) -> tuple[list[str], list[str | float | int]]:
        n = self.names
        shard = shard_of(new.ticket_id)
        found = FoundBy.of(n, new)
        keys = [n.ticket(new.ticket_id), found.dedupe, n.enqueued_count(new.kind, shard)]
        place = "" if new.scheduled else await self._first_place(new.kind, new.place)
        args: list[str | float | int] = [
            new.ticket_id,
            n.ticket_prefix_in(shard),
            new.body_digest,
            moment(self._clock()),
            self._pending_ttl,
            self._idem_ttl,
            self._ticket_ttl,
            new.kind,
            stored_citizen(new.masked_client, n.store_format),
            new.batch_id or "",
            "1" if new.scheduled else "",
            found.idempotency,
            place,
            self._owner(new.scope),
            found.other_idempotency,
            found.other_dedupe,
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
        now, shard = self._clock(), shard_of(ticket_id)
        keys = [
            self.names.ticket(ticket_id),
            self.names.eta_outcomes(kind, shard),
            self._lateness(kind, now, shard),
        ]
        promised = promise(promised_by, scheduled_for, promise_model)
        await self._call(
            self._commit,
            keys,
            [moment(now), self._ticket_ttl, *promised, LATENESS_TTL_SECONDS],
            wait=self._wait,
        )

    def _lateness(self, kind: str, now: float, shard: int) -> str:
        return self.names.eta_lateness(kind, int(now // RATE_BUCKET_SECONDS), shard)

    @store_call
    async def commit_many(self, kind: str, tickets: Sequence[Commit]) -> None:
        """``commit`` for many tickets of one kind."""
        n = self.names
        now = self._clock()
        by_shard: dict[int, list[str]] = {}
        for c in tickets:
            by_shard.setdefault(shard_of(c.ticket_id), []).append(
                "\t".join((c.ticket_id, *promise(c.promised_by, c.scheduled_for, c.promise_model)))
            )
        for shard, items in by_shard.items():
            head: list[str | float | int] = [
                n.ticket_prefix_in(shard),
                moment(now),
                self._ticket_ttl,
                LATENESS_TTL_SECONDS,
            ]
            await self._in_chunks(
                self._commit_many,
                [n.eta_outcomes(kind, shard), self._lateness(kind, now, shard)],
                head,
                items,
                wait=self._wait,
            )

    @store_call
    async def release(self, ticket_ids: Sequence[str], kind: str) -> None:
        """Tickets whose messages are now in the kind's work queue: a ``scheduled`` one (its window opened)
        becomes ``queued`` and takes its place in line; any other is left as it is."""
        n = self.names
        now = self._clock()
        place = await self._first_place(kind, None)
        await run_scripts(
            self.redis,
            [
                (
                    self._release,
                    [n.ticket(ticket_id), n.enqueued_count(kind, shard_of(ticket_id))],
                    [ticket_id, moment(now), n.events_channel(shard_of(ticket_id)), place + i],
                )
                for i, ticket_id in enumerate(ticket_ids)
            ],
        )

    @store_call
    async def replay(self, ticket_id: str, kind: str) -> bool:
        """Queue a failed ticket again with a fresh attempt budget; False unless it was failed."""
        n = self.names
        shard = shard_of(ticket_id)
        place = await self._first_place(kind, None)
        return bool(
            await self._replay(
                keys=[n.ticket(ticket_id), n.enqueued_count(kind, shard), n.dead_letters(kind, shard)],
                args=[ticket_id, moment(self._clock()), n.events_channel(shard), place],
            )
        )

    @store_call
    async def discard(
        self, ticket_id: str, kind: str, *, scope: str, body_digest: str, idempotency_digest: str | None
    ) -> None:
        n = self.names
        idem_key = n.idempotency(scope, idempotency_digest) if idempotency_digest else ""
        await self._discard(
            keys=[
                n.ticket(ticket_id),
                n.dedupe(scope, body_digest),
                n.finished_count(kind, shard_of(ticket_id)),
            ],
            args=[ticket_id, idem_key],
        )

    # --- workers --------------------------------------------------------------------------------
    @store_call
    async def begin_attempt(
        self, ticket_id: str, *, kind: str, created_at: float, masked_client: str
    ) -> Attempt:
        """Mark the ticket ``processing`` and count the attempt; a terminal status is returned as is,
        so a redelivered message of a finished ticket is acked without touching the core system."""
        n = self.names
        shard = shard_of(ticket_id)
        status, attempts, failures = await self._begin(
            keys=[n.ticket(ticket_id), n.retrying(kind, shard)],
            args=[
                ticket_id,
                moment(self._clock()),
                kind,
                moment(created_at),
                stored_citizen(masked_client, n.store_format),
                self._ticket_ttl,
                n.events_channel(shard),
            ],
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
            keys=[n.ticket(ticket_id), n.retrying(kind, shard_of(ticket_id))],
            args=[
                ticket_id,
                moment(self._clock()),
                orjson.dumps(error),
                due,
                message,
                n.events_channel(shard_of(ticket_id)),
            ],
        )

    @store_call
    async def sweep_retries(self, kind: str, *, limit: int, rearm_seconds: float) -> list[tuple[str, bytes]]:
        """Tickets of ``kind`` whose message is overdue from its delay queue, each with its message,
        re-armed so that it is handed out again only after ``rearm_seconds`` (doubling each time)."""
        n = self.names
        found: list[tuple[str, bytes]] = []
        for shard in n.shards:
            if len(found) >= limit:
                break
            reply = await self._sweep(
                keys=[n.retrying(kind, shard)],
                args=[n.ticket_prefix_in(shard), self._clock(), limit - len(found), rearm_seconds],
            )
            found += [(as_text(reply[i]), bytes(reply[i + 1])) for i in range(0, len(reply), 2)]
        return found

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
        shard = shard_of(ticket_id)
        changed = await self._finish(
            keys=[
                n.ticket(ticket_id),
                n.finished_count(kind, shard),
                n.finished_bucket(kind, int(now // RATE_BUCKET_SECONDS), shard),
                n.eta_outcomes(kind, shard),
                n.dead_letters(kind, shard),
                self._lateness(kind, now, shard),
                n.retrying(kind, shard),
                n.done_index(shard),
            ],
            args=[
                ticket_id,
                moment(now),
                status,
                field,
                orjson.dumps(value),
                600,
                batch_id or "",
                n.events_channel(shard),
                n.batch(batch_id) if batch_id else "",
                n.batch_finished(batch_id) if batch_id else "",
                n.batch_callbacks(shard) if batch_id else "",
            ],
        )
        return bool(changed)
