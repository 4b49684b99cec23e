"""The store contract (``tests/support/store_contract.py``) against the Redis back end, on the real
Redis, in a namespace of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.redis.backend import redis_stores
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here)
from tests.support.store_contract import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
async def stores(fresh_namespace: Settings, redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    yield redis_stores(fresh_namespace, redis=redis, clock=clock)
