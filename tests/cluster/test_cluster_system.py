"""The whole system, unchanged, on the cluster: every kind end to end with its tickets spread over the
Redis primaries and its messages over three queue shards, long-polls woken through cluster pub/sub, one
admission controller between two doors, and the queue leaders spread over the RabbitMQ nodes."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from bench.local_cluster import LocalCluster
from frontdoor.app import build_app as build_frontdoor
from frontdoor.app_keys import BROKER
from queue_config.key_shards import key_slot, shard_tag
from queue_config.kinds import KINDS
from queue_config.settings import Settings
from queue_config.ticket_ids import shard_of
from queue_config.topology import Topology
from tests.support.system import Served, System, drain, submission

pytestmark = pytest.mark.cluster


async def test_every_kind_runs_end_to_end_over_every_primary(
    cluster_system: System, cluster: LocalCluster
) -> None:
    system = cluster_system
    ids = []
    for kind in KINDS:
        for _ in range(12):
            code, doc, _ = await system.submit(submission(kind, system.next_n()))
            assert code == 202, doc
            ids.append(doc["ticket_id"])
    statuses = await drain(system, ids, timeout=90)
    assert set(statuses.values()) == {"done"}, statuses
    for ticket_id in ids:
        assert (await system.ledger(ticket_id))["effects"] == 1
    # The tickets lived on every primary of the cluster, not on one
    primaries = {
        (await asyncio.to_thread(cluster.redis_primary_of, key_slot(shard_tag(shard_of(t))))).port
        for t in ids
    }
    assert len(primaries) == 3, primaries


async def test_a_long_poll_wakes_on_its_tickets_change(cluster_system: System) -> None:
    system = cluster_system
    code, doc, _ = await system.submit(submission("pension", system.next_n()))
    assert code == 202
    await system.wait_for_status(doc["ticket_id"], {"done"}, timeout=30)
    # A ticket that changes while its client waits: the answer comes with the change, not the timeout
    code, doc, _ = await system.submit(submission("transfer", system.next_n()))
    started = time.monotonic()
    status_code, seen = await system.ticket(doc["ticket_id"], wait=20)
    while status_code == 200 and seen["status"] not in ("done", "failed") and time.monotonic() - started < 20:
        status_code, seen = await system.ticket(doc["ticket_id"], wait=20)
    assert seen["status"] == "done"
    assert time.monotonic() - started < 10


async def test_two_doors_share_one_controller_lease(
    cluster_settings: Settings, cluster_system: System, cluster_redis: Redis
) -> None:
    second = await Served(await build_frontdoor(cluster_settings)).start()
    try:
        await second.app[BROKER].wait_connected(20)
        await asyncio.sleep(2.5)
        lease = await cluster_redis.get(cluster_system.names.controller_lease)
        assert lease is not None
        # The lease is one identity's; the plan both doors read is fresh
        plan = await cluster_redis.get(cluster_system.names.admission_plan)
        assert plan is not None
    finally:
        await second.stop()


async def test_queue_leaders_are_spread_over_the_nodes(cluster_system: System, cluster: LocalCluster) -> None:
    # Leaders go to the node leading fewest when a queue is declared ("balanced"); right after a node
    # restart (the failover tests) that node leads nothing and takes every new leader until it catches
    # up, so first the rebalance an operator runs after a restart.
    await asyncio.to_thread(cluster.rabbits[0].rebalance_quorum_leaders)
    topology = Topology.from_settings(cluster_system.settings)
    work_queues = [queue for kind in KINDS for queue in topology.work_queues(kind)]
    assert len(work_queues) == 3 * len(KINDS)
    leaders = [(await asyncio.to_thread(cluster.queue_leader, queue)).name for queue in work_queues]
    assert len(set(leaders)) >= 2, leaders
