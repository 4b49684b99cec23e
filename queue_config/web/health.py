"""``/healthz`` (the process answers) and ``/readyz`` (its broker and store answer), for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from queue_config.web.http import json_response

Probe = Callable[[], Awaitable[bool]]


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
