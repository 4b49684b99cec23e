"""Serving an aiohttp application until SIGTERM or SIGINT, shared by every HTTP entry point.

Not ``web.run_app``: it raises ``GracefulExit`` on every signal, so the SIGINT of a Ctrl-C followed by
the SIGTERM of a supervisor lands a second exception in the middle of the first shutdown and can leave
the process hanging. Here any number of signals only set one event, and shutdown runs once.

Every server is built by ``runner``: aiohttp has no header read timeout of its own, but its keep-alive
timer also closes a connection that has not finished sending a request's head, so ``HEADER_TIMEOUT``
bounds both an idle kept-alive connection and a slowloris client (200 such connections used to be held
open for as long as they liked). Bodies are bounded where they are read (``BODY_TIMEOUT``). Errors that
aiohttp answers before any handler runs (an oversized or malformed request head) get the SPEC's JSON
error shape instead of aiohttp's plain text.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

# Seconds a connection may take to send a request's head, and stay idle between requests.
HEADER_TIMEOUT = 15.0
# Seconds a request's body may take to arrive, once its head has (``frontdoor.intake.request_body``,
# the bulk API).
BODY_TIMEOUT = 30.0


class _JsonErrorHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if a reply was half sent
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "error"
        code = "bad_request" if status == 400 else phrase.lower().replace(" ", "_").replace("-", "_")
        text = "Unexpected error; it has been logged." if status >= 500 else (message or phrase)
        response = web.Response(
            status=status,
            body=orjson.dumps({"error": code, "message": (text.strip().splitlines() or [phrase])[0][:200]}),
            content_type="application/json",
            charset="utf-8",
        )
        response.force_close()
        return response


class _JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """``web.AppRunner`` whose connections answer protocol errors in JSON (see the module's doc)."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # same state, one method more: aiohttp offers no factory hook
        return server


def runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    return Runner(app, access_log=None, keepalive_timeout=HEADER_TIMEOUT, **kwargs)


async def serve(
    app: web.Application | Awaitable[web.Application],
    *,
    host: str,
    port: int,
    shutdown_timeout: float = 10.0,
    reuse_port: bool = False,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    application = app if isinstance(app, web.Application) else await app
    served = runner(application, shutdown_timeout=shutdown_timeout)
    await served.setup()
    try:
        await web.TCPSite(served, host, port, backlog=2048, reuse_port=reuse_port or None).start()
        await stop.wait()
    finally:
        await served.cleanup()


def run(
    app: web.Application | Awaitable[web.Application],
    *,
    host: str,
    port: int,
    shutdown_timeout: float = 10.0,
    reuse_port: bool = False,
) -> None:
    asyncio.run(serve(app, host=host, port=port, shutdown_timeout=shutdown_timeout, reuse_port=reuse_port))
