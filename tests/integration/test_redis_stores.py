"""The store contract (``tests/support/store_contract.py``) against the Redis back end, on the real
Redis, in a namespace of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from queue_config.kinds import Status
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.redis.backend import redis_stores
from queue_config.stores.tickets import Reservation, as_text
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here)
from tests.support.store_contract import Clock, new_ticket


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
async def stores(fresh_namespace: Settings, redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    yield redis_stores(fresh_namespace, redis=redis, clock=clock)


async def test_keys_named_before_the_short_names_are_still_honoured(stores: Stores, redis: Redis) -> None:
    """A rolling upgrade: idempotency and dedupe keys written by the version before (22-character names,
    32 digits of the body's digest) and its record (long field names) must still answer for the day they
    live, and new ones take the short names."""
    names = stores.names
    digest = "ab" * 32  # a body's SHA-256, as the front door gives it
    old = new_ticket(scope="s-old", body=digest, idem="k-old")
    await redis.hset(names.ticket(old.ticket_id), mapping={"status": "queued", "kind": "payment"})
    await redis.set(names.other_idempotency("s-old", "k-old"), f"{old.ticket_id}|{digest[:32]}", ex=60)
    await redis.set(names.other_dedupe("s-old", digest), old.ticket_id, ex=60)

    # The same key and body: the old ticket; another body: a conflict; no key, same body: the old ticket
    again = new_ticket(scope="s-old", body=digest, idem="k-old")
    assert (await stores.tickets.reserve(again))[:2] == (Reservation.EXISTING, old.ticket_id)
    other = new_ticket(scope="s-old", body="ab" * 8 + "cd" * 24, idem="k-old")  # differs past digit 16
    assert (await stores.tickets.reserve(other))[:2] == (Reservation.CONFLICT, old.ticket_id)
    keyless = new_ticket(scope="s-old", body=digest)
    assert (await stores.tickets.reserve(keyless))[:2] == (Reservation.DUPLICATE, old.ticket_id)
    # ... and in a bulk reservation
    many = await stores.tickets.reserve_many(
        "payment", "s-old", "batch-1", [new_ticket(scope="s-old", body=digest, idem="k-old")]
    )
    assert [(outcome, tid) for outcome, tid, _ in many] == [(Reservation.EXISTING, old.ticket_id)]

    # A new ticket's keys have the short names only, and its idempotency key keeps 16 hex digits
    fresh = new_ticket(scope="s-new", body=digest, idem="k-new")
    assert (await stores.tickets.reserve(fresh))[0] is Reservation.CREATED
    short_idem, short_dedupe = names.idempotency("s-new", "k-new"), names.dedupe("s-new", digest)
    assert await redis.get(short_idem) == f"{fresh.ticket_id}|{digest[:16]}".encode()
    assert await redis.get(short_dedupe) == fresh.ticket_id.encode()
    assert not await redis.exists(
        names.other_idempotency("s-new", "k-new"), names.other_dedupe("s-new", digest)
    )
    # With a real scope (32 hex digits) and key digest (64), in production's namespace: 14 characters
    # where the names before had 22, and the whole name within 28 (Redis's 32-byte allocation)
    scope, key = "5c" * 16, "e1" * 32
    assert len(names.other_idempotency(scope, key)) - len(names.idempotency(scope, key)) == 22 - 14
    production = Names("tg")
    assert max(len(production.idempotency(f"{n:032x}", key)) for n in range(64)) <= 28
    # The short form of the digest still tells bodies apart
    assert (await stores.tickets.reserve(new_ticket(scope="s-new", body=digest, idem="k-new")))[:2] == (
        Reservation.EXISTING,
        fresh.ticket_id,
    )
    assert (await stores.tickets.reserve(new_ticket(scope="s-new", body="cd" * 32, idem="k-new")))[0] is (
        Reservation.CONFLICT
    )


async def test_a_record_written_before_the_short_field_names_reads_and_moves_on_the_same(
    stores: Stores, redis: Redis
) -> None:
    """A record the version before wrote (long field names, every field spelled out) reads as it did,
    is renamed the first time a script touches it, and goes on through its life."""
    names = stores.names
    ticket = new_ticket(scope="s-legacy", body="b-legacy")
    key = names.ticket(ticket.ticket_id)
    created = time.time() - 60
    await redis.hset(
        key,
        mapping={
            "status": "queued",
            "kind": "payment",
            "citizen": "110101**********12",
            "attempts": 0,
            "created_at": repr(created),
            "updated_at": repr(created + 0.25),
            "owner": "5c" * 16,
            "seq": 7,
            "promised_by": round(created + 600, 3),
            "promised_at": round(created, 3),
            "promise_model": 300.0,
        },
    )
    await redis.expire(key, 3600)
    before = await stores.tickets.get(ticket.ticket_id)
    assert before is not None
    assert (before.status, before.kind, before.seq, before.attempts) == (Status.QUEUED, "payment", 7, 0)
    assert (before.created_at, before.updated_at) == (created, created + 0.25)
    assert (before.citizen, before.owner, before.promised_by) == (
        "110101**********12",
        "5c" * 16,
        round(created + 600, 3),
    )

    attempt = await stores.tickets.begin_attempt(
        ticket.ticket_id, kind="payment", created_at=created, masked_client="110101**********12"
    )
    assert (attempt.status, attempt.begun) == (Status.PROCESSING, 1)
    stored = {as_text(k) for k in await redis.hkeys(key)}
    assert stored == {"s", "k", "c", "a", "t", "u", "o", "q", "p", "m"}, "renamed, promised_at dropped"
    assert 0 < await redis.ttl(key) <= 3600 * 24 * 30
    during = await stores.tickets.get(ticket.ticket_id)
    assert during is not None
    assert (during.status, during.attempts, during.created_at, during.seq) == (
        Status.PROCESSING,
        1,
        created,
        7,
    )
    assert (during.citizen, during.owner, during.promised_by) == (
        before.citizen,
        before.owner,
        before.promised_by,
    )

    assert await stores.tickets.finish(ticket.ticket_id, "payment", result={"paid": True})
    after = await stores.tickets.get(ticket.ticket_id)
    assert after is not None and after.status is Status.DONE and after.result == {"paid": True}


async def test_a_new_record_keeps_short_names_and_only_what_differs_from_a_default(
    stores: Stores, redis: Redis
) -> None:
    ticket = new_ticket(scope="s-compact", body="b-compact")
    await stores.tickets.reserve(ticket)
    await stores.tickets.commit(ticket.ticket_id, "payment", promised_by=time.time() + 60, promise_model=42.0)
    raw = {
        as_text(k): as_text(v)
        for k, v in (await redis.hgetall(stores.names.ticket(ticket.ticket_id))).items()
    }
    # No attempts (0) and no updated_at (its created_at) until they change; the citizen's 8 shown
    # characters; the owner's first 16 digits; times to the millisecond
    assert set(raw) == {"s", "k", "c", "t", "o", "q", "p", "m"}
    assert (raw["s"], raw["c"], raw["o"]) == ("queued", "11010112", ticket.scope[:16])
    assert len(raw["t"].split(".")[1]) <= 3
    record = await stores.tickets.get(ticket.ticket_id)
    assert record is not None
    assert (record.attempts, record.updated_at, record.citizen) == (
        0,
        record.created_at,
        "110101**********12",
    )
