"""``python -m bench.baselines.naive_portal``: the portal that collapses today.

An aiohttp endpoint that validates the submission like ticketgate does and then calls the core system
inline, holding the citizen's connection until the core answers: 200 with the result, or 503 "server
busy" when the core fails or takes longer than the portal's timeout. Listens on ``BASELINE_PORT``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bench.baselines import INVALID, read_submission, serve

CORE = web.AppKey("core", aiohttp.ClientSession)
BUSY = {"error": "server_busy", "message": "服务器繁忙，请稍后再试"}
TIMEOUT_SECONDS = float(os.environ.get("BASELINE_CORE_TIMEOUT", "30"))


async def submit(request: web.Request) -> web.Response:
    sub = await read_submission(request)
    if sub is None:
        return web.json_response(INVALID, status=422)
    key = uuid.uuid4().hex
    try:
        async with request.app[CORE].post(
            f"/v1/{sub.kind}",
            json={"citizen_id": sub.citizen_id, "payload": sub.payload},
            headers={"Idempotency-Key": key},
        ) as core:
            body = await core.read()
            if core.status != 200:
                return web.json_response(BUSY, status=503)
    except (aiohttp.ClientError, TimeoutError):
        return web.json_response(BUSY, status=503)
    return web.Response(body=body, status=200, content_type="application/json")


async def _core_session(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(
        os.environ.get("CORE_URL", "http://127.0.0.1:8090"),
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
        connector=aiohttp.TCPConnector(limit=0),
    )
    app[CORE] = session
    yield
    await session.close()


def main() -> None:
    serve(submit, _core_session, 8097)


if __name__ == "__main__":
    main()
