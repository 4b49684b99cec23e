"""Citizen identity (SPEC "Additions"): a submission needs a token from the portal's identity provider
whose ``sub`` is the submission's resident ID; a done ticket's result is shown to its owner only."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from queue_config.settings import Settings
from tests.support.identity import TokenBook, idp_app
from tests.support.system import Served, System, start_system, submission


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _header(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def _b64(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).rstrip(b"=").decode()


async def _post(system: System, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await system.submit(body, headers, auth=False)


def _refused(code: int, doc: dict[str, Any], headers: Any) -> None:
    assert code == 401, doc
    assert doc["error"] == "unauthenticated"
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_of_the_citizen_gets_a_ticket_with_either_algorithm(system: System) -> None:
    for alg, n in (("RS256", 7001), ("ES256", 7002)):
        body = submission("payment", n)
        token = await system.tokens.mint(body["citizen_id"], alg=alg)
        code, doc, _ = await _post(system, body, token)
        assert code == 202, (alg, doc)


async def test_a_submission_without_a_token_is_401_and_reserves_nothing(system: System) -> None:
    body = submission("payment", 7010)
    code, doc, headers = await _post(system, body, None)
    _refused(code, doc, headers)
    assert headers["WWW-Authenticate"] == 'Bearer realm="ticketgate"'
    # Not a bearer token at all
    code, doc, headers = await system.submit(body, {"Authorization": "Basic dXNlcjpwdw=="}, auth=False)
    _refused(code, doc, headers)
    # Then, with its token, the same body is a new ticket (202), not one found by dedupe (200).
    code, doc, _ = await system.submit(body)
    assert code == 202, doc


async def test_a_token_with_a_wrong_signature_is_401(system: System) -> None:
    body = submission("payment", 7020)
    good = await system.tokens.mint(body["citizen_id"])
    # Signed by a key of the attacker's own, naming the provider's key
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(good), forger, algorithm="RS256", headers={"kid": _header(good)["kid"]})
    code, doc, headers = await _post(system, body, forged)
    _refused(code, doc, headers)
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    # The provider's signature over other claims: another citizen's token with this citizen's sub
    head, _, signature = good.rsplit(".", 2)[0], None, good.rsplit(".", 1)[1]
    other = submission("payment", 7021)["citizen_id"]
    tampered = f"{head}.{_b64({**_claims(good), 'sub': other})}.{signature}"
    code, doc, headers = await _post(system, submission("payment", 7021), tampered)
    _refused(code, doc, headers)
    # No signature, and a symmetric algorithm keyed with the public key
    unsigned = jwt.encode(_claims(good), "", algorithm="none")  # "" is PyJWT's no key
    code, doc, headers = await _post(system, body, unsigned)
    _refused(code, doc, headers)
    hs = jwt.encode(_claims(good), "x" * 32, algorithm="HS256", headers={"kid": _header(good)["kid"]})
    code, doc, headers = await _post(system, body, hs)
    _refused(code, doc, headers)
    code, doc, headers = await _post(system, body, "not-a-jwt")
    _refused(code, doc, headers)


async def test_a_key_the_provider_adds_later_is_fetched_when_a_token_names_it(system: System) -> None:
    # Given the provider rotates to a key the door has never seen
    async with system.http.post(f"{system.settings.auth_issuer}/v1/keys/rotate") as response:
        assert response.status == 201
        kid = (await response.json())["kid"]
    body = submission("payment", 7030)
    token = await system.tokens.mint(body["citizen_id"])
    assert _header(token)["kid"] == kid
    # Then its token is good at once: the unknown kid made the door fetch the JWKS again
    code, doc, _ = await _post(system, body, token)
    assert code == 202, doc
    # And a kid nobody publishes is still refused
    stray = jwt.encode(
        _claims(token),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "rs256-nobody"},
    )
    code, doc, headers = await _post(system, submission("payment", 7031), stray)
    _refused(code, doc, headers)


async def test_expiry_is_checked_with_a_small_clock_skew(system: System) -> None:
    skew = system.settings.auth_clock_skew_seconds
    body = submission("payment", 7040)
    expired = await system.tokens.mint(body["citizen_id"], ttl_seconds=-int(skew) - 60)
    code, doc, headers = await _post(system, body, expired)
    _refused(code, doc, headers)
    assert "expired" in doc["message"].lower()
    just_expired = await system.tokens.mint(body["citizen_id"], ttl_seconds=-int(skew / 2))
    code, doc, _ = await _post(system, body, just_expired)
    assert code == 202, doc


async def test_a_token_for_another_audience_or_issuer_is_401(
    system: System, http: aiohttp.ClientSession
) -> None:
    body = submission("payment", 7050)
    elsewhere = await system.tokens.mint(body["citizen_id"], aud="another-service")
    code, doc, headers = await _post(system, body, elsewhere)
    _refused(code, doc, headers)
    assert "audience" in doc["message"].lower()
    # A provider of the same software at another address: other issuer, other keys
    port = free_port()
    stranger = await Served(idp_app(port), port).start()
    try:
        foreign = await TokenBook(http, stranger.url).mint(body["citizen_id"])
    finally:
        await stranger.stop()
    code, doc, headers = await _post(system, body, foreign)
    _refused(code, doc, headers)


async def test_a_token_of_another_citizen_is_403_and_reserves_nothing(system: System) -> None:
    body = submission("transfer", 7060)
    other = submission("transfer", 7061)["citizen_id"]
    code, doc, _ = await _post(system, body, await system.tokens.token(other))
    assert code == 403, doc
    assert doc["error"] == "forbidden"
    assert body["citizen_id"] not in orjson.dumps(doc).decode()  # masked, never in full
    code, doc, _ = await system.submit(body)
    assert code == 202, doc
    # A lowercase check character is the same citizen (SPEC: accepted and stored as X)
    upper = next(
        submission("pension", n)
        for n in range(7062, 7200)
        if submission("pension", n)["citizen_id"][-1] == "X"
    )
    lower = {**upper, "citizen_id": upper["citizen_id"][:17] + "x"}
    code, doc, _ = await _post(system, lower, await system.tokens.mint(upper["citizen_id"]))
    assert code == 202, doc


async def test_a_done_tickets_result_is_shown_to_its_owner_only(system: System) -> None:
    body = submission("payment", 7070)
    code, doc, _ = await system.submit(body)
    assert code == 202, doc
    ticket_id = doc["ticket_id"]
    done = await system.wait_for_status(ticket_id, {"done"})
    # Readable by ticket ID alone, without the result
    assert "result" not in done
    owner = await system.tokens.header(body["citizen_id"])
    code, mine = await system.ticket(ticket_id, headers=owner)
    assert code == 200
    assert mine["result"]["amount_cents"] == body["payload"]["amount_cents"]
    stranger = await system.tokens.header(submission("payment", 7071)["citizen_id"])
    code, theirs = await system.ticket(ticket_id, headers=stranger)
    assert (code, theirs["status"]) == (200, "done")
    assert "result" not in theirs
    # A token that fails verification still reads the status, and is told why there is no result
    assert system.status is not None
    async with system.http.get(
        f"{system.status.url}/v1/tickets/{ticket_id}", headers={"Authorization": "Bearer a.b.c"}
    ) as response:
        assert response.status == 200
        assert "result" not in await response.json()
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # The citizen page, opened from a link, shows no result details
    async with system.http.get(f"{system.status.url}/t/{ticket_id}") as response:
        page = await response.text()
    assert str(done["ticket_id"]) in page
    assert "PAY-" not in page
    assert mine["result"]["receipt_id"] not in page


@pytest.fixture
async def behind_gateway(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    """AUTH_REQUIRED=false: a gateway on the loopback (a trusted proxy) verifies citizens."""
    settings = fresh_namespace.replace(auth_required=False, trusted_proxies="127.0.0.1")
    system = await start_system(settings, http, redis, workers=False)
    yield system
    await system.stop()


async def test_behind_a_gateway_its_subject_header_is_checked_from_trusted_proxies_only(
    behind_gateway: System,
) -> None:
    header = behind_gateway.settings.auth_subject_header
    body = submission("payment", 7080)
    other = submission("payment", 7081)["citizen_id"]
    # From the trusted gateway, naming another citizen: 403; naming this one: 202
    code, doc, _ = await behind_gateway.submit(body, {header: other}, auth=False)
    assert code == 403, doc
    code, doc, _ = await behind_gateway.submit(body, {header: body["citizen_id"]}, auth=False)
    assert code == 202, doc
    # No token is asked for
    code, doc, _ = await behind_gateway.submit(submission("payment", 7082), auth=False)
    assert code == 202, doc


async def test_from_an_untrusted_address_the_subject_header_is_ignored(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    settings = fresh_namespace.replace(auth_required=False, trusted_proxies="10.9.9.9")
    system = await start_system(settings, http, redis, workers=False, status=False)
    try:
        body = submission("payment", 7090)
        other = submission("payment", 7091)["citizen_id"]
        code, doc, _ = await system.submit(body, {settings.auth_subject_header: other}, auth=False)
        assert code == 202, doc
    finally:
        await system.stop()


async def test_unreachable_provider_keys_are_503_with_retry_after_not_401(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis, tokens: TokenBook
) -> None:
    settings = fresh_namespace.replace(auth_jwks_url=f"http://127.0.0.1:{free_port()}/jwks.json")
    system = await start_system(settings, http, redis, workers=False, status=False)
    try:
        body = submission("payment", 7100)
        started = time.monotonic()
        code, doc, headers = await _post(system, body, await tokens.token(body["citizen_id"]))
        assert code == 503, doc
        assert int(headers["Retry-After"]) >= 1
        assert doc["retry_after_seconds"] >= 1
        assert time.monotonic() - started < 10  # answered, not hung
        # No token at all is still the client's fault
        code, doc, headers = await _post(system, body, None)
        _refused(code, doc, headers)
    finally:
        await system.stop()
