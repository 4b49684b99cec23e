"""A front door that dies between reserving a ticket and publishing it: the client's retry heals it."""

from __future__ import annotations

import hashlib
import time
import uuid

from queue_config import resident_id
from queue_config.key_shards import shard_of_scope
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.tickets import NewTicket, Reservation
from tests.support.system import System, submission


async def test_a_retry_republishes_a_reservation_whose_front_door_died(system: System) -> None:
    assert system.frontdoor is not None
    from frontdoor.app_keys import INTAKE
    from frontdoor.intake.validation import validate_submission

    intake = system.frontdoor.app[INTAKE]
    body = submission("payment", system.next_n())
    key = uuid.uuid4().hex
    sub = validate_submission(body)

    # Given a reservation made long ago by a front door that then died before publishing
    long_ago = time.time() - 3600
    stale_store = RedisTicketStore(
        system.redis,
        system.names,
        ticket_ttl=600,
        idempotency_ttl=600,
        pending_ttl=600,
        clock=lambda: long_ago,
    )
    ids = intake._ids
    scope = ids.scope("citizen:" + sub.citizen_id)
    outcome, ticket_id, _ = await stale_store.reserve(
        NewTicket(
            ids.mint(shard_of_scope(scope)),
            sub.kind,
            scope,
            sub.digest,
            hashlib.sha256(key.encode()).hexdigest(),
            resident_id.mask(sub.citizen_id),
        )
    )
    assert outcome is Reservation.CREATED

    # When the client retries with its idempotency key
    code, doc, _ = await system.submit(body, {"Idempotency-Key": key})

    # Then it gets that ticket, which is now queued for real and completes once
    assert (code, doc["ticket_id"]) == (200, ticket_id)
    done = await system.wait_for_status(ticket_id, {"done", "failed"})
    assert done["status"] == "done"
    assert await system.ledger(ticket_id) == {"effects": 1, "calls": 1}
