"""The admission controller's policy on the in-memory stores, with a test clock and no servers: the same
story the integration test tells on Redis (``tests/integration/test_admission_controller.py``), so the
controller's logic is checked in a second and its Redis plumbing there."""

from __future__ import annotations

import msgspec

from frontdoor.admission.controller import AdmissionController
from queue_config.broker import BrokerLink
from queue_config.planning.admission_plan import AdmissionPlan
from queue_config.planning.capacity import CapacityReport
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.memory import memory_stores
from queue_config.stores.memory.tickets import MemoryTicketStore
from queue_config.stores.tickets import RATE_BUCKET_SECONDS
from queue_config.topology import Topology
from tests.support.store_contract import Clock


async def _world(stores: Stores, clock: Clock, *, finishing: float, held: int) -> None:
    """Workers that finish ``finishing`` transfers a second and hold ``held`` of them."""
    tickets = stores.tickets
    assert isinstance(tickets, MemoryTicketStore)
    bucket = int(clock.now // RATE_BUCKET_SECONDS)
    into_current = clock.now - bucket * RATE_BUCKET_SECONDS
    tickets._finished_buckets[("transfer", bucket - 1)] = round(finishing * RATE_BUCKET_SECONDS)
    tickets._finished_buckets[("transfer", bucket)] = round(finishing * into_current)
    report = CapacityReport(
        at=clock.now,
        limit=8,
        inflight=8,
        held=held,
        latency=8 / max(finishing, 0.1),
        baseline=0.1,
        completed=0,
    )
    await stores.capacity.publish("worker-1", {"transfer": report})


async def _rate(
    controller: AdmissionController, stores: Stores, clock: Clock, *, finishing: float, held: int
) -> float:
    plan = None
    for _ in range(10):
        clock.now += 1
        await _world(stores, clock, finishing=finishing, held=held)
        plan = await controller.step()
    assert plan is not None
    rate = plan.kinds["transfer"].rate
    assert rate is not None
    return rate


async def test_the_rate_falls_with_capacity_and_rises_as_the_queue_drains() -> None:
    settings = Settings(namespace="unit", max_wait_seconds=60.0)
    clock = Clock(1_800_000_000.0)
    stores = memory_stores(settings, clock=clock)
    # The broker is never started: queue depth is unknown, so the backlog is what workers hold
    broker = BrokerLink(settings.amqp_url, Topology.from_settings(settings))
    controller = AdmissionController(stores, settings, broker, clock=clock)

    # Given workers finishing 50 transfers a second with 2000 waiting (2400 is the target at 60 s)
    healthy = await _rate(controller, stores, clock, finishing=50, held=2000)
    assert 50 < healthy < 200, healthy
    # When the core slows to 10 a second with the same queue, the door admits far less
    slowed = await _rate(controller, stores, clock, finishing=10, held=2000)
    assert slowed < healthy / 3, (healthy, slowed)
    written = await stores.control.last_plan()
    assert (
        written is not None
        and msgspec.json.decode(written, type=AdmissionPlan).kinds["transfer"].capacity < 20
    )
    # When the queue drains, the rate rises again
    drained = await _rate(controller, stores, clock, finishing=10, held=0)
    assert drained > slowed * 2, (slowed, drained)


async def test_only_the_lease_holder_plans() -> None:
    settings = Settings(namespace="unit")
    clock = Clock(1_800_000_000.0)
    stores = memory_stores(settings, clock=clock)
    broker = BrokerLink(settings.amqp_url, Topology.from_settings(settings))
    first = AdmissionController(stores, settings, broker, clock=clock)
    second = AdmissionController(stores, settings, broker, clock=clock)
    assert await first.step() is not None and first.leading
    assert await second.step() is None and not second.leading
    # The first stops renewing: once its lease ends, the second takes over
    clock.now += 10
    assert await second.step() is not None and second.leading
