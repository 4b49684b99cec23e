"""What fuzzing the published OpenAPI document and attacks by hand found: each answered with a clear 4xx,
nothing applied, nothing held open."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from yarl import URL

from frontdoor.intake import request_body
from queue_config.settings import Settings
from queue_config.web import serving
from queue_config.web.callback_urls import CallbackPolicy, PublicOnlyResolver
from queue_config.web.networks import parse_networks
from tests.integration.test_bulk import TOKEN, create_enterprise, items, post_bulk
from tests.integration.test_operations import OPERATOR_ENDPOINTS
from tests.support.system import DEFAULT_CITIZEN, Served, System, start_system

OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def door(fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis) -> AsyncIterator[System]:
    system = await start_system(fresh_namespace.replace(operator_token=TOKEN), http, redis, workers=False)
    yield system
    await system.stop()


async def _raw_request(url: str, head: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``head`` as is and read what comes back until the server closes (or ``wait`` passes)."""
    target = URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    writer.write(head)
    await writer.drain()
    try:
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()


ADMIN_ROUTES = [*OPERATOR_ENDPOINTS, ("POST", "/v1/bulk")]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_an_authorization_header_that_is_not_utf8_is_401_not_500(
    door: System, method: str, path: str
) -> None:
    assert door.frontdoor is not None
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n".encode()
        + b"Content-Length: 2\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n{}"
    )
    answer = await _raw_request(door.frontdoor.url, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"error":"unauthorized"' in answer


async def test_a_batch_read_with_a_non_utf8_key_is_401(door: System) -> None:
    assert door.status is not None
    head = (
        b"GET /v1/batches/x HTTP/1.1\r\nHost: t\r\n"
        b"Authorization: Bearer \xc3\x28\r\nConnection: close\r\n\r\n"
    )
    answer = await _raw_request(door.status.url, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


@pytest.mark.parametrize("kind", [{}, [], 7, None, "salary"])
async def test_a_replay_of_a_kind_that_is_not_a_kind_is_422(door: System, kind: Any) -> None:
    assert door.frontdoor is not None
    async with door.http.post(
        door.frontdoor.url + "/v1/admin/dead-letters/replay", json={"kind": kind}, headers=OPERATOR
    ) as response:
        assert response.status == 422
        assert "kind" in (await response.json())["fields"]


@pytest.mark.parametrize("value", ["on", "maybe", "2", "tru", ""])
async def test_a_dry_run_in_words_we_do_not_know_is_refused_and_applies_nothing(
    door: System, value: str
) -> None:
    assert door.frontdoor is not None
    url = door.frontdoor.url + "/v1/admin/throttle"
    async with door.http.get(url, headers=OPERATOR) as response:
        before = await response.json()
    async with door.http.put(
        url, params={"dry_run": value}, json={"mode": "manual", "rates": {"payment": 1}}, headers=OPERATOR
    ) as response:
        assert response.status == 422
        assert "query.dry_run" in (await response.json())["fields"]
    async with door.http.get(url, headers=OPERATOR) as response:
        assert await response.json() == before


async def test_a_405_names_the_allowed_methods(door: System) -> None:
    assert door.frontdoor is not None
    async with door.http.delete(door.frontdoor.url + "/v1/submissions") as response:
        assert response.status == 405
        assert "POST" in response.headers["Allow"]
        assert (await response.json())["error"] == "method_not_allowed"


async def test_an_oversized_header_is_a_json_400(door: System) -> None:
    assert door.frontdoor is not None
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\nConnection: close\r\n\r\n"
    answer = await _raw_request(door.frontdoor.url, head)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.") and b" 400 " in status_line, status_line
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"application/json" in headers.lower()
    assert b'"error":"bad_request"' in body


async def test_a_client_that_never_finishes_its_headers_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serving, "HEADER_TIMEOUT", 1.0)

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    served = await Served(app).start()
    try:
        # A slowloris client: a request line, one header, then a byte every 0.3 s, never the blank line
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n")
        started = time.monotonic()
        closed_after = None
        for _ in range(30):
            await asyncio.sleep(0.3)
            try:
                writer.write(b"X")
                await writer.drain()
            except (ConnectionError, OSError):
                closed_after = time.monotonic() - started
                break
            if reader.at_eof() or (await _closed(reader)):
                closed_after = time.monotonic() - started
                break
        writer.close()
        assert closed_after is not None and closed_after < 5, closed_after
    finally:
        await served.stop()


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(0.01):
            return await reader.read(1) == b""
    except TimeoutError:
        return False


async def test_a_body_that_trickles_in_is_cut_off_with_408(
    door: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_body, "BODY_TIMEOUT", 1.0)
    assert door.frontdoor is not None
    target = URL(door.frontdoor.url)
    token = (await door.tokens.token(DEFAULT_CITIZEN)).encode()
    reader, writer = await asyncio.open_connection(target.host, target.port)
    writer.write(
        b"POST /v1/submissions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token + b"\r\n"
        b'Content-Length: 500\r\nConnection: close\r\n\r\n{"kind": '
    )
    await writer.drain()
    # (aiohttp then lingers up to 10 s to read what is left of the body before it closes the socket)
    async with asyncio.timeout(10):
        answer = await reader.readuntil(b"}")
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"error":"request_timeout"' in answer


# --- callback URLs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://erp.example.com/hook", True),
        ("https://93.184.216.34/hook", True),
        ("http://erp.example.com/hook", False),  # plain http leaves the signed body readable
        ("https://127.0.0.1/hook", False),
        ("https://10.1.2.3/hook", False),
        ("https://169.254.169.254/latest/meta-data", False),  # cloud metadata
        ("https://[::1]/hook", False),
        ("https://localhost/hook", False),
        ("https://mylocalhost.example.com/hook", True),  # only the name localhost, not a suffix of it
        ("https://rabbit.internal/hook", False),
        ("https://erp.example.com:99999/hook", False),
        ("ftp://erp.example.com/hook", False),
        ("//erp.example.com/hook", False),
    ],
)
def test_callback_urls_are_public_https_by_default(url: str, allowed: bool) -> None:
    assert (CallbackPolicy().problem(url) is None) is allowed


