"""Our own infrastructure failing at the worst moment: the client still gets an honest answer, the ticket
still ends once, and no attempt of the ticket's retry budget is spent on it.

- Redis failing after RabbitMQ confirmed the message used to answer 500 (the ETA read was not guarded),
  and a client told 500 retries: without an Idempotency-Key a retry after the ticket is done is a second
  effect. The message is durable by then, so the answer is the ticket.
- Worker processes killed mid-attempt used to spend the attempt budget, failing tickets the core never
  refused.
- A Redis still loading its append-only file answers PING, so readiness said 200 through 503s.
- A second worker process on a host could not bind the default metrics port, and one that failed to
  start hung holding a ticket.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.coresim.model import CoreSettings
from bench.private_rabbit import free_port
from frontdoor.app_keys import INTAKE
from queue_config.errors import StoreUnavailable
from queue_config.settings import Settings
from queue_config.stores.redis.backend import probe as redis_probe
from queue_config.stores.redis.record_fields import stored
from tests.support.processes import read_log, start_component
from tests.support.system import System, drain, start_system, submission


@pytest.fixture
async def door_and_core(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    system = await start_system(fresh_namespace, http, redis, workers=False, core=CoreSettings(service_ms=20))
    yield system
    await system.stop()


async def test_redis_failing_after_the_confirmed_publish_still_gives_the_ticket_and_one_effect(
    door_and_core: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = door_and_core
    assert system.frontdoor is not None
    intake = system.frontdoor.app[INTAKE]

    # Given Redis that fails every call after the reservation: the ETA read and the commit
    async def broken_commit(*_: Any, **__: Any) -> None:
        raise StoreUnavailable("redis unavailable: connection reset")

    async def broken_read(*_: Any, **__: Any) -> None:
        raise RedisConnectionError("Connection reset by peer")

    monkeypatch.setattr(intake._store, "commit", broken_commit)
    monkeypatch.setattr(intake._eta, "_read", broken_read)
    intake._eta._snapshots.clear()

    # When a citizen submits
    code, doc, _ = await system.submit(submission("payment", 7001))

    # Then the answer is the ticket (never a 500 or a 503 for a ticket that will be carried out)
    assert code == 202, doc
    assert doc["eta_seconds"] > 0 and doc["eta_p90_seconds"] >= doc["eta_seconds"]

    # And once Redis is back, a worker carries it out, once, and the record lives like any ticket's
    monkeypatch.undo()
    system.pool = await _pool(system)
    statuses = await drain(system, [doc["ticket_id"]], timeout=60)
    assert statuses == {doc["ticket_id"]: "done"}
    assert (await system.ledger(doc["ticket_id"]))["effects"] == 1
    ttl = await system.redis.ttl(system.names.ticket(doc["ticket_id"]))
    assert ttl > system.settings.pending_ttl_seconds


async def test_attempts_that_never_reached_the_core_spend_none_of_the_retry_budget(
    door_and_core: System,
) -> None:
    system = door_and_core
    # Given a ticket whose processing was begun five times without an answer from the core (workers
    # killed mid-attempt, Redis away past their patience), beyond MAX_ATTEMPTS = 3
    code, doc, _ = await system.submit(submission("transfer", 7002))
    assert code == 202
    await system.redis.hset(system.names.ticket(doc["ticket_id"]), stored("attempts"), 5)

    # When a worker takes it
    system.pool = await _pool(system)
    done = await system.wait_for_status(doc["ticket_id"], {"done", "failed"}, timeout=60)

    # Then it is carried out, not failed as "attempts exhausted"
    assert done["status"] == "done", done
    assert (await system.ledger(doc["ticket_id"]))["effects"] == 1


async def _pool(system: System) -> Any:
    from workers.pool import WorkerPool

    pool = WorkerPool(system.settings, ["payment", "transfer", "pension"])
    await pool.start()
    return pool


class _LoadingRedis:
    """What redis-py sees of a Redis loading its append-only file: PING works, data commands do not."""

    async def ping(self) -> bool:
        return True

    async def exists(self, *_: str) -> int:
        raise BusyLoadingError("Redis is loading the dataset in memory")


async def test_readiness_is_false_while_redis_refuses_data_commands() -> None:
    probe = redis_probe(_LoadingRedis())  # type: ignore[arg-type]
    assert await probe is False


async def test_readiness_is_true_on_a_redis_that_serves_data(redis: Redis) -> None:
    assert await redis_probe(redis) is True


async def test_worker_processes_share_a_host_with_the_default_metrics_port(door_and_core: System) -> None:
    system = door_and_core
    port = str(free_port())
    logs = [f"share-{uuid.uuid4().hex[:6]}-{i}" for i in range(2)]
    # Given two worker processes started with the same metrics port, as two with the defaults would be
    first = start_component(
        "workers", system.settings, "--kinds", "payment", log_name=logs[0], WORKER_METRICS_PORT=port
    )
    await _until_logged(logs[0], "workers_running", 30)
    second = start_component(
        "workers", system.settings, "--kinds", "pension,transfer", log_name=logs[1], WORKER_METRICS_PORT=port
    )
    try:
        await _until_logged(logs[1], "workers_running", 30)
        # Then both run, the second on a port of its own that it names, and both do work
        assert "worker_metrics_port_taken" in read_log(logs[1])
        ids = []
        for i, kind in enumerate(("payment", "pension", "transfer")):
            code, doc, _ = await system.submit(submission(kind, 7100 + i))
            assert code == 202
            ids.append(doc["ticket_id"])
        assert set((await drain(system, ids, timeout=60)).values()) == {"done"}
        assert first.poll() is None and second.poll() is None
    finally:
        for process in (first, second):
            process.terminate()
        for process in (first, second):
            process.wait(30)


async def test_a_worker_that_cannot_start_exits_at_once_and_takes_no_ticket(door_and_core: System) -> None:
    system = door_and_core
    code, doc, _ = await system.submit(submission("payment", 7200))
    assert code == 202
    # Given a worker whose metrics server cannot bind at all (an address not on this machine)
    log = f"nostart-{uuid.uuid4().hex[:6]}"
    worker = start_component(
        "workers", system.settings, log_name=log, HOST="192.0.2.1", WORKER_METRICS_PORT="0"
    )
    started = time.monotonic()
    try:
        returncode = await asyncio.to_thread(worker.wait, 30)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"the worker hung; its log:\n{read_log(log)[-2000:]}") from None
    # Then it exits at once with an error, and the ticket is still waiting in its queue for another
    assert returncode == 1
    assert time.monotonic() - started < 20
    assert "workers_failed_to_start" in read_log(log)
    assert (await system.ticket(doc["ticket_id"]))[1]["status"] == "queued"
    assert await system.queued_ticket_ids(system.names.queue("payment")) == [doc["ticket_id"]]


async def _until_logged(log_name: str, event: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while event not in read_log(log_name):
        assert time.monotonic() < deadline, read_log(log_name)[-2000:]
        await asyncio.sleep(0.2)


async def test_a_worker_started_while_redis_restarts_waits_for_it(door_and_core: System) -> None:
    from bench.private_redis import PrivateRedis

    system = door_and_core
    redis_server = PrivateRedis()  # not started yet: Redis is away when the worker starts
    log = f"waitredis-{uuid.uuid4().hex[:6]}"
    worker = start_component(
        "workers", system.settings, log_name=log, REDIS_URL=redis_server.url, WORKER_METRICS_PORT="0"
    )
    try:
        await asyncio.sleep(3.0)
        assert worker.poll() is None, read_log(log)[-2000:]
        await redis_server.start()
        await _until_logged(log, "workers_running", 60)
        assert worker.poll() is None
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 30)
        await redis_server.stop()
