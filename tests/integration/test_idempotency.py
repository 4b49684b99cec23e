"""Idempotency keys and semantic dedupe: retries add no work and apply no effect twice."""

from __future__ import annotations

import asyncio
import uuid

from tests.support.system import System, drain, submission


async def test_same_key_same_body_returns_the_same_ticket_and_one_effect(system: System) -> None:
    body = submission("payment", system.next_n())
    key = {"Idempotency-Key": uuid.uuid4().hex}

    first = await system.submit(body, key)
    again = await system.submit(body, key)

    assert first[0] == 202 and again[0] == 200
    assert again[1]["ticket_id"] == first[1]["ticket_id"]
    assert again[2]["Location"] == first[2]["Location"]
    await drain(system, [first[1]["ticket_id"]])
    # After completion the same key still answers the same ticket, now done
    late = await system.submit(body, key)
    assert (late[0], late[1]["ticket_id"], late[1]["status"]) == (200, first[1]["ticket_id"], "done")
    assert await system.ledger(first[1]["ticket_id"]) == {"effects": 1, "calls": 1}


async def test_same_key_other_body_is_a_409(system: System) -> None:
    n = system.next_n()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await system.submit(submission("payment", n), key)
    other = submission("payment", n)
    other["payload"]["amount_cents"] += 1

    code, doc, _ = await system.submit(other, key)

    assert code == 409 and doc["error"] == "idempotency_conflict"
    assert doc["ticket_id"] == first[1]["ticket_id"]


async def test_keys_are_scoped_to_the_citizen(system: System) -> None:
    key = {"Idempotency-Key": "shared-key-" + uuid.uuid4().hex}
    a = await system.submit(submission("payment", system.next_n()), key)
    b = await system.submit(submission("payment", system.next_n()), key)
    assert a[0] == b[0] == 202
    assert a[1]["ticket_id"] != b[1]["ticket_id"]


async def test_a_retry_storm_without_keys_adds_no_work_while_the_ticket_is_open(system: System) -> None:
    # Given an anxious citizen who submits the same payment 20 times at once
    body = submission("payment", system.next_n())
    replies = await asyncio.gather(*(system.submit(body) for _ in range(20)))

    # Then exactly one ticket is created and every reply names it
    codes = sorted(code for code, _, _ in replies)
    ticket_ids = {doc["ticket_id"] for _, doc, _ in replies}
    assert codes == [200] * 19 + [202]
    assert len(ticket_ids) == 1
    (ticket_id,) = ticket_ids
    await drain(system, [ticket_id])
    assert await system.ledger(ticket_id) == {"effects": 1, "calls": 1}


async def test_the_same_submission_after_the_first_is_done_is_new_work(system: System) -> None:
    body = submission("payment", system.next_n())
    first = await system.submit(body)
    await drain(system, [first[1]["ticket_id"]])

    second = await system.submit(body)

    assert second[0] == 202 and second[1]["ticket_id"] != first[1]["ticket_id"]
    await drain(system, [second[1]["ticket_id"]])


async def test_differently_spelled_identical_bodies_are_deduplicated(system: System) -> None:
    body = submission("payment", system.next_n())
    reordered = {
        "payload": dict(reversed(body["payload"].items())),
        "citizen_id": body["citizen_id"],
        "kind": body["kind"],
    }
    a = await system.submit(body)
    b = await system.submit(reordered)
    assert (a[0], b[0]) == (202, 200)
    assert a[1]["ticket_id"] == b[1]["ticket_id"]
