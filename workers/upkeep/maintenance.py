"""Maintenance mode on the worker side: while the operator's throttle says ``maintenance``, this process
takes no new work. Consumers are cancelled, so tickets wait in RabbitMQ (readers show them ``held``);
deliveries already on their way are handed back untouched; tickets already with the core finish. When
the mode changes back, consumption resumes and nothing has been lost.
"""

from __future__ import annotations

import structlog

from queue_config.aio.periodic import Periodic
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.throttle import Mode
from workers.consumer import KindConsumer

log = structlog.get_logger("maintenance")

CHECK_SECONDS = 0.25


class MaintenanceSwitch:
    def __init__(self, plan: PlanReader, consumers: list[KindConsumer]) -> None:
        self._plan = plan
        self._consumers = consumers
        self.paused = False
        self._loop = Periodic("maintenance-switch", CHECK_SECONDS, self.step)

    async def step(self) -> None:
        wanted = self._plan.throttle.mode is Mode.MAINTENANCE
        if wanted == self.paused:
            return
        if wanted:
            self.paused = True  # before cancelling, so deliveries in flight are handed back
            for consumer in self._consumers:
                await consumer.pause()
            log.warning("maintenance_holding_work")
        else:
            self.paused = False  # before resuming, or the first deliveries would be handed back
            for consumer in self._consumers:
                await consumer.resume()
            log.warning("maintenance_over_resuming")

    async def prepare(self) -> bool:
        """Read the mode before the consumers start; True when they should start paused."""
        await self._plan.refresh()
        self.paused = self._plan.throttle.mode is Mode.MAINTENANCE
        return self.paused

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
