"""No 202 without the broker or Redis, and recovery on their return, with nothing accepted lost.

Each test starts its own RabbitMQ node or Redis server on a private port: the shared ones are never
stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.coresim.model import CoreSettings
from bench.private_rabbit import PrivateRabbit
from bench.private_redis import PrivateRedis
from bench.purge import purge_namespace
from queue_config.kinds import KINDS
from queue_config.settings import Settings
from queue_config.stores.redis.record_fields import stored
from tests.support.processes import kill_if_running, sigterm_and_wait, start_component
from tests.support.system import System, drain, start_system, submission
from workers.pool import WorkerPool


@pytest.fixture
async def private_rabbit() -> AsyncIterator[PrivateRabbit]:
    node = PrivateRabbit()
    await node.start()
    yield node
    await node.stop()


async def _submit_until(system: System, n: int, want: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, doc, _ = await system.submit(submission("payment", n))
        if code == want:
            return doc
        assert code in (202, 503), doc
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {want} within {timeout}s")


async def _ticket_count(redis: Redis, system: System) -> int:
    return len([k async for k in redis.scan_iter(f"{system.names.ticket_prefix}*")])


@pytest.mark.private_broker
async def test_no_202_while_rabbitmq_is_down_and_recovery_on_its_own(
    private_rabbit: PrivateRabbit,
    fresh_namespace: Settings,
    http: aiohttp.ClientSession,
    redis: Redis,
) -> None:
    settings = fresh_namespace.replace(amqp_url=private_rabbit.url, publish_timeout_seconds=2.0)
    system = await start_system(
        settings, http, redis, status=False, workers=False, core=CoreSettings(service_ms=20)
    )
    try:
        # Given a front door that accepts while its broker is up
        before = [await system.submit(submission("payment", i)) for i in range(5)]
        assert [code for code, _, _ in before] == [202] * 5

        # When the broker stops
        await private_rabbit.stop()

        # Then every submission gets 503 with Retry-After, and no ticket record is left behind
        tickets_before = await _ticket_count(redis, system)
        for i in range(100, 110):
            code, doc, headers = await system.submit(submission("payment", i))
            assert code == 503, doc
            assert doc["error"] == "unavailable" and int(headers["Retry-After"]) > 0
        assert await _ticket_count(redis, system) == tickets_before
        assert system.frontdoor is not None
        async with http.get(system.frontdoor.url + "/readyz") as r:
            assert r.status == 503 and (await r.json())["checks"]["broker"] is False

        # When the broker returns, the same front door accepts again by itself
        await private_rabbit.start()
        await _submit_until(system, 200, want=202, timeout=60)

        # And the tickets accepted before the outage survived the restart in their quorum queue
        assert len(await system.queued_ticket_ids(system.names.queue("payment"))) == 6

        # And workers started now finish every one of them exactly once
        system.pool = WorkerPool(system.settings, list(KINDS))
        await system.pool.start()
        ids = [doc["ticket_id"] for _, doc, _ in before]
        statuses = await _drain_via_store(system, ids)
        assert set(statuses.values()) == {"done"}
        for ticket_id in ids:
            assert await system.ledger(ticket_id) == {"effects": 1, "calls": 1}
    finally:
        await system.stop()
        await private_rabbit.start()  # so the namespace can be purged from it
        await purge_namespace(settings, redis)


@pytest.mark.private_broker
async def test_workers_resume_after_a_broker_restart_and_lose_nothing(
    private_rabbit: PrivateRabbit,
    fresh_namespace: Settings,
    http: aiohttp.ClientSession,
    redis: Redis,
) -> None:
    settings = fresh_namespace.replace(amqp_url=private_rabbit.url)
    system = await start_system(settings, http, redis, status=True, workers=True)
    try:
        first = [await system.submit(submission("transfer", i)) for i in range(10)]
        assert {code for code, _, _ in first} == {202}
        await private_rabbit.stop()
        await private_rabbit.start()
        second = await _submit_until(system, 500, want=202, timeout=60)
        ids = [doc["ticket_id"] for _, doc, _ in first] + [str(second["ticket_id"])]
        statuses = await drain(system, ids, timeout=90)
        assert set(statuses.values()) == {"done"}
        for ticket_id in ids:
            assert (await system.ledger(ticket_id))["effects"] == 1
    finally:
        await system.stop()
        await purge_namespace(settings, redis)


async def test_no_202_while_redis_is_down_and_recovery_on_its_own(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    private = PrivateRedis()
    await private.start()
    settings = fresh_namespace.replace(redis_url=private.url, redis_timeout_seconds=1.0)
    system = await start_system(settings, http, redis, status=False, workers=False)
    try:
        code, accepted, _ = await system.submit(submission("pension", 1))
        assert code == 202

        await private.stop()
        depth = await system.queue_depth(system.names.queue("pension"))
        for i in range(2, 6):
            code, doc, headers = await system.submit(submission("pension", i))
            assert code == 503 and int(headers["Retry-After"]) > 0, doc
        # Nothing was published for the refused submissions
        assert await system.queue_depth(system.names.queue("pension")) == depth

        await private.start()  # same directory: the AOF brings the first ticket back
        await _submit_until(system, 7, want=202, timeout=30)
        restored = Redis.from_url(private.url)
        try:
            assert await restored.exists(system.names.ticket(str(accepted["ticket_id"])))
        finally:
            await restored.aclose()
    finally:
        await system.stop()
        await private.stop()


async def _drain_via_store(system: System, ids: list[str], timeout: float = 60) -> dict[str, str]:
    """Like ``drain`` but reading the store directly (this system has no status API)."""
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for ticket_id in ids:
            raw = await system.redis.hget(system.names.ticket(ticket_id), stored("status"))
            statuses[ticket_id] = raw.decode() if isinstance(raw, bytes) else "missing"
        if all(s in ("done", "failed") for s in statuses.values()):
            return statuses
        await asyncio.sleep(0.2)
    raise AssertionError(f"not finished: {statuses}")


async def test_workers_ride_out_a_redis_restart_with_nothing_lost_or_doubled(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    # Given the whole system on a private Redis (append-only, fsync always) and a slow core system
    private = PrivateRedis()
    await private.start()
    settings = fresh_namespace.replace(redis_url=private.url, redis_timeout_seconds=1.0)
    system = await start_system(settings, http, redis, core=CoreSettings(slots=4, service_ms=150))
    try:
        ids = []
        for i in range(30):
            code, doc, _ = await system.submit(submission(("payment", "transfer", "pension")[i % 3], i))
            assert code == 202
            ids.append(str(doc["ticket_id"]))

        async def busy() -> bool:
            return (await system.ledger())["calls"] >= 5

        deadline = time.monotonic() + 30
        while not await busy():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)

        # When Redis goes away mid-processing and comes back two seconds later
        await private.stop()
        assert (await system.ledger())["effects"] < 30, "the outage must catch work in flight"
        await asyncio.sleep(2)
        await private.start()

        # Then every ticket ends done, each effect applied exactly once
        statuses = await drain(system, ids, timeout=120)
        assert set(statuses.values()) == {"done"}
        for ticket_id in ids:
            assert (await system.ledger(ticket_id))["effects"] == 1
    finally:
        await system.stop()
        await private.stop()


@pytest.mark.private_broker
async def test_a_worker_whose_broker_is_gone_stops_at_once_on_sigterm(
    private_rabbit: PrivateRabbit, fresh_namespace: Settings
) -> None:
    # Given a worker process consuming from a broker that then dies
    settings = fresh_namespace.replace(amqp_url=private_rabbit.url)
    worker = start_component("workers", settings, log_name=f"gone-{fresh_namespace.namespace}")
    try:
        await asyncio.sleep(5)
        assert worker.poll() is None
        await private_rabbit.kill()
        await asyncio.sleep(2)  # it is reconnecting now, every second

        # When it is asked to stop
        code, took = await sigterm_and_wait(worker, 60)
    finally:
        kill_if_running(worker)
    # Then it exits cleanly within seconds: its robust channels used to hold each stop call until the
    # broker came back, and it waited out its whole stop timeout (30 s) instead
    assert code == 0
    assert took < 10, took
