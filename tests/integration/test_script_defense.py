"""Script attacks cost the attacker (issue 18): under attack, a client past its allowance must solve a
proof-of-work challenge before its request costs any Redis or RabbitMQ work; a solution is good once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from frontdoor.defense import suspicion
from frontdoor.defense.proof_of_work import PROOF_HEADER, solve
from queue_config.settings import Settings
from tests.support.system import System, start_system, submission

ALLOWANCE = 3


@pytest.fixture
async def door(fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis) -> AsyncIterator[System]:
    settings = fresh_namespace.replace(
        challenge_after_per_minute=ALLOWANCE, pow_difficulty_bits=8, pow_max_difficulty_bits=12
    )
    system = await start_system(settings, http, redis, workers=False, status=False)
    yield system
    await system.stop()


async def _attack(door: System) -> None:
    """What a door sees of a script replaying forged tokens: failed verifications, many a second."""

    async def forged(n: int) -> int:
        code, _, _ = await door.submit(submission("payment", 90_000 + n), {"Authorization": "Bearer a.b.c"})
        return code

    codes = await asyncio.gather(*(forged(n) for n in range(suspicion.ATTACK_MIN_FAILURES + 20)))
    assert set(codes) == {401}
    await asyncio.sleep(0.15)  # the door works out its attack level ten times a second


async def _queued(door: System, redis: Redis) -> int:
    return len([k async for k in redis.scan_iter(f"{door.settings.namespace}:ticket:*", count=1000)])


async def test_without_an_attack_no_citizen_is_challenged(door: System) -> None:
    citizen = submission("payment", 91_000)["citizen_id"]
    for n in range(ALLOWANCE * 4):
        code, doc, _ = await door.submit({**submission("payment", 91_000 + n * 7919), "citizen_id": citizen})
        assert code == 202, doc


async def test_under_attack_a_citizen_past_its_allowance_solves_a_challenge_once(
    door: System, redis: Redis
) -> None:
    await _attack(door)
    citizen = submission("payment", 92_000)["citizen_id"]

    def body(n: int) -> dict[str, object]:
        return {**submission("payment", 92_000 + n * 7919), "citizen_id": citizen}

    # Within its allowance a verified citizen never sees a challenge
    for n in range(ALLOWANCE):
        code, doc, _ = await door.submit(body(n))
        assert code == 202, doc
    # Past it: 429 with a challenge, and nothing of the request stored
    before = await _queued(door, redis)
    code, doc, headers = await door.submit(body(10))
    assert code == 429, doc
    assert doc["error"] == "challenge_required"
    assert doc["proof_header"] == PROOF_HEADER and 8 <= doc["difficulty"] <= 12
    assert int(headers["Retry-After"]) >= 1
    assert await _queued(door, redis) == before
    # Solved, the same request goes through
    proof = solve(doc["challenge"])
    code, accepted, _ = await door.submit(body(10), {PROOF_HEADER: proof})
    assert code == 202, accepted
    # The same solution again, even for another submission: refused, with a new challenge
    code, again, _ = await door.submit(body(11), {PROOF_HEADER: proof})
    assert (code, again["error"]) == (429, "challenge_required")
    assert "used before" in again["message"]
    assert again["challenge"] != doc["challenge"]
    # A solution bound to another citizen is no good here
    other = submission("payment", 92_999)
    for _ in range(ALLOWANCE + 1):
        code, theirs, _ = await door.submit(other)
        other = {
            **other,
            "payload": {**other["payload"], "amount_cents": other["payload"]["amount_cents"] + 1},
        }
    assert code == 429
    code, refused, _ = await door.submit(body(12), {PROOF_HEADER: solve(theirs["challenge"])})
    assert code == 429 and "not a challenge of ours" in refused["message"]
    # A garbled proof is a new challenge, not an error
    code, garbled, _ = await door.submit(body(13), {PROOF_HEADER: "x" * 300})
    assert (code, garbled["error"]) == (429, "challenge_required")


async def test_the_solver_script_is_served_to_portal_pages(door: System) -> None:
    assert door.frontdoor is not None
    async with door.http.get(door.frontdoor.url + "/v1/challenge/solver.js") as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"
        assert "ticketgateProof" in await response.text()
