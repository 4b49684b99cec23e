"""Operator controls against the real broker and Redis: maintenance on and off under load with nothing
lost, and dead letters listed, inspected and replayed to ``done``."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.coresim.model import CoreSettings
from frontdoor.app_keys import BROKER
from queue_config.messages import BUNDLE_HEADER, decode, encode_bundle
from queue_config.settings import Settings
from tests.support.system import System, drain, start_system, submission

TOKEN = "op-token-operations"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def ops(fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis) -> AsyncIterator[System]:
    system = await start_system(
        fresh_namespace.replace(operator_token=TOKEN), http, redis, core=CoreSettings(slots=4, service_ms=50)
    )
    yield system
    await system.stop()


async def operator(system: System, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    assert system.frontdoor is not None
    async with system.http.request(method, system.frontdoor.url + path, json=body, headers=OPERATOR) as r:
        return r.status, await r.json(content_type=None)


async def _refused_payments(system: System, count: int, *, amount_cents: int, first: int) -> list[str]:
    """``count`` payments the core refuses outright, accepted and then failed: their ticket IDs."""
    await system.add_fault({"amount_cents": amount_cents}, permanent=True)
    failing = []
    for n in range(count):
        body = submission("payment", first + n)
        body["payload"]["amount_cents"] = amount_cents
        code, doc, _ = await system.submit(body)
        assert code == 202
        failing.append(doc["ticket_id"])
    assert set((await drain(system, failing)).values()) == {"failed"}
    return failing


async def test_maintenance_holds_work_and_resuming_loses_nothing(ops: System) -> None:
    system = ops
    accepted: list[str] = []
    statuses_during: list[str] = []
    stop = asyncio.Event()
    maintenance = asyncio.Event()

    async def load() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            code, doc, _ = await system.submit(submission("payment", 80_000 + n))
            assert code == 202, doc
            accepted.append(doc["ticket_id"])
            if maintenance.is_set():
                statuses_during.append(doc["status"])
            await asyncio.sleep(0.05)

    loader = asyncio.create_task(load())
    await asyncio.sleep(1.5)

    # When the operator announces maintenance for the next minute, under load
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)).isoformat(timespec="seconds")
    code, _ = await operator(
        system, "PUT", "/v1/admin/throttle", {"mode": "maintenance", "maintenance_until": until}
    )
    assert code == 200
    await asyncio.sleep(1.5)  # the switch is seen within a second; calls in flight finish
    maintenance.set()
    calls_before = (await system.ledger())["calls"]
    await asyncio.sleep(3.0)

    # Then the core gets no new work, the front door still accepts, and waiting tickets show "held"
    assert (await system.ledger())["calls"] == calls_before
    assert statuses_during and set(statuses_during) == {"held"}
    code, ticket = await system.ticket(accepted[-1])
    assert code == 200 and ticket["status"] == "held" and ticket["held_until"] == until
    assert ticket["eta_seconds"] > 50  # the wait starts when maintenance ends

    # When maintenance ends, every accepted ticket is done, exactly once
    code, _ = await operator(system, "PUT", "/v1/admin/throttle", {"mode": "auto", "maintenance_until": None})
    assert code == 200
    await asyncio.sleep(1.0)
    stop.set()
    await loader
    results = await drain(system, accepted, timeout=120)
    assert set(results.values()) == {"done"}
    ledger = await system.ledger()
    assert ledger["keys"] == ledger["effects"] == len(accepted)


async def test_dead_letters_are_listed_inspected_and_replayed_to_done(ops: System) -> None:
    system = ops
    assert system.core is not None
    failing = await _refused_payments(system, 3, amount_cents=7777, first=90_000)

    # The operator API wants the token and a kind
    assert system.frontdoor is not None
    async with system.http.get(system.frontdoor.url + "/v1/admin/dead-letters?kind=payment") as r:
        assert r.status == 401
    assert (await operator(system, "GET", "/v1/admin/dead-letters"))[0] == 422

    code, listing = await operator(system, "GET", "/v1/admin/dead-letters?kind=payment")
    assert code == 200 and listing["total"] == 3
    assert {d["ticket_id"] for d in listing["dead_letters"]} == set(failing)
    assert all(d["error"]["code"] and d["failed_at"] for d in listing["dead_letters"])

    code, one = await operator(system, "GET", f"/v1/admin/dead-letters/{failing[0]}")
    assert code == 200 and one["message"]["ticket_id"] == failing[0]
    assert "*" in one["message"]["citizen_id"]  # masked
    assert one["message"]["payload"]["amount_cents"] == 7777
    assert (await operator(system, "GET", "/v1/admin/dead-letters/nosuchticket"))[0] == 404

    # When the core is fixed and one, then all, are replayed
    async with system.http.delete(system.core.url + "/v1/faults") as r:
        assert r.status == 200
    code, replay = await operator(
        system, "POST", "/v1/admin/dead-letters/replay", {"kind": "payment", "ticket_ids": [failing[0]]}
    )
    assert code == 200 and replay["replayed"] == [failing[0]] and replay["not_found"] == []
    assert (await drain(system, failing[:1]))[failing[0]] == "done"
    code, replay = await operator(system, "POST", "/v1/admin/dead-letters/replay", {"kind": "payment"})
    assert code == 200 and sorted(replay["replayed"]) == sorted(failing[1:])

    # Then each ends done with one effect, and the dead-letter list is empty
    assert set((await drain(system, failing)).values()) == {"done"}
    for ticket_id in failing:
        entry = await system.ledger(ticket_id)
        assert entry["effects"] == 1
    code, listing = await operator(system, "GET", "/v1/admin/dead-letters?kind=payment")
    assert listing["total"] == 0
    deadline = time.monotonic() + 5
    while await system.queue_depth(system.names.dead_queue("payment")) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await system.queue_depth(system.names.dead_queue("payment")) == 0
    code, audit = await operator(system, "GET", "/v1/admin/audit")
    assert [e["action"] for e in audit["entries"][:2]] == ["dead_letters.replay"] * 2


OPERATOR_ENDPOINTS = [
    ("GET", "/v1/admin/throttle"),
    ("PUT", "/v1/admin/throttle"),
    ("GET", "/v1/admin/audit"),
    ("GET", "/v1/admin/forecast"),
    ("GET", "/v1/admin/enterprises"),
    ("POST", "/v1/admin/enterprises"),
    ("DELETE", "/v1/admin/enterprises/ent_0000"),
    ("GET", "/v1/admin/dead-letters?kind=payment"),
    ("GET", "/v1/admin/dead-letters/" + "a" * 42),  # shaped like a ticket ID, as the route wants
    ("POST", "/v1/admin/dead-letters/replay"),
]


async def test_every_operator_endpoint_wants_the_operator_token(ops: System) -> None:
    assert ops.frontdoor is not None
    for method, path in OPERATOR_ENDPOINTS:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": TOKEN}):
            async with ops.http.request(
                method, ops.frontdoor.url + path, json={"kind": "payment"}, headers=headers
            ) as response:
                assert response.status == 401, (method, path, headers)
                assert (await response.json())["error"] == "unauthorized"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_bundle_dead_lettered_whole_is_split_for_inspection_and_replay(ops: System) -> None:
    system = ops
    assert system.core is not None
    # Given two payments the core refuses, whose messages then sit in the dead-letter queue as one bundle,
    # as a bundle that reached the delivery limit is dead-lettered whole
    failing = await _refused_payments(system, 2, amount_cents=7778, first=91_000)
    assert system.frontdoor is not None
    broker = system.frontdoor.app[BROKER]
    channel = await broker.channel(prefetch=0)
    dead = await channel.declare_queue(system.names.dead_queue("payment"), passive=True)
    singles = []
    while (message := await dead.get(fail=False)) is not None:
        singles.append(decode(message.body))
        await message.ack()
    await channel.close()
    assert sorted(t.ticket_id for t in singles) == sorted(failing)
    await broker.publish(
        encode_bundle(singles),
        routing_key=system.names.dead_queue("payment"),
        message_id="dead-bundle",
        to_queue=True,
        headers={BUNDLE_HEADER: len(singles)},
    )

    # When an operator looks at one of them
    code, one = await operator(system, "GET", f"/v1/admin/dead-letters/{failing[1]}")

    # Then it is found, and the bundle is now one message per ticket
    assert code == 200 and one["message"]["ticket_id"] == failing[1]
    assert sorted(await system.dead_letter_ids("payment")) == sorted(failing)

    # And both replay to done
    async with system.http.delete(system.core.url + "/v1/faults") as r:
        assert r.status == 200
    code, replay = await operator(system, "POST", "/v1/admin/dead-letters/replay", {"kind": "payment"})
    assert code == 200 and sorted(replay["replayed"]) == sorted(failing)
    assert set((await drain(system, failing)).values()) == {"done"}
