"""A ticket's reservation is on a replica before its 202, and its commit when the commit returns (Redis
WAIT, ``pipelined``): a primary lost right after the 202 cannot take the ticket's idempotency and dedupe
keys with it. When no
replica answers in time the 202 still goes out (the message in RabbitMQ is the durable copy) and the
metric counts it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import pytest
from redis.asyncio import Redis

from bench.cluster_nodes import RedisNode
from bench.local_cluster import LocalCluster
from queue_config.key_shards import key_slot, shard_of_scope, shard_tag
from queue_config.names import Names
from queue_config.observability.metrics import UNREPLICATED
from queue_config.settings import Settings
from queue_config.stores.redis.backend import redis_stores
from queue_config.stores.redis.record_fields import stored
from queue_config.stores.tickets import NewTicket
from queue_config.ticket_ids import TicketIds

pytestmark = pytest.mark.cluster

IDS = TicketIds(b"durability-test-secret-32-bytes!")


async def _reserve_and_commit(stores_settings: Settings, redis: Redis, scope: str) -> str:
    stores = redis_stores(stores_settings, redis=redis)
    ticket = NewTicket(IDS.mint(shard_of_scope(scope)), "payment", scope, uuid.uuid4().hex, None, "x")
    await stores.tickets.reserve(ticket)
    await stores.tickets.commit(ticket.ticket_id, "payment")
    return ticket.ticket_id


async def _primary_and_replica(cluster: LocalCluster, scope: str) -> tuple[RedisNode, RedisNode]:
    """The primary that holds ``scope``'s key shard, and its replica."""
    primary = await asyncio.to_thread(cluster.redis_primary_of, key_slot(shard_tag(shard_of_scope(scope))))
    return primary, await asyncio.to_thread(cluster.replica_of, primary)


async def test_a_committed_ticket_is_on_the_replica_when_commit_returns(
    cluster: LocalCluster, cluster_settings: Settings, cluster_redis: Redis
) -> None:
    scope = uuid.uuid4().hex
    _, replica = await _primary_and_replica(cluster, scope)
    before = UNREPLICATED._value.get()
    ticket_id = await _reserve_and_commit(cluster_settings, cluster_redis, scope)
    # Read from the replica itself, at once: WAIT answered only once it had the writes
    direct = Redis(port=replica.port)
    try:
        await direct.execute_command("READONLY")  # type: ignore[no-untyped-call]
        record = await direct.hgetall(Names(cluster_settings.namespace).ticket(ticket_id))
    finally:
        await direct.aclose()
    assert record[stored("status").encode()] == b"queued"
    assert UNREPLICATED._value.get() == before


async def test_a_replica_too_slow_to_confirm_delays_the_commit_no_longer_than_the_timeout(
    cluster: LocalCluster, cluster_settings: Settings, cluster_redis: Redis
) -> None:
    scope = uuid.uuid4().hex
    _, replica = await _primary_and_replica(cluster, scope)
    before = UNREPLICATED._value.get()
    # Given the replica stopped (SIGSTOP: it cannot acknowledge anything until SIGCONT)
    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        await _reserve_and_commit(cluster_settings, cluster_redis, scope)
        took = time.monotonic() - started
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    # Then the reservation and the commit each returned after the WAIT's timeout, not after the replica
    # woke, and each was counted
    assert took < 1.0, took
    assert UNREPLICATED._value.get() == before + 2
