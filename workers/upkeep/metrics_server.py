"""The worker process's own small HTTP server: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz``.
Workers have no public API, but operators scrape and probe them like every other component."""

from __future__ import annotations

import errno

import structlog
from aiohttp import web

from queue_config.observability.metrics import add_metrics_route
from queue_config.web.health import Probe, add_health_routes

log = structlog.get_logger("metrics_server")


class MetricsServer:
    def __init__(self, host: str, port: int, probes: dict[str, Probe]) -> None:
        app = web.Application()
        add_metrics_route(app)
        add_health_routes(app, probes)
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self.port = port

    async def start(self) -> None:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self.port).start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or self.port == 0:
                raise
            # Another worker process on this host has the default port: any number of them may share
            # a host with the defaults, so this one takes a free port and says which.
            log.warning("worker_metrics_port_taken", port=self.port)
            await web.TCPSite(self._runner, self._host, 0).start()
        if self._runner.addresses:  # the bound port, when 0 asked for a free one
            self.port = int(self._runner.addresses[-1][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
