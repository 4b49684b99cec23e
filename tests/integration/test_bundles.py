"""Bundles on the real broker and Redis: what a front door accepts in one turn of its event loop travels
in one message per kind, and workers process a bundle in place, settling each ticket on its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from aio_pika.abc import AbstractIncomingMessage

from frontdoor.app_keys import BROKER
from frontdoor.intake.publish_bundler import PublishBundler
from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable
from queue_config.messages import BUNDLE_HEADER, TicketMessage, decode, decode_bundle, encode, encode_bundle
from queue_config.settings import Settings
from queue_config.stores.redis.record_fields import stored
from queue_config.stores.redis.ticket_secret import load_secret
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.tickets import NewTicket, Reservation
from queue_config.ticket_ids import TicketIds
from queue_config.topology import Topology
from tests.support.system import System, payload_for, submission
from workers.core_calls.handlers import HANDLERS
from workers.processor import CRASHED_ATTEMPTS_LIMIT, DELIVERY_COUNT, Processor
from workers.retries.retry_policy import RetryPolicy


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


async def test_copies_of_one_ticket_processed_side_by_side_are_not_counted_as_crashes(system: System) -> None:
    # Given a payment and a bundle holding fourteen copies of it, as a chaos run produced them: bundles
    # requeued while their tickets were in flight, each copy then beginning its own attempt
    n = system.next_n()
    ids = TicketIds(await load_secret(system.redis, system.names, system.settings.ticket_secret))
    ticket = _ticket("payment", n, ids, amount_cents=5_151_501)
    await _reserve_and_commit(system, [ticket])
    assert system.frontdoor is not None
    copies = [ticket] * (CRASHED_ATTEMPTS_LIMIT + 4)

    # When a worker takes the bundle and works on the copies side by side
    await system.frontdoor.app[BROKER].publish(
        encode_bundle(copies),
        routing_key="payment",
        message_id=ticket.ticket_id,
        headers={BUNDLE_HEADER: len(copies)},
    )
    state = await system.wait_for_status(ticket.ticket_id, {"done", "failed"})
    await asyncio.sleep(1.0)  # the copies still in flight settle

    # Then every copy began an attempt, yet none was taken for a worker's crash: the ticket is done,
    # not failed after its effect, the core applied it once, and nothing went to the dead letters
    assert int(await system.redis.hget(system.names.ticket(ticket.ticket_id), stored("attempts")) or 0) > (
        CRASHED_ATTEMPTS_LIMIT
    )
    assert (await system.ticket(ticket.ticket_id))[1]["status"] == state["status"] == "done"
    assert (await system.ledger(ticket.ticket_id))["effects"] == 1
    assert ticket.ticket_id not in await system.dead_letter_ids("payment")
    assert await system.queue_depth(system.names.queue("payment")) == 0


async def test_a_message_back_from_as_many_crashes_as_the_limit_is_failed_as_poison(system: System) -> None:
    # Given a payment whose message came back to its quorum queue from ten workers that each began an
    # attempt and died holding it (a channel closed without an ack is what the broker sees of a crash)
    n = system.next_n()
    ids = TicketIds(await load_secret(system.redis, system.names, system.settings.ticket_secret))
    ticket = _ticket("payment", n, ids, amount_cents=5_151_601)
    await _reserve_and_commit(system, [ticket])
    store = RedisTicketStore(system.redis, system.names, ticket_ttl=600, idempotency_ttl=600, pending_ttl=600)
    assert system.frontdoor is not None
    broker: BrokerLink = system.frontdoor.app[BROKER]
    queue_name = f"{system.names.queue('payment')}-poison-{uuid.uuid4().hex[:6]}"
    channel = await broker.channel(prefetch=1)
    topology = Topology.from_settings(system.settings)
    # A work queue of its own, so that no worker of the session takes the message; dead-lettering as
    # the payment queues do
    arguments = {
        **topology.main_queue_arguments(),
        "x-dead-letter-routing-key": system.names.work_route("payment", 0),
    }
    queue = await channel.declare_queue(queue_name, durable=True, arguments=arguments)
    await broker.publish(encode(ticket), routing_key=queue_name, message_id=ticket.ticket_id, to_queue=True)
    await channel.close()
    for _ in range(CRASHED_ATTEMPTS_LIMIT):
        dying = await broker.channel(prefetch=1)
        held = await (await dying.declare_queue(queue_name, passive=True)).get(timeout=10)
        assert held is not None
        await store.begin_attempt(
            ticket.ticket_id, kind="payment", created_at=ticket.created_at, masked_client="x"
        )
        await dying.close()
    core_calls: list[str] = []

    async def core(kind: str, idempotency_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        core_calls.append(idempotency_key)
        return {}

    processor = Processor(
        store=store,
        broker=broker,
        core=SimpleNamespace(execute=core),  # the core, were it called (it must not be)
        handlers=HANDLERS,
        retry=RetryPolicy(topology, max_attempts=3, base_seconds=1, max_seconds=5),
    )

    # When the next worker takes it
    channel = await broker.channel(prefetch=1)
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
        message = await queue.get(timeout=10)
        assert message is not None
        assert message.headers.get(DELIVERY_COUNT) == CRASHED_ATTEMPTS_LIMIT
        await processor.process(message)
        left = await queue.declare()
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await channel.close()

    # Then it does not try again: the ticket is failed as poison, its copy in the dead-letter queue, and
    # the message is no longer in its queue (the broker dead-letters the rejected original too)
    assert core_calls == []
    code, doc = await system.ticket(ticket.ticket_id)
    assert (code, doc["status"], doc["error"]["code"]) == (200, "failed", "attempts_exhausted")
    assert ticket.ticket_id in await system.dead_letter_ids("payment")
    assert left.message_count == 0


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
