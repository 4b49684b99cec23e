"""Per-client limits: 429 with an honest Retry-After, per resident ID and per client IP, shared by every
front door through one GCRA limiter in Redis, and never touching RabbitMQ."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from frontdoor.intake.client_ip import client_ip, parse_networks
from queue_config.settings import Settings
from queue_config.stores.limiter import Limit
from queue_config.stores.redis.limiter import RedisGcraLimiter
from tests.support.system import System, start_system, submission


def _distinct(n: int, i: int) -> dict[str, object]:
    """Citizen n's i-th distinct payment (distinct bodies, so dedupe never answers instead)."""
    body = submission("payment", n)
    body["payload"]["amount_cents"] = 1000 + i
    return body


@pytest.fixture
async def limited(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    settings = fresh_namespace.replace(
        per_client_per_minute=5, per_ip_per_minute=8, trusted_proxies="127.0.0.1"
    )
    system = await start_system(settings, http, redis, status=False, workers=False)
    yield system
    await system.stop()


async def test_a_citizen_over_the_limit_gets_429_with_an_honest_retry_after(limited: System) -> None:
    headers = {"X-Forwarded-For": "198.51.100.1"}
    # Given a citizen who has used the whole allowance (5 a minute)
    for i in range(5):
        code, doc, _ = await limited.submit(_distinct(1, i), headers)
        assert code == 202, doc

    # When the sixth submission arrives
    code, doc, hdrs = await limited.submit(_distinct(1, 5), headers)

    # Then it is refused with 429, a whole-second Retry-After of about one emission interval (12 s),
    # and a suggested time that far in the future
    assert code == 429 and doc["error"] == "rate_limited"
    retry_after = int(hdrs["Retry-After"])
    assert retry_after == doc["retry_after_seconds"]
    assert 1 <= retry_after <= 12
    suggested = dt.datetime.fromisoformat(doc["suggested_time"].replace("Z", "+00:00"))
    ahead = (suggested - dt.datetime.now(dt.UTC)).total_seconds()
    assert retry_after - 5 <= ahead <= retry_after + 1
    # And it reached neither the queue nor the ticket store
    assert len(await limited.queued_ticket_ids(limited.names.queue("payment"))) == 5

    # While another citizen behind another address is unaffected
    code, _, _ = await limited.submit(_distinct(2, 0), {"X-Forwarded-For": "198.51.100.2"})
    assert code == 202


async def test_one_address_over_its_limit_gets_429_whoever_it_claims_to_be(limited: System) -> None:
    # Given 8 submissions from one client address (through the trusted proxy) by 8 citizens
    for n in range(10, 18):
        code, doc, _ = await limited.submit(_distinct(n, 0), {"X-Forwarded-For": "203.0.113.9"})
        assert code == 202, doc
    # Then the ninth from that address is refused, even for a fresh citizen
    code, doc, _ = await limited.submit(_distinct(18, 0), {"X-Forwarded-For": "203.0.113.9"})
    assert code == 429
    # And a client behind another address is not
    code, _, _ = await limited.submit(_distinct(19, 0), {"X-Forwarded-For": "203.0.113.10"})
    assert code == 202


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    # Given a front door that trusts no proxy and allows 3 requests a minute per address
    settings = fresh_namespace.replace(per_ip_per_minute=3, trusted_proxies="")
    system = await start_system(settings, http, redis, status=False, workers=False)
    try:
        # When one client rotates a forged X-Forwarded-For on every request
        codes = [
            (await system.submit(_distinct(30 + i, 0), {"X-Forwarded-For": f"192.0.2.{i}"}))[0]
            for i in range(4)
        ]
        # Then the header buys it nothing: its real address is limited
        assert codes == [202, 202, 202, 429]
    finally:
        await system.stop()


async def test_two_front_doors_enforce_one_limit_between_them(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    # Given two front doors on the same Redis, with 6 submissions a minute per citizen
    settings = fresh_namespace.replace(per_client_per_minute=6, per_ip_per_minute=0)
    first = await start_system(settings, http, redis, status=False, workers=False)
    second = await start_system(settings, http, redis, status=False, workers=False)
    try:
        # When one citizen alternates between them
        codes = []
        for i in range(10):
            door = first if i % 2 == 0 else second
            codes.append((await door.submit(_distinct(40, i)))[0])
        # Then together they admit exactly the allowance, not 6 each
        assert codes.count(202) == 6 and codes.count(429) == 4
        assert codes[:6] == [202] * 6
    finally:
        await first.stop()
        await second.stop()


async def test_gcra_allows_the_burst_then_one_per_interval(redis: Redis) -> None:
    limiter = RedisGcraLimiter(redis)
    key = f"tgtest-gcra:{dt.datetime.now().timestamp()}"
    try:
        verdicts = [await limiter.acquire([Limit.per_minute(key, 60)]) for _ in range(61)]
        assert [v.allowed for v in verdicts] == [True] * 60 + [False]
        assert 0 < verdicts[-1].retry_after_seconds <= 1.0  # one interval is 1 s at 60 a minute
        assert verdicts[-1].exceeded == key
        # A refused request charges nothing: refusing again gives no longer a wait
        again = await limiter.acquire([Limit.per_minute(key, 60)])
        assert not again.allowed and again.retry_after_seconds <= verdicts[-1].retry_after_seconds
    finally:
        await redis.delete(key)


async def test_gcra_charges_no_subject_when_another_refuses(redis: Redis) -> None:
    limiter = RedisGcraLimiter(redis)
    stamp = dt.datetime.now().timestamp()
    roomy, tight = f"tgtest-gcra:r{stamp}", f"tgtest-gcra:t{stamp}"
    try:
        assert (await limiter.acquire([Limit.per_minute(tight, 1)])).allowed
        refused = await limiter.acquire([Limit.per_minute(roomy, 100), Limit.per_minute(tight, 1)])
        assert not refused.allowed and refused.exceeded == tight
        assert await redis.get(roomy) is None  # the roomy limit was not charged
    finally:
        await redis.delete(roomy, tight)


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("10.0.0.5", "198.51.100.7", "10.0.0.0/8", "198.51.100.7"),
        ("10.0.0.5", "198.51.100.7, 10.0.0.9", "10.0.0.0/8", "198.51.100.7"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.7", "10.0.0.0/8", "198.51.100.7"),  # spoofed left part
        ("198.51.100.7", "6.6.6.6", "10.0.0.0/8", "198.51.100.7"),  # untrusted peer
        ("10.0.0.5", "not-an-ip", "10.0.0.0/8", "10.0.0.5"),
        ("10.0.0.5", None, "10.0.0.0/8", "10.0.0.5"),
        ("::1", "2001:db8::1", "::1", "2001:db8::1"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    peer: str, xff: str | None, trusted: str, expected: str
) -> None:
    assert client_ip(peer, xff, parse_networks(trusted)) == expected


async def test_after_a_429_the_door_refuses_that_client_without_asking_redis(limited: System) -> None:
    assert limited.frontdoor is not None
    from frontdoor.app_keys import GATE

    limits = limited.frontdoor.app[GATE]
    calls = 0
    original = limits._limiter.acquire

    async def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    limits._limiter.acquire = counting  # type: ignore[method-assign, assignment]
    headers = {"X-Forwarded-For": "198.51.100.50"}
    # Given a citizen refused once after using the allowance
    codes = [(await limited.submit(_distinct(60, i), headers))[0] for i in range(6)]
    assert codes == [202] * 5 + [429]
    assert calls == 6

    # When the same citizen keeps hammering
    later = [await limited.submit(_distinct(60, i), headers) for i in range(6, 16)]

    # Then every answer is a 429 with a shrinking honest Retry-After, decided without Redis
    assert [code for code, _, _ in later] == [429] * 10
    assert all(1 <= int(h["Retry-After"]) <= 12 for _, _, h in later)
    assert calls == 6
