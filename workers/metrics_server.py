"""The worker process's own small HTTP server: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz``.
Workers have no public API, but operators scrape and probe them like every other component."""

from __future__ import annotations

from aiohttp import web

from queue_config.health import Probe, add_health_routes
from queue_config.metrics import add_metrics_route


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
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        if self._runner.addresses:  # the bound port, when 0 asked for a free one
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
