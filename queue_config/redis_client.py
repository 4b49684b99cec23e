"""The Redis client every component builds the same way: short timeouts, so an outage becomes a fast
503 instead of a hang, and health-checked pooled connections that heal when Redis returns."""

from __future__ import annotations

from redis.asyncio import Redis

from queue_config.settings import Settings


def connect(settings: Settings, *, max_connections: int = 256) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=15,
        max_connections=max_connections,
        decode_responses=False,
    )
