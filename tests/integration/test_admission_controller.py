"""The admission controller against real Redis, with the workers' reports and completions written as
they would be: its plan's rate falls when capacity falls and rises when the queue drains; only one of
several controllers acts; a new leader resumes the forecast."""

from __future__ import annotations

import uuid

import msgspec
from redis.asyncio import Redis

from frontdoor.admission.controller import AdmissionController
from queue_config.broker import BrokerLink
from queue_config.names import Names
from queue_config.planning.capacity import CapacityReport
from queue_config.settings import Settings
from queue_config.stores.redis.backend import redis_stores
from queue_config.stores.redis.capacity import RedisCapacityBoard
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.tickets import RATE_BUCKET_SECONDS, Commit, NewTicket, TicketStore
from queue_config.stores.traffic import ARRIVALS
from queue_config.topology import Topology


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _controller(settings: Settings, redis: Redis, clock: Clock) -> AdmissionController:
    # The broker is never started: queue depth is unknown, so the backlog is what workers hold
    broker = BrokerLink(settings.amqp_url, Topology.from_settings(settings))
    return AdmissionController(redis_stores(settings, redis=redis), settings, broker, clock=clock)


async def _world(redis: Redis, names: Names, clock: Clock, *, finishing: float, held: int) -> None:
    """Workers that finish ``finishing`` transfers a second and hold ``held`` of them."""
    bucket = int(clock.now // RATE_BUCKET_SECONDS)
    into_current = clock.now - bucket * RATE_BUCKET_SECONDS
    # (in one key shard, the others cleared: the readers sum over all of them)
    await redis.delete(
        *[names.finished_bucket("transfer", b, s) for b in (bucket - 1, bucket) for s in names.shards]
    )
    await redis.set(names.finished_bucket("transfer", bucket - 1, 3), round(finishing * RATE_BUCKET_SECONDS))
    await redis.set(names.finished_bucket("transfer", bucket, 3), round(finishing * into_current))
    report = CapacityReport(
        at=clock.now,
        limit=8,
        inflight=8,
        held=held,
        latency=8 / max(finishing, 0.1),
        baseline=0.1,
        completed=0,
    )
    await RedisCapacityBoard(redis, names).publish("worker-1", {"transfer": report})


async def _rate(
    controller: AdmissionController, redis: Redis, names: Names, clock: Clock, *, finishing: float, held: int
) -> float:
    """The rate the controller settles on after ten seconds of this world."""
    plan = None
    for _ in range(10):
        clock.now += 1
        await _world(redis, names, clock, finishing=finishing, held=held)
        plan = await controller.step()
    assert plan is not None
    rate = plan.kinds["transfer"].rate
    assert rate is not None
    return rate


async def test_the_rate_falls_with_capacity_and_rises_as_the_queue_drains(
    fresh_namespace: Settings, redis: Redis
) -> None:
    settings = fresh_namespace.replace(max_wait_seconds=60.0)
    names = Names(settings.namespace)
    clock = Clock(1_800_000_000.0)
    controller = _controller(settings, redis, clock)

    # Given workers finishing 50 transfers a second with 2000 waiting (2400 is the target at 60 s)
    healthy = await _rate(controller, redis, names, clock, finishing=50, held=2000)
    assert 50 < healthy < 200, healthy

    # When the core slows and they finish only 10 a second, with the same queue
    slowed = await _rate(controller, redis, names, clock, finishing=10, held=2000)
    # Then the door admits far less (2000 waiting is more than 10/s can finish in 48 s)
    assert slowed < healthy / 3, (healthy, slowed)
    plan = msgspec.json.decode(await redis.get(names.admission_plan) or b"null")
    assert plan["kinds"]["transfer"]["capacity"] < 20

    # When the queue drains
    drained = await _rate(controller, redis, names, clock, finishing=10, held=0)
    # Then the rate rises again
    assert drained > slowed * 2, (slowed, drained)


async def test_only_the_lease_holder_acts_and_a_successor_resumes_its_forecast(
    fresh_namespace: Settings, redis: Redis
) -> None:
    names = Names(fresh_namespace.namespace)
    clock = Clock(1_800_000_000.0)
    first = _controller(fresh_namespace, redis, clock)
    second = _controller(fresh_namespace, redis, clock)
    # Given two hours of counted arrivals
    minute = int(clock.now) // 60
    for m in range(minute - 120, minute):
        await redis.set(names.traffic_minute("transfer", ARRIVALS, m), 100)

    # When both controllers step
    plan = await first.step()
    assert plan is not None and first.leading
    assert await second.step() is None and not second.leading
    forecaster = first.forecaster("transfer")
    assert forecaster is not None and forecaster.mean(5) == 100.0

    # And the leader goes away (its lease lapses)
    await first.stop()
    await redis.delete(names.controller_lease)
    clock.now += 60

    # Then the other takes over with the forecast state the first one stored
    assert await second.step() is not None and second.leading
    resumed = second.forecaster("transfer")
    assert resumed is not None and resumed.last_minute is not None
    assert resumed.last_minute >= minute - 1 and resumed.mean(5) == 100.0


async def test_a_controller_starting_after_the_plan_expired_resumes_capacity_and_calibration(
    fresh_namespace: Settings, redis: Redis
) -> None:
    names = Names(fresh_namespace.namespace)
    clock = Clock(1_800_000_000.0)
    # Given a controller that measured workers finishing 50 transfers a second, then a wider calibration
    first = _controller(fresh_namespace, redis, clock)
    await _rate(first, redis, names, clock, finishing=50, held=2000)
    store = _store(redis, names, clock)
    await _tickets_finishing(store, clock, 30, model=10.0, took=20.0)
    before = await first.step()
    assert before is not None and before.kinds["transfer"].capacity > 30

    # When every door is gone past the plan's lifetime, and a new one starts with nothing measured yet
    await first.stop()
    await redis.delete(names.admission_plan, names.controller_lease)
    clock.now += 600
    after = await _controller(fresh_namespace, redis, clock).step()

    # Then it starts from what was measured, not from ASSUMED_DRAIN_PER_SECOND (10) and a factor of 1
    assert after is not None
    assert after.kinds["transfer"].capacity == before.kinds["transfer"].capacity
    assert before.kinds["transfer"].capacity_measured and after.kinds["transfer"].capacity_measured
    assert after.kinds["transfer"].eta_scale == before.kinds["transfer"].eta_scale > 1.5
    assert after.kinds["transfer"].eta_calibrated


def _store(redis: Redis, names: Names, clock: Clock) -> TicketStore:
    return RedisTicketStore(redis, names, ticket_ttl=600, idempotency_ttl=600, pending_ttl=60, clock=clock)


async def _tickets_finishing(
    store: TicketStore, clock: Clock, n: int, *, model: float | None, took: float
) -> None:
    """``n`` transfers promised with the model's p90 at ``model`` seconds (None: a promise on the
    assumed rate, 10 s) that finish ``took`` later."""
    ids = [uuid.uuid4().hex for _ in range(n)]
    for ticket_id in ids:
        await store.reserve(NewTicket(ticket_id, "transfer", "scope", ticket_id, None, "110105******0025"))
    await store.commit_many("transfer", [Commit(t, clock.now + (model or 10.0), model) for t in ids])
    clock.now += took
    for ticket_id in ids:
        assert await store.finish(ticket_id, "transfer", result={"ok": True})


async def test_promises_are_widened_by_what_the_last_minute_needed_and_narrowed_again_at_once(
    fresh_namespace: Settings, redis: Redis
) -> None:
    names = Names(fresh_namespace.namespace)
    clock = Clock(1_800_000_000.0)
    controller = _controller(fresh_namespace, redis, clock)
    store = _store(redis, names, clock)

    # Given 30 tickets that took 2.5 times the model's p90 for them
    await _tickets_finishing(store, clock, 30, model=10.0, took=25.0)
    plan = await controller.step()
    # Then the next promises are 2.5 times wider (read off the grid: at most 10 % above)
    assert plan is not None
    assert 2.5 <= plan.kinds["transfer"].eta_scale <= 2.75, plan.kinds["transfer"]
    assert plan.kinds["transfer"].eta_calibrated

    # When, a minute later, 30 tickets finish at half the model's p90
    clock.now += 60
    await _tickets_finishing(store, clock, 30, model=10.0, took=5.0)
    plan = await controller.step()
    # Then the promises narrow back to the model's own p90 in one step, with no wind-up to unwind
    assert plan is not None
    assert plan.kinds["transfer"].eta_scale == 1.0


async def test_capacity_is_an_assumption_until_tickets_have_finished_under_load_for_ten_seconds(
    fresh_namespace: Settings, redis: Redis
) -> None:
    names = Names(fresh_namespace.namespace)
    clock = Clock(1_800_000_000.0)
    controller = _controller(fresh_namespace, redis, clock)
    store = _store(redis, names, clock)
    # Given a new namespace: nothing measured, so the plan says its capacity is the assumption
    plan = await controller.step()
    assert plan is not None
    assert (plan.kinds["transfer"].capacity, plan.kinds["transfer"].capacity_measured) == (10.0, False)
    assert not plan.kinds["transfer"].eta_calibrated

    # When 30 tickets promised on that assumption finish three times later than promised
    await _tickets_finishing(store, clock, 30, model=None, took=30.0)
    # And workers then finish 4 transfers a second with work waiting, for 10 s
    for _ in range(10):
        clock.now += 1
        await _world(redis, names, clock, finishing=4, held=200)
        plan = await controller.step()
        assert plan is not None and not plan.kinds["transfer"].capacity_measured
    clock.now += 1
    await _world(redis, names, clock, finishing=4, held=200)
    plan = await controller.step()

    # Then the capacity is measured, near what they finish; the late tickets measured the assumption,
    # not the model, so the promises are not widened by them
    assert plan is not None
    measured = plan.kinds["transfer"]
    assert measured.capacity_measured and 4.0 <= measured.capacity <= 5.0, measured
    assert measured.eta_scale == 1.0 and not measured.eta_calibrated


async def test_enterprise_traffic_takes_at_most_its_share_of_the_rate(
    fresh_namespace: Settings, redis: Redis
) -> None:
    settings = fresh_namespace.replace(max_wait_seconds=60.0, enterprise_share=0.3)
    names = Names(settings.namespace)
    clock = Clock(1_800_000_000.0)
    controller = _controller(settings, redis, clock)
    # Given enterprises offering 1,000 bulk items a second, far more than the whole rate
    for s in range(int(clock.now) - 20, int(clock.now) + 20):
        await redis.set(names.traffic_second("transfer", "enterprise", s), 1000)
    await _rate(controller, redis, names, clock, finishing=50, held=2000)
    plan = msgspec.json.decode(await redis.get(names.admission_plan) or b"null")["kinds"]["transfer"]
    # Then they get 30 % of it and the citizens keep the rest
    total = plan["rate"] + plan["enterprise_rate"]
    assert plan["enterprise_rate"] == round(0.3 * total, 3)
    assert plan["rate"] >= 0.7 * total - 0.01


async def test_the_queue_depth_read_from_rabbitmq_follows_the_queue(
    fresh_namespace: Settings, redis: Redis
) -> None:
    # aio-pika's robust channel caches a declared queue: a second declare_queue returned the first count
    broker = BrokerLink(fresh_namespace.amqp_url, Topology.from_settings(fresh_namespace))
    await broker.start()
    try:
        await broker.wait_connected(20)
        controller = AdmissionController(redis_stores(fresh_namespace, redis=redis), fresh_namespace, broker)
        depths = []
        for batch in (3, 4):
            for i in range(batch):
                await broker.publish(b"{}", routing_key="transfer", message_id=f"m{batch}-{i}")
            depths.append(await controller._queue_depth("transfer"))
        assert depths == [3, 7]
    finally:
        await broker.close()


async def test_the_backlog_counts_tickets_not_messages(fresh_namespace: Settings, redis: Redis) -> None:
    names = Names(fresh_namespace.namespace)
    clock = Clock(1_800_000_000.0)
    # Given 500 transfers queued and 120 finished, in bundles RabbitMQ would count as a few messages
    # (spread over key shards, as the ticket store keeps them)
    await redis.set(names.enqueued_count("transfer", 0), 300)
    await redis.set(names.enqueued_count("transfer", 7), 200)
    await redis.set(names.finished_count("transfer", 15), 120)

    # When the controller steps
    plan = await _controller(fresh_namespace, redis, clock).step()

    # Then the backlog it admits against is the 380 tickets waiting
    assert plan is not None and plan.kinds["transfer"].backlog == 380
