"""``python -m bench.bare_aiohttp``: the HTTP ceiling, a bare aiohttp handler that answers 202 with no I/O
(and, for the read side, ``GET /v1/tickets/{id}`` with a fixed ticket document).

Served the same way as the front door (uvloop, no access log) so the two figures compare like for like.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from queue_config.runtime import install_event_loop
from queue_config.web import serving

_BODY = b'{"ticket_id":"bare","status":"queued"}'
_TICKET = (
    b'{"ticket_id":"bare","kind":"payment","status":"done","attempts":1,'
    b'"created_at":"2026-12-05T09:00:00+08:00","updated_at":"2026-12-05T09:00:02+08:00"}'
)


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=_BODY, status=202, content_type="application/json")


async def ticket(request: web.Request) -> web.Response:
    # ``?wait=N`` holds the request N seconds, as a long-poll that nothing wakes: what holding a
    # connection costs aiohttp itself.
    if wait := float(request.query.get("wait", "0")):
        await asyncio.sleep(wait)
    return web.Response(body=_TICKET, content_type="application/json", headers={"Cache-Control": "no-store"})


def main() -> None:
    install_event_loop()
    app = web.Application()
    app.router.add_post("/v1/submissions", accept)
    app.router.add_get("/v1/tickets/{ticket_id}", ticket)
    port = int(os.environ.get("BARE_PORT", "8099"))
    serving.run(app, host="127.0.0.1", port=port, shutdown_timeout=2, reuse_port=True)


if __name__ == "__main__":
    main()
