"""The local cluster of ``scripts/cluster.sh`` (3 RabbitMQ nodes, Redis Cluster 3+3): used when it runs
(``.ci/run`` starts it before the tests and stops it after), else started here and stopped at the end,
so ``pytest -m cluster`` runs on its own too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.local_cluster import LocalCluster
from bench.purge import purge_namespace
from queue_config.settings import Settings
from queue_config.stores.redis.client import connect
from tests.conftest import _settings
from tests.support.system import Served, System, start_system


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster()
    started_here = not all(node.running for node in cluster.rabbits + cluster.redises)
    if started_here:
        cluster.up()
    yield cluster
    if started_here:
        cluster.down()


@pytest.fixture(scope="session")
def cluster_settings(cluster: LocalCluster, idp: Served) -> Settings:
    base = _settings(f"tgtest-{uuid.uuid4().hex[:10]}", idp.url)
    # Each kind over three work queues, as a deployment past one queue's ceiling would run
    return base.replace(amqp_url=cluster.amqp_url, redis_url=cluster.redis_url, queue_shards=3)


@pytest.fixture(scope="session")
async def cluster_redis(cluster_settings: Settings) -> AsyncIterator[Redis]:
    client = connect(cluster_settings)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def cluster_system(
    cluster_settings: Settings, http: aiohttp.ClientSession, cluster_redis: Redis
) -> AsyncIterator[System]:
    system = await start_system(cluster_settings, http, cluster_redis)
    await asyncio.sleep(0)
    yield system
    await system.stop()
    # A cluster kept running between test runs would otherwise gather some 50 quorum queues a run.
    await purge_namespace(cluster_settings, cluster_redis)
