"""Real worker processes: a SIGKILL loses nothing and applies nothing twice; SIGTERM drains in-flight work."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.coresim.model import CoreSettings
from queue_config.settings import Settings
from queue_config.stores.redis.record_fields import stored
from tests.support.processes import kill_if_running, sigterm_and_wait, start_component
from tests.support.system import System, drain, start_system, submission


@pytest.fixture
async def no_workers(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    """Front door, status API and a slow core simulator (300 ms, 8 slots), but no in-process workers."""
    system = await start_system(
        fresh_namespace, http, redis, workers=False, core=CoreSettings(slots=8, service_ms=300)
    )
    yield system
    await system.stop()


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_sigkill_with_tickets_in_flight_loses_nothing_and_applies_nothing_twice(
    no_workers: System,
) -> None:
    system = no_workers
    log = f"crash-{uuid.uuid4().hex[:6]}"
    # Given 60 accepted tickets of every kind and a worker busy with them
    ids = []
    for i in range(60):
        code, doc, _ = await system.submit(submission(("payment", "transfer", "pension")[i % 3], i))
        assert code == 202
        ids.append(doc["ticket_id"])
    worker = start_component("workers", system.settings, log_name=log, WORKER_CONCURRENCY="4")
    try:

        async def some_in_flight() -> bool:
            return (await system.ledger())["calls"] >= 12

        await _until(some_in_flight, 60)

        # When it is killed without warning
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        calls_at_crash = (await system.ledger())["calls"]
        assert calls_at_crash < 60, "the crash must interrupt the run"

        # And a new worker takes over
        worker = start_component("workers", system.settings, log_name=log, WORKER_CONCURRENCY="4")
        statuses = await drain(system, ids, timeout=120)
    finally:
        worker.terminate()
        worker.wait(30)

    # Then every accepted ticket is done and every effect happened exactly once
    assert set(statuses.values()) == {"done"}
    for ticket_id in ids:
        assert (await system.ledger(ticket_id))["effects"] == 1, ticket_id
    assert (await system.ledger())["effects"] == 60
    # And the kill really caught tickets mid-processing: they were redelivered for a second attempt
    attempts = [int(await system.redis.hget(system.names.ticket(t), stored("attempts")) or 0) for t in ids]
    assert max(attempts) >= 2


async def test_sigterm_stops_taking_work_and_drains_in_flight_within_the_bound(
    no_workers: System,
) -> None:
    system = no_workers
    log = f"drain-{uuid.uuid4().hex[:6]}"
    ids = []
    for i in range(40):
        code, doc, _ = await system.submit(submission("payment", 1000 + i))
        assert code == 202
        ids.append(doc["ticket_id"])
    worker = start_component(
        "workers",
        system.settings,
        "--kinds",
        "payment",
        log_name=log,
        WORKER_CONCURRENCY="4",
        SHUTDOWN_GRACE_SECONDS="10",
    )
    try:

        async def working() -> bool:
            return (await system.ledger())["calls"] >= 6

        await _until(working, 60)

        # When it is asked to stop
        exit_code, took = await sigterm_and_wait(worker, 30)
    finally:
        kill_if_running(worker)

    # Then it exits cleanly within its grace period, leaving unfinished tickets in the queue
    assert exit_code == 0
    assert took < 10 + 5
    finished_at_stop = (await system.ledger())["effects"]
    assert 0 < finished_at_stop < 40
    depth = len(await system.queued_ticket_ids(system.names.queue("payment")))
    assert depth == 40 - finished_at_stop

    # And nothing it had started was left half-done: a successor completes the rest, one call each
    successor = start_component(
        "workers", system.settings, "--kinds", "payment", log_name=log, WORKER_CONCURRENCY="8"
    )
    try:
        statuses = await drain(system, ids, timeout=120)
    finally:
        successor.terminate()
        successor.wait(30)
    assert set(statuses.values()) == {"done"}
    for ticket_id in ids:
        assert await system.ledger(ticket_id) == {"effects": 1, "calls": 1}
