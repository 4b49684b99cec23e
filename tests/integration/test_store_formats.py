"""Store formats 1 and 2 on the real Redis (``queue_config.stores.redis.record_fields``): format 1 keeps
the store contract and writes what the version before wrote, and a rolling upgrade hands tickets between
processes of either format without losing a field, a repeat or an idempotency key."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from queue_config.kinds import Status
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.redis.backend import redis_stores
from queue_config.stores.tickets import Reservation, as_text
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here, in format 1)
from tests.support.store_contract import Clock, new_ticket

# The fields a record of the version before had once queued with a promise (git show 7cc5910:
# queue_config/stores/redis/lua/lib_reserve.lua and lib_commit.lua).
VERSION_BEFORE = {
    "status",
    "kind",
    "citizen",
    "attempts",
    "created_at",
    "updated_at",
    "owner",
    "seq",
    "promised_by",
    "promised_at",
    "promise_model",
}


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
async def stores(fresh_namespace: Settings, redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    yield redis_stores(dataclasses.replace(fresh_namespace, store_format=1), redis=redis, clock=clock)


@pytest.fixture
async def upgraded(fresh_namespace: Settings, redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    """Format 2 on the same namespace as ``stores``."""
    yield redis_stores(dataclasses.replace(fresh_namespace, store_format=2), redis=redis, clock=clock)


def _name_before(scope: str, digest: str) -> str:
    """An idempotency or dedupe key's last part as the version before named it."""
    raw = hashlib.sha256(f"{scope}:{digest}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _fields(redis: Redis, key: str) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in (await redis.hgetall(key)).items()}


async def test_format_1_writes_what_the_version_before_wrote(stores: Stores, redis: Redis) -> None:
    digest = "ab" * 32
    ticket = new_ticket(scope="5c" * 16, body=digest, idem="e1" * 32)
    assert (await stores.tickets.reserve(ticket))[0] is Reservation.CREATED
    await stores.tickets.commit(ticket.ticket_id, "payment", promised_by=time.time() + 60, promise_model=42.0)

    record = await _fields(redis, stores.names.ticket(ticket.ticket_id))
    assert set(record) == VERSION_BEFORE
    assert (record["status"], record["citizen"], record["owner"]) == (
        "queued",
        "110101**********12",
        "5c" * 16,
    )
    assert float(record["updated_at"]) >= float(record["created_at"]) > 0
    idem = await redis.get(stores.names.idempotency(ticket.scope, "e1" * 32))
    assert stores.names.idempotency(ticket.scope, "e1" * 32).endswith(
        ":" + _name_before("5c" * 16, "e1" * 32)
    )
    assert idem == f"{ticket.ticket_id}|{digest[:32]}".encode()
    assert stores.names.dedupe(ticket.scope, digest).endswith(":" + _name_before("5c" * 16, digest))


async def test_a_rolling_upgrade_hands_tickets_between_the_formats(
    stores: Stores, upgraded: Stores, redis: Redis
) -> None:
    """Format 1 reserves; format 2 finds the repeat, works the ticket and renames its record; format 1
    reads it on, and renames it back when it next touches it."""
    digest = "cd" * 32
    ticket = new_ticket(scope="s-rolling", body=digest, idem="k-rolling")
    await stores.tickets.reserve(ticket)
    await stores.tickets.commit(ticket.ticket_id, "payment", promised_by=time.time() + 60, promise_model=42.0)
    before = await stores.tickets.get(ticket.ticket_id)
    assert before is not None

    # A format-2 door finds it by its idempotency key and by its body
    again = new_ticket(scope="s-rolling", body=digest, idem="k-rolling")
    assert (await upgraded.tickets.reserve(again))[:2] == (Reservation.EXISTING, ticket.ticket_id)
    keyless = new_ticket(scope="s-rolling", body=digest)
    assert (await upgraded.tickets.reserve(keyless))[:2] == (Reservation.DUPLICATE, ticket.ticket_id)
    assert await upgraded.tickets.get(ticket.ticket_id) == before

    # A format-2 worker takes it: the record now has format 2's names, promised_at dropped
    await upgraded.tickets.begin_attempt(
        ticket.ticket_id, kind="payment", created_at=before.created_at, masked_client="110101**********12"
    )
    key = stores.names.ticket(ticket.ticket_id)
    assert set(await _fields(redis, key)) == {"s", "k", "c", "a", "t", "u", "o", "q", "p", "m"}
    during = await stores.tickets.get(ticket.ticket_id)  # read by format 1
    assert during is not None
    assert (
        dataclasses.replace(during, status=before.status, attempts=0, updated_at=before.updated_at) == before
    )
    assert (during.status, during.attempts) == (Status.PROCESSING, 1)

    # A format-1 worker finishes it: back to the long names, and both formats read it done
    assert await stores.tickets.finish(ticket.ticket_id, "payment", result={"ok": True})
    assert set(await _fields(redis, key)) <= VERSION_BEFORE | {"result"}
    for store in (stores, upgraded):
        done = await store.tickets.get(ticket.ticket_id)
        assert done is not None and (done.status, done.result, done.citizen) == (
            Status.DONE,
            {"ok": True},
            "110101**********12",
        )


async def test_a_long_name_written_beside_a_short_one_is_the_newer(upgraded: Stores, redis: Redis) -> None:
    """A process of the version before (no ``compact``) writes long names into a format-2 record, as its
    finish would: readers take them, and the next script moves them over the short ones."""
    ticket = new_ticket(scope="s-mixed", body="b-mixed")
    await upgraded.tickets.reserve(ticket)
    await upgraded.tickets.commit(ticket.ticket_id, "payment")
    key = upgraded.names.ticket(ticket.ticket_id)
    await redis.hset(key, mapping={"status": "done", "updated_at": time.time(), "result": '{"ok":true}'})
    record = await upgraded.tickets.get(ticket.ticket_id)
    assert record is not None and (record.status, record.result) == (Status.DONE, {"ok": True})
    # A redelivered message meets the renamed record as done, and nothing is worked twice
    attempt = await upgraded.tickets.begin_attempt(
        ticket.ticket_id, kind="payment", created_at=record.created_at, masked_client="110101**********12"
    )
    assert attempt.status is Status.DONE
    assert (await _fields(redis, key))["s"] == "done" and "status" not in await _fields(redis, key)
