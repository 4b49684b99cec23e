"""The worker process: one consumer per kind it serves, sharing a broker link, a store and a core client."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import structlog
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential_jitter

from queue_config.broker import BrokerLink
from queue_config.observability.loop_lag import LoopLag
from queue_config.planning.admission_plan import PlanReader
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.topology import Topology
from queue_config.web.callback_urls import CallbackPolicy
from workers.bulk.batch_callbacks import BatchCallbacks
from workers.bulk.bundle_mover import BundleMover
from workers.consumer import KindConsumer
from workers.core_calls.concurrency_limit import AdaptiveLimit, LimitParams
from workers.core_calls.core_client import CoreSystem, HttpCoreClient
from workers.core_calls.handlers import HANDLERS
from workers.core_calls.limited_core import LimitedCore
from workers.processor import Processor
from workers.retries.retry_policy import RetryPolicy
from workers.retries.retry_sweeper import RetrySweeper
from workers.upkeep.archive_mover import ArchiveMover
from workers.upkeep.capacity_reporter import CapacityReporter
from workers.upkeep.maintenance import MaintenanceSwitch
from workers.upkeep.metrics_server import MetricsServer

log = structlog.get_logger("pool")

# How long a starting worker waits for Redis before it gives up and exits.
START_PATIENCE_SECONDS = 60.0


class WorkerPool:
    def __init__(self, settings: Settings, kinds: list[str], core: CoreSystem | None = None) -> None:
        self._settings = settings
        topology = Topology.from_settings(settings)
        self._stores = stores = Stores.open(settings)
        self.broker = BrokerLink(
            settings.amqp_url,
            topology,
            publisher_channels=2,
            publish_timeout=settings.publish_timeout_seconds,
        )
        total = sum(settings.worker_concurrency.get(k, 1) for k in kinds)
        self._owned_core = (
            None
            if core is not None
            else HttpCoreClient(
                settings.core_url, timeout_seconds=settings.core_timeout_seconds, max_connections=total
            )
        )
        store = stores.tickets
        self.limits = {
            kind: AdaptiveLimit(
                LimitParams(
                    max_limit=settings.worker_concurrency.get(kind, 1),
                    adaptive=settings.adaptive_concurrency,
                )
            )
            for kind in kinds
        }
        limited = LimitedCore(core or self._owned_core, self.limits)  # type: ignore[arg-type]
        self._plan = PlanReader(stores.control, stores.notices, stores.throttle.defaults)
        processor = Processor(
            store=store,
            broker=self.broker,
            core=limited,
            handlers=HANDLERS,
            retry=RetryPolicy(
                topology,
                max_attempts=settings.max_attempts,
                base_seconds=settings.retry_base_seconds,
                max_seconds=settings.retry_max_seconds,
            ),
            paused=lambda: self.maintenance.paused,
            slots={kind: asyncio.Semaphore(settings.worker_concurrency.get(kind, 1)) for kind in kinds},
            retry_overdue_seconds=settings.retry_overdue_seconds,
        )
        self.sweeper = RetrySweeper(
            store,
            self.broker,
            kinds,
            interval=min(5.0, settings.retry_overdue_seconds / 2),
            paused=lambda: self.maintenance.paused,
        )
        # The kind's prefetch is split over its shards, so a process holds no more messages than with
        # one queue; the processor's slots and adaptive limit bound the core calls whatever it holds.
        self.consumers = [
            KindConsumer(
                kind,
                topology,
                broker=self.broker,
                processor=processor,
                concurrency=math.ceil(settings.worker_concurrency.get(kind, 1) / settings.queue_shards),
                shard=shard,
            )
            for kind in kinds
            for shard in range(settings.queue_shards)
        ]
        # Two bundles a kind at once: each already puts its 200 tickets' publishes in flight together.
        mover = BundleMover(self.broker, paused=lambda: self.maintenance.paused)
        self.movers = [
            KindConsumer(kind, topology, broker=self.broker, processor=mover, concurrency=2, staging=True)
            for kind in kinds
        ]
        self.maintenance = MaintenanceSwitch(self._plan, self.consumers + self.movers)
        self.callbacks = BatchCallbacks(
            stores.batches,
            stores.enterprises,
            max_attempts=settings.callback_max_attempts,
            first_delay=settings.callback_first_delay_seconds,
            timeout=settings.callback_timeout_seconds,
            policy=CallbackPolicy.from_settings(settings),
        )
        self.archive_mover = (
            ArchiveMover(
                stores.done,
                stores.archive,
                after_seconds=settings.archive_after_seconds,
                retention_seconds=settings.archive_retention_seconds,
                interval=settings.archive_interval_seconds,
            )
            if stores.archive is not None and stores.done is not None
            else None
        )
        self.loop_lag = LoopLag(gc_young_threshold=settings.gc_young_threshold)
        self.metrics = MetricsServer(
            settings.host,
            settings.worker_metrics_port,
            {"broker": self._broker_ready, "redis": stores.probe},
        )
        self.reporter = CapacityReporter(
            stores.capacity,
            self.limits,
            lambda kind: sum(c.inflight for c in self.consumers if c.kind == kind),
        )

    async def _broker_ready(self) -> bool:
        return self.broker.ready

    async def start(self) -> None:
        # The metrics port first: whatever can fail at start fails before a single message is taken.
        await self.metrics.start()
        log.info("worker_metrics_serving", port=self.metrics.port)
        await self.loop_lag.start()
        await self.broker.start()
        await self.broker.wait_connected()
        # Redis restarting when this process starts is no reason to exit: wait for it a while, as for
        # the broker (a worker restarted during a Redis restart exited twice in the 30-minute soak).
        async for attempt in AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2),
            stop=stop_after_delay(START_PATIENCE_SECONDS),
            reraise=True,
        ):
            with attempt:
                paused = await self.maintenance.prepare()
        for consumer in self.consumers + self.movers:
            await consumer.start(consume=not paused)
        await self._plan.start()
        await self.maintenance.start()
        await self.reporter.start()
        await self.callbacks.start()
        await self.sweeper.start()
        if self.archive_mover is not None:
            await self.archive_mover.start()

    async def stop(self) -> None:
        """Stop everything, also after a start that failed half-way: each step runs whatever the
        others did, so the broker connection is always closed and every unacked message handed back."""
        grace = self._settings.shutdown_grace_seconds
        steps: list[Callable[[], Awaitable[object]]] = [
            self.metrics.stop,
            self.loop_lag.stop,
            self.sweeper.stop,
            *([self.archive_mover.stop] if self.archive_mover is not None else []),
            self.callbacks.stop,
            self.reporter.stop,
            self.maintenance.stop,
            self._plan.stop,
            lambda: asyncio.gather(*(c.stop(grace) for c in self.consumers + self.movers)),
            self.broker.close,
        ]
        if self._owned_core is not None:
            steps.append(self._owned_core.close)
        steps.append(self._stores.close)
        for step in steps:
            try:
                await step()
            except Exception as exc:
                log.warning("stop_step_failed", step=getattr(step, "__qualname__", "?"), error=repr(exc))
        log.info("pool_stopped")
