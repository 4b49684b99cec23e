"""The store contract (``tests/support/store_contract.py``) against the in-memory back end: no servers."""

from __future__ import annotations

import time

import pytest

from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.memory import memory_stores
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here)
from tests.support.store_contract import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def stores(clock: Clock) -> Stores:
    return memory_stores(Settings(namespace="unit"), clock=clock)
