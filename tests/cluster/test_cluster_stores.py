"""The store contract (``tests/support/store_contract.py``) on Redis Cluster: every store, unchanged,
with no script or transaction across hash slots (redis-py refuses a call whose keys span slots, and
Redis a script that reaches outside its slot)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bench.purge import purge_namespace
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.redis.backend import redis_stores
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here)
from tests.support.store_contract import Clock

pytestmark = pytest.mark.cluster


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
async def stores(cluster_settings: Settings, cluster_redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    settings = cluster_settings.replace(namespace=f"tgtest-{uuid.uuid4().hex[:10]}")
    yield redis_stores(settings, redis=cluster_redis, clock=clock)
    await purge_namespace(settings, cluster_redis)
