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
from queue_config.stores.tickets import Reservation
from tests.support.store_contract import *  # noqa: F403  (the contract's cases run here)
from tests.support.store_contract import Clock, new_ticket


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
async def stores(fresh_namespace: Settings, redis: Redis, clock: Clock) -> AsyncIterator[Stores]:
    yield redis_stores(fresh_namespace, redis=redis, clock=clock)


async def test_keys_named_before_the_short_names_are_still_honoured(stores: Stores, redis: Redis) -> None:
    """A rolling upgrade: idempotency and dedupe keys written by the version before (long names, the
    body's whole digest) must still answer for the day they live, and new ones take the short names."""
    names = stores.names
    digest = "ab" * 32  # a body's SHA-256, as the front door gives it
    old = new_ticket(scope="s-old", body=digest, idem="k-old")
    await redis.hset(names.ticket(old.ticket_id), mapping={"status": "queued", "kind": "payment"})
    await redis.set(names.legacy_idempotency("s-old", "k-old"), f"{old.ticket_id}|{digest}", ex=60)
    await redis.set(names.legacy_dedupe("s-old", digest), old.ticket_id, ex=60)

    # The same key and body: the old ticket; another body: a conflict; no key, same body: the old ticket
    again = new_ticket(scope="s-old", body=digest, idem="k-old")
    assert (await stores.tickets.reserve(again))[:2] == (Reservation.EXISTING, old.ticket_id)
    other = new_ticket(scope="s-old", body="cd" * 32, idem="k-old")
    assert (await stores.tickets.reserve(other))[:2] == (Reservation.CONFLICT, old.ticket_id)
    keyless = new_ticket(scope="s-old", body=digest)
    assert (await stores.tickets.reserve(keyless))[:2] == (Reservation.DUPLICATE, old.ticket_id)
    # ... and in a bulk reservation
    many = await stores.tickets.reserve_many(
        "payment", "s-old", "batch-1", [new_ticket(scope="s-old", body=digest, idem="k-old")]
    )
    assert [(outcome, tid) for outcome, tid, _ in many] == [(Reservation.EXISTING, old.ticket_id)]

    # A new ticket's keys have the short names only, and its idempotency key keeps 32 hex digits
    fresh = new_ticket(scope="s-new", body=digest, idem="k-new")
    assert (await stores.tickets.reserve(fresh))[0] is Reservation.CREATED
    short_idem, short_dedupe = names.idempotency("s-new", "k-new"), names.dedupe("s-new", digest)
    assert await redis.get(short_idem) == f"{fresh.ticket_id}|{digest[:32]}".encode()
    assert await redis.get(short_dedupe) == fresh.ticket_id.encode()
    assert not await redis.exists(
        names.legacy_idempotency("s-new", "k-new"), names.legacy_dedupe("s-new", digest)
    )
    # With a real scope (32 hex digits) and key digest (64): "idem" → "i", "scope:digest" → 22 characters
    scope, key = "5c" * 16, "e1" * 32
    assert len(names.legacy_idempotency(scope, key)) - len(names.idempotency(scope, key)) == 3 + 97 - 22
    # The short form of the digest still tells bodies apart
    assert (await stores.tickets.reserve(new_ticket(scope="s-new", body=digest, idem="k-new")))[:2] == (
        Reservation.EXISTING,
        fresh.ticket_id,
    )
    assert (await stores.tickets.reserve(new_ticket(scope="s-new", body="cd" * 32, idem="k-new")))[0] is (
        Reservation.CONFLICT
    )
