"""The operator's throttle API: bearer-token auth, merge-and-validate, audit, dry run, and a change in
force at every front-door process within a second."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from bench.readiness import wait_http
from queue_config.kinds import KINDS
from queue_config.settings import Settings
from tests.support.identity import TokenBook
from tests.support.processes import start_component
from tests.support.system import System, start_system, submission

TOKEN = "op-secret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENDPOINTS = (("GET", "/v1/admin/throttle"), ("PUT", "/v1/admin/throttle"), ("GET", "/v1/admin/audit"))


@pytest.fixture
async def door(fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis) -> AsyncIterator[System]:
    system = await start_system(
        fresh_namespace.replace(operator_token=TOKEN), http, redis, status=False, workers=False
    )
    yield system
    await system.stop()


async def _call(
    system: System, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    assert system.frontdoor is not None
    async with system.http.request(
        method, system.frontdoor.url + path, json=body, headers=headers if headers is not None else AUTH
    ) as response:
        return response.status, await response.json()


async def test_the_operator_api_wants_the_operator_token(door: System) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for method, path in (
            ("GET", "/v1/admin/throttle"),
            ("PUT", "/v1/admin/throttle"),
            ("GET", "/v1/admin/audit"),
        ):
            code, doc = await _call(door, method, path, {"mode": "manual"}, headers)
            assert code == 401 and doc["error"] == "unauthorized", (method, path, headers)
    code, _ = await _call(door, "GET", "/v1/admin/throttle")
    assert code == 200


async def test_without_a_configured_token_the_operator_api_is_closed(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> None:
    system = await start_system(fresh_namespace, http, redis, status=False, workers=False)
    try:
        code, _ = await _call(system, "GET", "/v1/admin/throttle", headers={"Authorization": "Bearer "})
        assert code == 401
        # And whatever token is tried, the answer says that the server has none, not that it is wrong
        code, doc = await _call(
            system, "GET", "/v1/admin/throttle", headers={"Authorization": "Bearer any-token-at-all"}
        )
        assert code == 401 and doc["error"] == "unauthorized" and "no OPERATOR_TOKEN" in doc["message"]
    finally:
        await system.stop()


async def test_put_merges_validates_and_keeps_an_audit_trail(door: System) -> None:
    code, before = await _call(door, "GET", "/v1/admin/throttle")
    assert code == 200 and before["mode"] == "auto" and before["per_client_per_minute"] == 500

    # When the operator sets a manual rate for payments only
    code, after = await _call(door, "PUT", "/v1/admin/throttle", {"mode": "manual", "rates": {"payment": 5}})

    # Then the whole document comes back, merged
    assert code == 200
    assert after["mode"] == "manual" and after["rates"] == {**dict.fromkeys(KINDS), "payment": 5}
    assert after["max_wait_seconds"] == before["max_wait_seconds"]
    assert (await _call(door, "GET", "/v1/admin/throttle"))[1] == after

    # And the audit log holds when, which token (a fingerprint, never the token), before and after
    code, audit = await _call(door, "GET", "/v1/admin/audit")
    assert code == 200 and len(audit["entries"]) == 1
    entry = audit["entries"][0]
    assert entry["before"] == before and entry["after"] == after
    assert entry["token"].startswith("sha256:") and TOKEN not in str(audit)
    assert entry["at"].endswith("Z")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mode": "fast"}, "mode"),
        ({"mode": {}}, "mode"),
        ({"mode": ["auto"]}, "mode"),
        ({"rates": {"payment": -1}}, "rates.payment"),
        ({"rates": {"lottery": 3}}, "rates.lottery"),
        ({"max_wait_seconds": 0}, "max_wait_seconds"),
        ({"per_client_per_minute": "lots"}, "per_client_per_minute"),
        ({"enterprise_share": 1.5}, "enterprise_share"),
        ({"maintenance_until": "tomorrow"}, "maintenance_until"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_an_invalid_change_is_refused_and_changes_nothing(
    door: System, change: dict[str, Any], field: str
) -> None:
    _, before = await _call(door, "GET", "/v1/admin/throttle")
    code, doc = await _call(door, "PUT", "/v1/admin/throttle", change)
    assert code == 422 and field in doc["fields"]
    assert (await _call(door, "GET", "/v1/admin/throttle"))[1] == before
    assert (await _call(door, "GET", "/v1/admin/audit"))[1]["entries"] == []


async def test_a_dry_run_predicts_and_changes_nothing(door: System) -> None:
    # Given a running controller (its first plan)
    deadline = time.monotonic() + 10
    while await door.redis.get(door.names.admission_plan) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)
    _, before = await _call(door, "GET", "/v1/admin/throttle")

    code, doc = await _call(
        door, "PUT", "/v1/admin/throttle?dry_run=true", {"mode": "manual", "rates": {"payment": 2}}
    )

    assert code == 200 and doc["dry_run"] is True
    assert doc["throttle"]["rates"]["payment"] == 2
    assert doc["predicted"]["payment"]["admission_rate"] == 2
    assert (await _call(door, "GET", "/v1/admin/throttle"))[1] == before
    assert (await _call(door, "GET", "/v1/admin/audit"))[1]["entries"] == []


async def test_a_change_reaches_another_front_door_process_within_a_second(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis, door: System, tokens: TokenBook
) -> None:
    # Given a second front door, a separate process, on the same Redis
    port = free_port()
    other: subprocess.Popen[bytes] = start_component(
        "frontdoor", door.settings, log_name=f"throttle-propagation-{port}", FRONTDOOR_PORT=str(port)
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(http, url + "/readyz")
        await tokens.prefetch([submission("transfer", n)["citizen_id"] for n in range(70_000, 70_400)])

        def post(n: int) -> Any:
            body = submission("transfer", n)
            return http.post(
                url + "/v1/submissions", json=body, headers=tokens.ready_header(body["citizen_id"])
            )

        async def twice(n: int) -> int:
            codes: list[int] = []
            for _ in range(2):
                async with post(n) as r:
                    await r.read()
                    codes.append(r.status)
            return codes[1]

        assert await twice(70_000) in (200, 202)  # one citizen may submit twice a minute today

        # When the operator cuts the per-citizen limit to 1 a minute through the first door
        code, _ = await _call(door, "PUT", "/v1/admin/throttle", {"per_client_per_minute": 1})
        assert code == 200
        changed = time.monotonic()

        # Then the other process refuses a citizen's second submission within a second
        n = 70_001
        while await twice(n) != 429:
            n += 1
            assert time.monotonic() - changed < 5, "the change never arrived"
        assert time.monotonic() - changed <= 1.0, time.monotonic() - changed

        # And closing transfers, then opening them again, is seen there as quickly: a refusal the other
        # door remembers does not outlive the rate that caused it
        await _call(door, "PUT", "/v1/admin/throttle", {"per_client_per_minute": 500})
        for shed in (True, False):
            change = {"mode": "manual" if shed else "auto", "rates": {"transfer": 0 if shed else None}}
            assert (await _call(door, "PUT", "/v1/admin/throttle", change))[0] == 200
            changed = time.monotonic()
            while True:
                n += 1
                async with post(n) as r:
                    if (r.status == 503) == shed:
                        break
                assert time.monotonic() - changed < 5, f"the change (shed={shed}) never arrived"
                await asyncio.sleep(0.02)
            # Reopening does not wait for the controller's next plan: the plan carries the auto rate too
            assert time.monotonic() - changed <= 1.0, (shed, time.monotonic() - changed)
    finally:
        other.terminate()
        other.wait(timeout=30)
