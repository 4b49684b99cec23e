"""``/healthz`` (the process answers) and ``/readyz`` (its broker and Redis answer), for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis

from queue_config.web.http import json_response

Probe = Callable[[], Awaitable[bool]]


def redis_probe(redis: Redis, timeout: float = 1.0) -> Probe:
    # A read of the keyspace, not PING: a Redis still loading its append-only file answers PING but
    # refuses every data command with LOADING, and readiness answered 200 through 19 s of 503s.
    async def probe() -> bool:
        try:
            await asyncio.wait_for(redis.exists("ticketgate:readiness-probe"), timeout)
            return True
        except Exception:
            return False

    return probe


def add_health_routes(app: web.Application, probes: dict[str, Probe]) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results = dict(zip(probes, await asyncio.gather(*(p() for p in probes.values())), strict=True))
        ready = all(results.values())
        return json_response(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status=200 if ready else 503,
            headers=None if ready else {"Retry-After": "5"},
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
