"""A kind spread over several work queues (``QUEUE_SHARDS``): doors deal messages over the shards,
workers drain all of them, retries and refusals still end where they must, and the backlog the
admission controller reads is the kind's, summed over its shards."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from redis.asyncio import Redis

from bench.coresim.model import CoreSettings
from bench.purge import purge_namespace
from frontdoor.app_keys import CONTROLLER
from queue_config.broker import BrokerLink
from queue_config.kinds import KINDS
from queue_config.messages import TicketMessage, encode
from queue_config.settings import Settings
from queue_config.topology import Topology
from tests.support.system import drain, start_system, submission
from workers.pool import WorkerPool

SHARDS = 3


async def test_a_sharded_kind_is_dealt_over_its_queues_and_drained_from_all_of_them(
    fresh_namespace: Settings, redis: Redis, http: aiohttp.ClientSession
) -> None:
    # Given a door whose payments go over three work queues, and no worker yet
    settings = fresh_namespace.replace(queue_shards=SHARDS, publisher_channels=1)
    system = await start_system(
        settings, http, redis, workers=False, core=CoreSettings(slots=16, service_ms=20)
    )
    try:
        # When 30 payments arrive one after another (each its own message)
        issued = []
        for n in range(30):
            code, doc, _ = await system.submit(submission("payment", n))
            assert code == 202, doc
            issued.append(doc["ticket_id"])
        # Then every shard holds a third of them, each ticket in exactly one
        queues = Topology.from_settings(settings).work_queues("payment")
        assert queues == [system.names.queue("payment", s) for s in range(SHARDS)]
        held = [await system.queued_ticket_ids(q) for q in queues]
        assert [len(h) for h in held] == [10, 10, 10]
        assert sorted(t for h in held for t in h) == sorted(issued)
        # And the controller's backlog is the kind's, over all its shards
        assert system.frontdoor is not None
        assert await system.frontdoor.app[CONTROLLER]._queue_depth("payment") == 30

        # When workers start
        system.pool = WorkerPool(system.settings, list(KINDS))
        await system.pool.start()
        # Then every ticket is done, applied once, and every shard is empty
        assert set((await drain(system, issued)).values()) == {"done"}
        for ticket_id in issued:
            assert (await system.ledger(ticket_id))["effects"] == 1
        assert [await system.queue_depth(q) for q in queues] == [0, 0, 0]
    finally:
        await system.stop()
        await purge_namespace(settings, redis)  # the fixture's settings know only the first shard


async def test_retries_and_refusals_from_any_shard_end_where_they_must(
    fresh_namespace: Settings, redis: Redis, http: aiohttp.ClientSession
) -> None:
    # Given three payment shards, workers, and a core that fails some calls once and refuses others
    settings = fresh_namespace.replace(queue_shards=SHARDS, publisher_channels=1)
    system = await start_system(settings, http, redis)
    try:
        flaky: list[str] = []
        refused: list[str] = []
        # When six flaky and six refused payments arrive one by one (so every shard gets some)
        for n in range(12):
            body = submission("payment", n)
            amount = 4_343_000 + n
            body["payload"]["amount_cents"] = amount
            if n % 2:
                await system.add_fault({"amount_cents": amount}, permanent=True)
            else:
                await system.add_fault({"amount_cents": amount}, transient=1)
            code, doc, _ = await system.submit(body)
            assert code == 202, doc
            (refused if n % 2 else flaky).append(doc["ticket_id"])
        # Then the flaky ones are retried and done once
        statuses = await drain(system, flaky + refused)
        for ticket_id in flaky:
            assert statuses[ticket_id] == "done"
            assert await system.ledger(ticket_id) == {"effects": 1, "calls": 2}
        # And the refused ones, dead-lettered from whichever shard held them, are all in the dead queue
        dead = await system.dead_letter_ids("payment")
        for ticket_id in refused:
            assert statuses[ticket_id] == "failed"
            assert ticket_id in dead
            assert (await system.ledger(ticket_id))["effects"] == 0
    finally:
        await system.stop()
        await purge_namespace(settings, redis)  # the fixture's settings know only the first shard


async def test_retries_come_back_dealt_over_every_shard(
    fresh_namespace: Settings, redis: Redis, http: aiohttp.ClientSession
) -> None:
    # Given three payment shards and no worker (so what comes back from the delay queues stays put)
    settings = fresh_namespace.replace(queue_shards=SHARDS, publisher_channels=1)
    system = await start_system(settings, http, redis, workers=False)
    topology = Topology.from_settings(settings)
    broker = BrokerLink(settings.amqp_url, topology, publisher_channels=1)
    await broker.start()
    try:
        await broker.wait_connected(timeout=10)
        # When six retries are parked in the shortest delay queue, as a worker parks them
        ttl = topology.delay_ttls()[0]
        ids = [f"retry-{n}" for n in range(6)]
        for ticket_id in ids:
            message = TicketMessage(
                ticket_id=ticket_id, kind="payment", citizen_id="x", payload={}, created_at=time.time()
            )
            await broker.publish(encode(message), routing_key="payment", message_id=ticket_id, delay_ms=ttl)
        assert await system.queue_depth(system.names.delay_queue("payment", ttl)) == 6
        # Then after their wait they are back in the work queues, two in each shard, none lost
        queues = topology.work_queues("payment")
        deadline = time.monotonic() + ttl / 1000 + 20
        while sum([await system.queue_depth(q) for q in queues]) < len(ids):
            assert time.monotonic() < deadline, "the retries never came back from their delay queue"
            await asyncio.sleep(0.1)
        held = [await system.queued_ticket_ids(q) for q in queues]
        assert [len(h) for h in held] == [2, 2, 2]
        assert sorted(t for h in held for t in h) == sorted(ids)
    finally:
        await broker.close()
        await system.stop()
        await purge_namespace(settings, redis)
