"""Start-up steps every service shares: wait for Redis once to learn the ticket secret."""

from __future__ import annotations

import secrets

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential_jitter

from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.ticket_ids import TicketIds

log = structlog.get_logger("startup")


async def ticket_ids(redis: Redis, settings: Settings) -> TicketIds:
    """The ticket ID codec; without TICKET_SECRET this waits for Redis, which keeps the shared secret."""
    retrying = AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
        retry=retry_if_exception_type((RedisConnectionError, RedisTimeoutError, OSError)),
        before_sleep=before_sleep_log(log, 30),
    )
    async for attempt in retrying:
        with attempt:
            secret = await load_secret(redis, Names(settings.namespace), settings.ticket_secret)
    return TicketIds(secret)


async def load_secret(redis: Redis, names: Names, configured: str | None) -> bytes:
    """The configured secret, or the one kept in Redis (created by whichever process starts first)."""
    if configured:
        return configured.encode()
    candidate = secrets.token_hex(32)
    await redis.set(names.ticket_secret, candidate, nx=True)
    stored = await redis.get(names.ticket_secret)
    if stored is None:  # deleted between the two calls: use ours and store it
        await redis.set(names.ticket_secret, candidate)
        return candidate.encode()
    return stored if isinstance(stored, bytes) else str(stored).encode()
