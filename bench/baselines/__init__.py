"""What portals run today, for the benchmark to compare ticketgate with (never used by the product)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web

from frontdoor.intake.validation import Submission, ValidationFailed, validate_submission
from queue_config.runtime import install_event_loop
from queue_config.web import serving

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INVALID = {"error": "validation_failed"}


async def read_submission(request: web.Request) -> Submission | None:
    """The request's submission, validated as ticketgate validates it; None when it is not valid (422)."""
    try:
        return validate_submission(orjson.loads(await request.read()))
    except (orjson.JSONDecodeError, ValidationFailed):
        return None


def serve(
    submit: Handler,
    connections: Callable[[web.Application], AsyncIterator[None]],
    default_port: int,
) -> None:
    """Serve ``POST /v1/submissions`` on ``BASELINE_PORT`` the way the front door is served (uvloop, no
    access log, several processes on one port)."""
    install_event_loop()
    app = web.Application()
    app.cleanup_ctx.append(connections)
    app.router.add_post("/v1/submissions", submit)
    serving.run(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("BASELINE_PORT", str(default_port))),
        shutdown_timeout=2,
        reuse_port=True,
    )
