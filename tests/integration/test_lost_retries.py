"""A retry whose message never comes back from its delay queue is republished, and applied once.

RabbitMQ dead-letters a message from a delay queue back to its work queue at most once: a broker that
stops during that hop loses it (17 of 300 tickets in a stop_app/start_app of 8 s stayed ``retrying``
for ever). Here the loss is made certain by purging the delay queues while the tickets wait in them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aio_pika
import aiohttp
import pytest
from redis.asyncio import Redis

from bench.coresim.model import CoreSettings
from bench.purge import purge_namespace
from queue_config.settings import Settings
from queue_config.stores.redis.record_fields import stored
from queue_config.ticket_ids import shard_of
from queue_config.topology import Topology
from tests.support.system import System, drain, start_system, submission


@pytest.fixture
async def slow_retries(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    # Retries wait about 5 s in their delay queue, which gives the test time to lose them there; a
    # message overdue by 1 s is republished.
    settings = fresh_namespace.replace(retry_base_seconds=5.0, retry_overdue_seconds=1.0)
    system = await start_system(settings, http, redis, core=CoreSettings(slots=16, service_ms=20))
    yield system
    await system.stop()
    # With these settings: their delay queues (5 s and up) are not the ones fresh_namespace would delete
    await purge_namespace(settings, redis)


async def _purge_delay_queues(settings: Settings, kind: str) -> int:
    purged = 0
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in Topology.from_settings(settings).delay_queue_names(kind):
            queue = await channel.declare_queue(name, passive=True)
            result = await queue.purge()
            purged += int(result.message_count or 0)
    return purged


async def test_a_retry_lost_between_its_delay_queue_and_its_work_queue_is_republished_and_applied_once(
    slow_retries: System,
) -> None:
    system = slow_retries
    # Given tickets whose first core call fails transiently, so each waits in a delay queue
    await system.add_fault({"scheme": "pension"}, transient=1)
    ids = []
    for i in range(6):
        code, doc, _ = await system.submit(
            submission(
                "payment", i, payload={"scheme": "pension", "amount_cents": 500 + i, "period": "2026-10"}
            )
        )
        assert code == 202, doc
        ids.append(doc["ticket_id"])
    delay_queues = Topology.from_settings(system.settings).delay_queue_names("payment")
    deadline = time.monotonic() + 20
    while sum([await system.queue_depth(q) for q in delay_queues]) < len(ids):
        assert time.monotonic() < deadline, "the retries never reached their delay queues"
        await asyncio.sleep(0.05)

    # When their messages are lost on the way back (as an at-most-once dead-letter hop loses them)
    started = time.monotonic()
    assert await _purge_delay_queues(system.settings, "payment") == len(ids)
    for ticket_id in ids:
        assert (await system.ticket(ticket_id))[1]["status"] == "retrying"

    # Then every ticket still ends done, each effect applied once, and the copies are gone again
    statuses = await drain(system, ids, timeout=60)
    assert set(statuses.values()) == {"done"}, statuses
    assert time.monotonic() - started < 45
    for ticket_id in ids:
        assert (await system.ledger(ticket_id))["effects"] == 1
        assert await system.redis.hget(system.names.ticket(ticket_id), stored("parcel")) is None
    for shard in system.names.shards:
        assert await system.redis.zcard(system.names.retrying("payment", shard)) == 0
    assert system.pool is not None and system.pool.sweeper.republished == len(ids)


async def test_a_retry_that_comes_back_on_time_is_not_republished(slow_retries: System) -> None:
    system = slow_retries
    await system.add_fault({"scheme": "unemployment"}, transient=1)
    code, doc, _ = await system.submit(
        submission("payment", 50, payload={"scheme": "unemployment", "amount_cents": 77, "period": "2026-10"})
    )
    assert code == 202
    done = await system.wait_for_status(doc["ticket_id"], {"done", "failed"}, timeout=40)
    assert done["status"] == "done" and done["attempts"] == 2
    await asyncio.sleep(1.5)  # past when it would have been overdue
    assert system.pool is not None and system.pool.sweeper.republished == 0
    assert await system.ledger(doc["ticket_id"]) == {"effects": 1, "calls": 2}


async def test_no_retry_is_republished_while_maintenance_holds_every_consumer(slow_retries: System) -> None:
    system = slow_retries
    assert system.pool is not None
    await system.add_fault({"scheme": "medical", "amount_cents": 91}, transient=1)
    code, doc, _ = await system.submit(
        submission("payment", 60, payload={"scheme": "medical", "amount_cents": 91, "period": "2026-10"})
    )
    assert code == 202
    await system.wait_for_status(doc["ticket_id"], {"retrying"}, timeout=20)
    # The pool's own sweeps stop while its retry is not yet due: one that began before maintenance
    # began would republish it, and this test's sweeps are to be the only ones.
    await system.pool.sweeper.stop()
    # Given its retry overdue (as it would be after its delay, in a maintenance nobody consumes in)
    await system.redis.zadd(
        system.names.retrying("payment", shard_of(doc["ticket_id"])), {doc["ticket_id"]: 1.0}
    )
    system.pool.maintenance.paused = True
    try:
        # Then the sweeper leaves it: its message waits in its work queue, a copy would be a duplicate
        assert await system.pool.sweeper.sweep() == 0
        assert (
            await system.redis.zscore(
                system.names.retrying("payment", shard_of(doc["ticket_id"])), doc["ticket_id"]
            )
            == 1.0
        )
    finally:
        system.pool.maintenance.paused = False
    assert await system.pool.sweeper.sweep() == 1