def test_an_allowed_network_may_be_called_over_http() -> None:
    policy = CallbackPolicy(parse_networks("127.0.0.0/8, 10.0.0.0/8"))
    assert policy.problem("http://127.0.0.1:8099/hook") is None
    assert policy.problem("https://10.1.2.3/hook") is None
    assert policy.problem("http://192.168.1.1/hook") is not None


class _FixedResolver(aiohttp.abc.AbstractResolver):
    def __init__(self, *addresses: str) -> None:
        self._addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self._addresses
        ]

    async def close(self) -> None:
        return None


async def test_a_public_name_that_resolves_to_a_private_address_is_not_called() -> None:
    resolver = PublicOnlyResolver(CallbackPolicy(), _FixedResolver("10.0.0.5", "127.0.0.1"))
    with pytest.raises(OSError):
        await resolver.resolve("erp.example.com", 443)
    mixed = PublicOnlyResolver(CallbackPolicy(), _FixedResolver("10.0.0.5", "93.184.216.34"))
    assert [r["host"] for r in await mixed.resolve("erp.example.com", 443)] == ["93.184.216.34"]


async def test_a_batch_naming_a_loopback_callback_is_refused_by_default(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    settings = fresh_namespace.replace(operator_token=TOKEN, callback_allowed_networks="")
    system = await start_system(settings, http, redis, workers=False)
    try:
        key = (await create_enterprise(system))["api_key"]
        code, doc, _ = await post_bulk(
            system, key, {"items": items(2, 70_000), "callback_url": "http://127.0.0.1:9/hook"}
        )
        assert code == 422 and "callback_url" in doc["fields"]
    finally:
        await system.stop()


async def test_a_callback_answered_with_a_redirect_is_not_followed(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    # Given a receiver that redirects to another server on the same network
    elsewhere: list[bytes] = []

    async def steal(request: web.Request) -> web.Response:
        elsewhere.append(await request.read())
        return web.Response(status=204)

    thief_app = web.Application()
    thief_app.router.add_post("/steal", steal)
    thief = await Served(thief_app).start()
    redirects: list[float] = []

    async def redirect(_: web.Request) -> web.Response:
        redirects.append(time.monotonic())
        raise web.HTTPTemporaryRedirect(thief.url + "/steal")

    hook_app = web.Application()
    hook_app.router.add_post("/hook", redirect)
    hook = await Served(hook_app).start()
    settings = fresh_namespace.replace(operator_token=TOKEN, callback_first_delay_seconds=0.2)
    system = await start_system(settings, http, redis)
    try:
        key = (await create_enterprise(system))["api_key"]
        code, _, _ = await post_bulk(
            system, key, {"items": items(3, 80_000), "callback_url": hook.url + "/hook"}
        )
        assert code == 202
        deadline = time.monotonic() + 60
        while len(redirects) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        # Then the redirect counts as a failed delivery (retried), and the signed body never moved on
        assert len(redirects) >= 2
        assert elsewhere == []
    finally:
        await system.stop()
        await hook.stop()
        await thief.stop()
