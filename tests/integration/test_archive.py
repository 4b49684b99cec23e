"""Done tickets leave Redis for the PostgreSQL archive and are read through it: the same document before,
during and after the move, 503 (never 404) while the archive is away, and gone after the retention.

Against the real Redis, RabbitMQ and PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from queue_config.key_shards import KEY_SHARDS
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.archive import ArchivedTicket
from queue_config.stores.postgres.archive import PostgresArchive
from queue_config.stores.redis.done_tickets import RedisDoneTickets
from queue_config.ticket_ids import shard_of
from tests.integration.test_bulk import (
    TOKEN,
    create_enterprise,
    get_batch,
    items,
    post_bulk,
    wait_batch_finished,
)
from tests.support.system import System, start_system, submission

# The mover runs when the test says (its own period is far away) and moves what was done a second ago
# (no sooner than idempotency keys expire: a repeat must still find its ticket in Redis).
ARCHIVING = {"archive_after_seconds": 1, "idempotency_ttl_seconds": 1, "archive_interval_seconds": 3600.0}


@pytest.fixture
async def archiving(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    system = await start_system(fresh_namespace.replace(**ARCHIVING), http, redis)
    yield system
    await system.stop()


async def _done_ticket(system: System, n: int, **payload: Any) -> tuple[str, dict[str, str]]:
    body = submission("payment", n)
    body["payload"].update(payload)
    code, doc, _ = await system.submit(body)
    assert code == 202, doc
    await system.wait_for_status(doc["ticket_id"], {"done", "failed"}, timeout=30)
    await asyncio.sleep(ARCHIVING["archive_after_seconds"] + 0.1)  # old enough to move
    return doc["ticket_id"], await system.tokens.header(body["citizen_id"])


async def _document(system: System, ticket_id: str, owner: dict[str, str]) -> dict[str, Any]:
    code, doc = await system.ticket(ticket_id, headers=owner)
    assert code == 200, doc
    return doc


def _archive(settings: Settings) -> PostgresArchive:
    return PostgresArchive(settings.database_url, settings.namespace)


async def test_a_done_ticket_reads_the_same_before_during_and_after_its_move(archiving: System) -> None:
    system = archiving
    assert system.pool is not None and system.pool.archive_mover is not None
    ticket_id, owner = await _done_ticket(system, 1)
    before = await _document(system, ticket_id, owner)
    assert before["status"] == "done" and before["result"], before  # the owner sees the result
    key = system.names.ticket(ticket_id)
    memory_before = await system.redis.memory_usage(key)
    assert memory_before

    # During: the archive holds it and so does Redis (a mover between its two steps)
    store = RedisDoneTickets(system.redis, system.names)
    due = [
        t for t in await store.done_before(shard_of(ticket_id), time.time(), 100) if t.ticket_id == ticket_id
    ]
    assert len(due) == 1 and due[0].fields is not None
    archive = _archive(system.settings)
    try:
        await archive.store([ArchivedTicket(ticket_id, due[0].finished_at, due[0].fields)])
        assert await _document(system, ticket_id, owner) == before

        # After: the mover deletes it from Redis; it is read from the archive, the same document
        assert await system.pool.archive_mover.move() >= 1
        assert not await system.redis.exists(key)
        assert not await system.redis.zscore(system.names.done_index(shard_of(ticket_id)), ticket_id)
        assert ticket_id in await archive.fetch([ticket_id])
        assert await _document(system, ticket_id, owner) == before
        # Without the owner's token, the archived ticket hides its result as the live one did
        code, anonymous = await system.ticket(ticket_id)
        assert code == 200 and "result" not in anonymous and anonymous["status"] == "done", anonymous
        # The citizen's page reads through too
        async with system.http.get(f"{system.status.url}/t/{ticket_id}") as page:  # type: ignore[union-attr]
            assert page.status == 200
    finally:
        await archive.close()


async def test_open_and_failed_tickets_stay_in_redis(archiving: System) -> None:
    system = archiving
    assert system.pool is not None and system.pool.archive_mover is not None
    await system.add_fault({"amount_cents": 4_040_404}, permanent=True)
    failed, _ = await _done_ticket(system, 2, amount_cents=4_040_404)
    assert (await system.ticket(failed))[1]["status"] == "failed"
    done, _ = await _done_ticket(system, 3)
    await system.pool.archive_mover.move()
    # The failed one waits in Redis for an operator's replay; the done one moved
    assert await system.redis.exists(system.names.ticket(failed))
    assert not await system.redis.exists(system.names.ticket(done))


async def test_a_ticket_done_more_recently_than_the_setting_stays(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    system = await start_system(
        fresh_namespace.replace(archive_after_seconds=3600, archive_interval_seconds=3600.0), http, redis
    )
    try:
        assert system.pool is not None and system.pool.archive_mover is not None
        ticket_id, _ = await _done_ticket(system, 4)
        assert await system.pool.archive_mover.move() == 0
        assert await system.redis.exists(system.names.ticket(ticket_id))
    finally:
        await system.stop()


async def test_past_its_retention_an_archived_ticket_is_deleted(archiving: System) -> None:
    system = archiving
    assert system.pool is not None and system.pool.archive_mover is not None
    ticket_id, owner = await _done_ticket(system, 5)
    await system.pool.archive_mover.move()
    assert (await system.ticket(ticket_id, headers=owner))[0] == 200
    archive = _archive(system.settings)
    try:
        # Retention counts from when it finished: a cut-off after that deletes it
        assert await archive.expire(time.time() + 1, 1000) >= 1
        assert await archive.fetch([ticket_id]) == {}
    finally:
        await archive.close()
    # (A status API that read it before keeps its copy for a while: a done ticket never changes.)
    fresh = await start_system(system.settings, system.http, system.redis, frontdoor=False, workers=False)
    try:
        code, doc = await fresh.ticket(ticket_id)
        assert code == 404, doc
    finally:
        await fresh.stop()


async def test_an_archive_outage_answers_503_for_moved_tickets_and_200_for_live_ones(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    # Given a ticket moved to the archive, and a live one
    up = await start_system(fresh_namespace.replace(**ARCHIVING), http, redis)
    try:
        assert up.pool is not None and up.pool.archive_mover is not None
        moved, owner = await _done_ticket(up, 6)
        document = await _document(up, moved, owner)
        await up.pool.archive_mover.move()
        live, _ = await _done_ticket(up, 7)
    finally:
        await up.stop()
    # When the status API's archive does not answer
    away = fresh_namespace.replace(
        **ARCHIVING, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/ticketgate"
    )
    down = await start_system(away, http, redis, frontdoor=False, workers=False)
    try:
        # Then the moved ticket is 503 with a Retry-After, never 404: it may well exist
        async with http.get(f"{down.status.url}/v1/tickets/{moved}") as response:  # type: ignore[union-attr]
            assert response.status == 503, await response.text()
            assert int(response.headers["Retry-After"]) > 0
        # And a ticket still in Redis reads as always
        assert (await down.ticket(live))[0] == 200
    finally:
        await down.stop()
    # And when the archive is back, the moved ticket reads as it did
    back = await start_system(
        fresh_namespace.replace(**ARCHIVING), http, redis, frontdoor=False, workers=False
    )
    try:
        assert await _document(back, moved, owner) == document
    finally:
        await back.stop()


async def test_a_batch_reads_its_moved_items_from_the_archive(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    system = await start_system(fresh_namespace.replace(**ARCHIVING, operator_token=TOKEN), http, redis)
    try:
        assert system.pool is not None and system.pool.archive_mover is not None
        key = (await create_enterprise(system))["api_key"]
        code, doc, _ = await post_bulk(system, key, {"items": items(3, start=900)})
        assert code == 202, doc
        before = await wait_batch_finished(system, key, doc["batch_id"], timeout=60)
        assert before["counts"] == {"done": 3}, before
        await asyncio.sleep(ARCHIVING["archive_after_seconds"] + 0.1)
        assert await system.pool.archive_mover.move() >= 3
        code, after = await get_batch(system, key, doc["batch_id"])
        assert code == 200 and after == before, after
    finally:
        await system.stop()


async def test_every_shard_has_its_own_claim_and_one_mover_moves_each(
    fresh_namespace: Settings, redis: Redis
) -> None:
    store = RedisDoneTickets(redis, Names(fresh_namespace.namespace))
    # Another process's mover holds shard 0: this one may not take it, but every other shard
    assert await store.claim(0, "someone-else", 60_000)
    assert not await store.claim(0, "me", 60_000)
    assert all([await store.claim(shard, "me", 60_000) for shard in range(1, KEY_SHARDS)])
    assert await store.claim(1, "me", 60_000)  # renewing one's own lease
