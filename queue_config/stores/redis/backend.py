"""The Redis back end: every store on one client (and, for a front door, one script batcher)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

from queue_config.names import Names
from queue_config.planning.throttle import Throttle
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.postgres.archive import PostgresArchive
from queue_config.stores.redis import client, ticket_secret
from queue_config.stores.redis.audit import RedisAuditLog
from queue_config.stores.redis.batches import RedisBatchStore
from queue_config.stores.redis.bulk_windows import RedisBulkWindowStore
from queue_config.stores.redis.capacity import RedisCapacityBoard
from queue_config.stores.redis.control import RedisControlStore
from queue_config.stores.redis.done_tickets import RedisDoneTickets
from queue_config.stores.redis.enterprises import RedisEnterpriseStore
from queue_config.stores.redis.limiter import RedisGcraLimiter
from queue_config.stores.redis.notices import RedisNotices
from queue_config.stores.redis.proofs import RedisSpentProofs
from queue_config.stores.redis.script_batcher import ScriptBatcher
from queue_config.stores.redis.script_pipe import ScriptPipe
from queue_config.stores.redis.throttle import RedisThrottleStore
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.redis.traffic import RedisTrafficStore

# A key no one writes: reading it proves Redis serves data (see ``probe``).
_PROBE_KEY = "ticketgate:readiness-probe"


def redis_stores(
    settings: Settings,
    *,
    coalesce: bool = False,
    redis: Redis | None = None,
    clock: Callable[[], float] = time.time,
) -> Stores:
    """Stores on ``redis`` (by default a client built from ``settings``, closed with the stores);
    ``clock`` is the time the stores record (tests move it)."""
    owned = redis is None
    redis = client.connect(settings) if redis is None else redis
    names = Names(settings.namespace, settings.store_format)
    pipe = ScriptPipe.beside(redis) if coalesce and settings.redis_script_pipe else None
    batcher = ScriptBatcher(redis, pipe) if coalesce else None
    archive = PostgresArchive(settings.database_url, settings.namespace) if settings.database_url else None
    tickets = RedisTicketStore.from_settings(redis, settings, batcher, clock=clock, archive=archive)

    async def close() -> None:
        if batcher is not None:
            await batcher.close()
        if archive is not None:
            await archive.close()
        if owned:
            await redis.aclose()

    return Stores(
        names=names,
        tickets=tickets,
        archive=archive,
        done=RedisDoneTickets(redis, names),
        throttle=RedisThrottleStore(redis, names, Throttle.defaults(settings)),
        control=RedisControlStore(redis, names),
        traffic=RedisTrafficStore(redis, names),
        capacity=RedisCapacityBoard(redis, names),
        enterprises=RedisEnterpriseStore(redis, names, clock=clock),
        batches=RedisBatchStore(
            redis, names, ttl_seconds=settings.ticket_ttl_seconds, clock=clock, archive=archive
        ),
        limiter=RedisGcraLimiter(redis, batcher),
        windows=RedisBulkWindowStore(redis, names),
        audit=RedisAuditLog(redis, names),
        notices=RedisNotices(redis, names),
        proofs=RedisSpentProofs(redis, names),
        secret=lambda s: ticket_secret.ticket_ids(redis, s),
        probe=lambda: probe(redis),
        close=close,
    )


async def probe(redis: Redis, timeout: float = 1.0) -> bool:
    """A read of the keyspace, not PING: a Redis still loading its append-only file answers PING but
    refuses every data command with LOADING, and readiness answered 200 through 19 s of 503s."""
    try:
        await asyncio.wait_for(redis.exists(_PROBE_KEY), timeout)
        return True
    except Exception:
        return False
