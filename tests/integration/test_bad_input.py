"""Bad input of every kind gets a clear 4xx, never a 5xx, and nothing of it reaches the queue or Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from yarl import URL

from queue_config.kinds import KINDS
from queue_config.settings import Settings
from tests.support.system import System, start_system, submission

VALID = submission("payment", 1)
CID = VALID["citizen_id"]


@pytest.fixture
async def door_only(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    """A front door with no workers, in a namespace of its own, so queue depths can be counted."""
    system = await start_system(
        fresh_namespace.replace(max_body_bytes=4096), http, redis, status=False, workers=False
    )
    yield system
    await system.stop()


def _with(**payload: Any) -> dict[str, Any]:
    return {**VALID, "payload": {**VALID["payload"], **payload}}


def _wrong_check_char(cid: str) -> str:
    return cid[:17] + ("0" if cid[17] != "0" else "1")


CASES_422: list[tuple[str, Any, dict[str, str]]] = [
    ("not an object", [1, 2], {"body": "must be a JSON object"}),
    ("missing everything", {}, {"kind": "required", "citizen_id": "required", "payload": "required"}),
    ("unknown top field", {**VALID, "extra": 1}, {"extra": "unknown field"}),
    ("unknown kind", {**VALID, "kind": "loan"}, {"kind": "must be one of"}),
    ("check character", {**VALID, "citizen_id": _wrong_check_char(CID)}, {"citizen_id": "check character"}),
    ("short id", {**VALID, "citizen_id": "1234"}, {"citizen_id": "18 characters"}),
    ("numeric id", {**VALID, "citizen_id": 110101198001010011}, {"citizen_id": "must be a string"}),
    ("bad birth date", {**VALID, "citizen_id": "110101198013010010"}, {"citizen_id": "calendar date"}),
    ("payload not object", {**VALID, "payload": "x"}, {"payload": "must be an object"}),
    ("unknown payload field", _with(tip=1), {"payload.tip": "unknown field"}),
    ("amount zero", _with(amount_cents=0), {"payload.amount_cents": "integer from 1"}),
    ("amount too big", _with(amount_cents=10_000_001), {"payload.amount_cents": "integer from 1"}),
    ("amount float", _with(amount_cents=12.5), {"payload.amount_cents": "integer"}),
    ("amount bool", _with(amount_cents=True), {"payload.amount_cents": "integer"}),
    ("amount string", _with(amount_cents="100"), {"payload.amount_cents": "integer"}),
    ("scheme", _with(scheme="dental"), {"payload.scheme": "must be one of"}),
    ("period month 13", _with(period="2026-13"), {"payload.period": "calendar month"}),
    ("period format", _with(period="202610"), {"payload.period": "YYYY-MM"}),
    (
        "pension fields",
        {**VALID, "kind": "pension", "payload": {"action": "cash", "retirement_date": "2031-02-30"}},
        {"payload.action": "must be one of", "payload.retirement_date": "calendar date"},
    ),
    (
        "pension missing",
        {**VALID, "kind": "pension", "payload": {}},
        {"payload.action": "required", "payload.retirement_date": "required"},
    ),
    (
        "transfer same region",
        {**VALID, "kind": "transfer", "payload": {"from_region": "110101", "to_region": "110101"}},
        {"payload.to_region": "must differ"},
    ),
    (
        "transfer region format",
        {**VALID, "kind": "transfer", "payload": {"from_region": 110101, "to_region": "31010"}},
        {"payload.from_region": "6-digit", "payload.to_region": "6-digit"},
    ),
]


async def _assert_nothing_queued(system: System, redis: Redis) -> None:
    for kind in KINDS:
        assert await system.queue_depth(system.names.queue(kind)) == 0
    tickets = [k async for k in redis.scan_iter(f"{system.names.ticket_prefix}*")]
    assert tickets == []


@pytest.mark.parametrize(("case", "body", "expected"), CASES_422, ids=[c[0] for c in CASES_422])
async def test_invalid_fields_get_422_with_field_paths_and_nothing_is_queued(
    door_only: System, redis: Redis, case: str, body: Any, expected: dict[str, str]
) -> None:
    code, doc, headers = await door_only.submit(body)
    assert code == 422, doc
    assert doc["error"] == "validation_failed"
    for path, reason in expected.items():
        assert reason in doc["fields"][path], (path, doc["fields"])
    assert "X-Request-ID" in headers
    # Error bodies never echo a resident ID
    assert CID not in str(doc) and CID[:17] not in str(doc)
    await _assert_nothing_queued(door_only, redis)


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "error"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"\xff\xfe{}", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b"{}", "text/plain", 415, "unsupported_media_type"),
        (b"kind=payment", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"{}", "application/json; charset=latin-1", 415, "unsupported_media_type"),
        (b'{"kind": "' + b"x" * 5000 + b'"}', "application/json", 413, "payload_too_large"),
    ],
)
async def test_malformed_requests_get_the_specific_4xx(
    door_only: System, redis: Redis, raw: bytes, content_type: str, status: int, error: str
) -> None:
    code, doc, _ = await door_only.submit(None, {"Content-Type": content_type}, raw=raw)
    assert (code, doc["error"]) == (status, error)
    await _assert_nothing_queued(door_only, redis)


async def test_a_chunked_body_over_the_limit_gets_413(door_only: System, redis: Redis) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    assert door_only.frontdoor is not None
    async with door_only.http.post(
        door_only.frontdoor.url + "/v1/submissions",
        data=chunks(),
        headers={"Content-Type": "application/json", **await door_only.tokens.header(CID)},
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"] == "payload_too_large"
    await _assert_nothing_queued(door_only, redis)


async def test_a_bad_idempotency_key_gets_422(door_only: System, redis: Redis) -> None:
    code, doc, _ = await door_only.submit(VALID, {"Idempotency-Key": "x" * 300})
    assert code == 422 and "header.Idempotency-Key" in doc["fields"]
    await _assert_nothing_queued(door_only, redis)


async def test_unknown_routes_and_methods_are_json_4xx(door_only: System) -> None:
    assert door_only.frontdoor is not None
    async with door_only.http.get(door_only.frontdoor.url + "/v1/submissions") as response:
        assert response.status == 405
        assert (await response.json())["error"] == "method_not_allowed"
    async with door_only.http.get(door_only.frontdoor.url + "/nowhere") as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"


async def test_a_lowercase_x_check_character_is_accepted_and_stored_as_upper(
    door_only: System, redis: Redis
) -> None:
    # Given a resident ID whose check character is X, written in lowercase
    n = next(i for i in range(1000) if submission("payment", i)["citizen_id"].endswith("X"))
    body = submission("payment", n)
    body["citizen_id"] = body["citizen_id"][:17] + "x"

    code, doc, _ = await door_only.submit(body)

    # Then it is accepted, and the queued message carries the uppercase form
    assert code == 202, doc
    import aio_pika

    connection = await aio_pika.connect(door_only.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(door_only.names.queue("payment"))
        message = await queue.get(fail=True)
        assert message is not None
        assert b'"citizen_id":"' + body["citizen_id"][:17].encode() + b'X"' in message.body
        await message.nack(requeue=True)


async def test_a_client_hanging_up_mid_body_is_no_error_and_the_door_goes_on(door_only: System) -> None:
    assert door_only.frontdoor is not None
    url = URL(door_only.frontdoor.url)

    def answered_500() -> float:
        labels = {"route": "/v1/submissions", "status": "500"}
        return REGISTRY.get_sample_value("ticketgate_http_request_seconds_count", labels) or 0.0

    before = answered_500()
    token = (await door_only.tokens.token(CID)).encode()
    _reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"POST /v1/submissions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token + b"\r\n"
        b'Content-Length: 3000\r\n\r\n{"kind": "pay'
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is reading the body
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.5)
    # Nobody to answer: no 500 counted (it was, with a logged traceback, before)
    assert answered_500() == before
    code, _, _ = await door_only.submit(submission("payment", door_only.next_n()))
    assert code == 202
