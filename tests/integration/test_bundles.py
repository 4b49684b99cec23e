"""Bundles on the real broker and Redis: what a front door accepts in one turn of its event loop travels
in one message per kind, and workers process a bundle in place, settling each ticket on its own."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aio_pika.abc import AbstractIncomingMessage

from frontdoor.app_keys import BROKER
from frontdoor.intake.publish_bundler import PublishBundler
from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable
from queue_config.messages import BUNDLE_HEADER, TicketMessage, decode, decode_bundle, encode_bundle
from queue_config.settings import Settings
from queue_config.stores.redis.ticket_secret import load_secret
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.tickets import NewTicket, Reservation
from queue_config.ticket_ids import TicketIds
from queue_config.topology import Topology
from tests.support.system import System, payload_for, submission


def _ticket(kind: str, n: int, ids: TicketIds | None = None, **payload: object) -> TicketMessage:
    body = submission(kind, n)
    return TicketMessage(
        ticket_id=ids.mint() if ids is not None else uuid.uuid4().hex,
        kind=kind,
        citizen_id=body["citizen_id"],
        payload={**payload_for(kind, n), **payload},
        created_at=time.time(),
    )


async def _take(broker: BrokerLink, queue_name: str) -> list[AbstractIncomingMessage]:
    channel = await broker.channel(prefetch=0)
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
        taken = []
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            taken.append(message)
        return taken
    finally:
        await channel.close()


async def test_tickets_a_door_accepts_in_one_loop_turn_travel_in_one_message_per_kind(
    fresh_namespace: Settings,
) -> None:
    topology = Topology.from_settings(fresh_namespace)
    broker = BrokerLink(fresh_namespace.amqp_url, topology)
    await broker.start()
    await broker.wait_connected(30)
    try:
        bundler = PublishBundler(broker)
        payments = [_ticket("payment", n) for n in range(5)]
        transfer = _ticket("transfer", 9)

        # When six requests publish in the same turn, five payments and a transfer
        await asyncio.gather(*(bundler.publish(t) for t in [*payments, transfer]))

        # Then the payments are one confirmed bundle of five, in their order
        [bundle] = await _take(broker, topology.names.queue("payment"))
        assert bundle.headers[BUNDLE_HEADER] == 5
        assert [t.ticket_id for t in decode_bundle(bundle.body)] == [t.ticket_id for t in payments]
        # And the transfer, alone in its kind, a plain message as before
        [single] = await _take(broker, topology.names.queue("transfer"))
        assert BUNDLE_HEADER not in (single.headers or {})
        assert decode(single.body) == transfer

        # When the broker is gone, every caller of the bundle hears it (and discards its ticket)
        await broker.close()
        outcomes = await asyncio.gather(
            *(bundler.publish(_ticket("payment", n)) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(o, BrokerUnavailable) for o in outcomes), outcomes
    finally:
        await broker.close()


async def _reserve_and_commit(system: System, tickets: list[TicketMessage]) -> None:
    store = RedisTicketStore(system.redis, system.names, ticket_ttl=600, idempotency_ttl=600, pending_ttl=600)
    for t in tickets:
        outcome, ticket_id, _ = await store.reserve(
            NewTicket(t.ticket_id, t.kind, f"test:{t.ticket_id}", t.ticket_id, None, "test")
        )
        assert (outcome, ticket_id) == (Reservation.CREATED, t.ticket_id)
        await store.commit(t.ticket_id, t.kind)


@pytest.mark.parametrize("redelivered", [False, True])
async def test_a_bundle_is_processed_in_place_and_each_ticket_settled_on_its_own(
    system: System, redelivered: bool
) -> None:
    # Given a bundle of three payments: one the core does at once, one it fails once, one it refuses
    n = system.next_n()
    ids = TicketIds(await load_secret(system.redis, system.names, system.settings.ticket_secret))
    fine = _ticket("payment", n, ids, amount_cents=5_151_001 + 10 * redelivered)
    flaky = _ticket("payment", n + 1, ids, amount_cents=5_151_002 + 10 * redelivered)
    refused = _ticket("payment", n + 2, ids, amount_cents=5_151_003 + 10 * redelivered)
    await system.add_fault({"amount_cents": flaky.payload["amount_cents"]}, transient=1)
    await system.add_fault({"amount_cents": refused.payload["amount_cents"]}, permanent=True)
    tickets = [fine, flaky, refused]
    # As a front door does before it publishes: the records exist, queued, so a poll never races the worker
    await _reserve_and_commit(system, tickets)
    assert system.frontdoor is not None
    broker = system.frontdoor.app[BROKER]

    async def publish_bundle() -> None:
        await broker.publish(
            encode_bundle(tickets),
            routing_key="payment",
            message_id=fine.ticket_id,
            headers={BUNDLE_HEADER: 3},
        )

    # When it reaches the workers (twice over, as after a worker died before its ack)
    await publish_bundle()
    states = {t.ticket_id: await system.wait_for_status(t.ticket_id, {"done", "failed"}) for t in tickets}
    if redelivered:
        await publish_bundle()
        await asyncio.sleep(1.0)

    # Then each ticket ended as its own core call decided, and no effect happened twice
    assert (states[fine.ticket_id]["status"], states[fine.ticket_id]["attempts"]) == ("done", 1)
    assert (states[flaky.ticket_id]["status"], states[flaky.ticket_id]["attempts"]) == ("done", 2)
    assert (states[refused.ticket_id]["status"], states[refused.ticket_id]["error"]["code"]) == (
        "failed",
        "core_422",
    )
    assert await system.ledger(fine.ticket_id) == {"effects": 1, "calls": 1}
    assert await system.ledger(flaky.ticket_id) == {"effects": 1, "calls": 2}
    assert await system.ledger(refused.ticket_id) == {"effects": 0, "calls": 1}
    # And the refused one is in the dead-letter queue alone, for operators to inspect and replay
    assert refused.ticket_id in await system.dead_letter_ids("payment")
    assert fine.ticket_id not in await system.dead_letter_ids("payment")
    # And the bundle itself was acked: nothing waits in the work queue
    assert await system.queue_depth(system.names.queue("payment")) == 0
