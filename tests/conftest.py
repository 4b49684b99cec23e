"""Fixtures: real RabbitMQ and Redis (the ones at AMQP_URL / REDIS_URL), a namespace per test run so
runs never see each other's queues or keys, and the system assembled in-process on free ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from bench.purge import purge_namespace
from queue_config.settings import Settings
from tests.support.identity import TokenBook, idp_app
from tests.support.system import Served, System, start_system


def _settings(namespace: str, idp_url: str) -> Settings:
    return Settings.from_env(
        {
            **os.environ,
            "NAMESPACE": namespace,
            "AUTH_ISSUER": idp_url,
            "RETRY_BASE_SECONDS": "0.2",
            "RETRY_JITTER_STEPS": "2",
            "SHUTDOWN_GRACE_SECONDS": "5",
            "LOG_LEVEL": "warning",
            "WORKER_METRICS_PORT": "0",
            # The tests' callback receivers listen on the loopback, which callbacks may not reach by default.
            "CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
    )


@pytest.fixture(scope="session")
def namespace() -> str:
    return f"tgtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def idp() -> AsyncIterator[Served]:
    """The development identity provider (``python -m bench.idp``'s app) that every test's citizens get
    their tokens from."""
    port = free_port()
    served = await Served(idp_app(port), port).start()
    yield served
    await served.stop()


@pytest.fixture(scope="session")
def settings(namespace: str, idp: Served) -> Settings:
    return _settings(namespace, idp.url)


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


@pytest.fixture(scope="session")
async def system(settings: Settings, http: aiohttp.ClientSession, redis: Redis) -> AsyncIterator[System]:
    """The whole path: front door, status API, workers for every kind, and a fast core simulator."""
    running = await start_system(settings, http, redis)
    yield running
    await running.stop()
    await purge_namespace(settings, redis)


@pytest.fixture
async def tokens(http: aiohttp.ClientSession, idp: Served) -> TokenBook:
    return TokenBook(http, idp.url)


@pytest.fixture
async def fresh_namespace(http: aiohttp.ClientSession, redis: Redis, idp: Served) -> AsyncIterator[Settings]:
    """A namespace of its own, for tests that count what reaches a queue."""
    settings = _settings(f"tgtest-{uuid.uuid4().hex[:10]}", idp.url)
    yield settings
    await purge_namespace(settings, redis)
