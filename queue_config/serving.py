"""Serving an aiohttp application until SIGTERM or SIGINT, shared by every HTTP entry point.

Not ``web.run_app``: it raises ``GracefulExit`` on every signal, so the SIGINT of a Ctrl-C followed by
the SIGTERM of a supervisor lands a second exception in the middle of the first shutdown and can leave
the process hanging. Here any number of signals only set one event, and shutdown runs once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable

from aiohttp import web


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
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=2048, reuse_port=reuse_port or None).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def run(
    app: web.Application | Awaitable[web.Application],
    *,
    host: str,
    port: int,
    shutdown_timeout: float = 10.0,
    reuse_port: bool = False,
) -> None:
    asyncio.run(serve(app, host=host, port=port, shutdown_timeout=shutdown_timeout, reuse_port=reuse_port))
