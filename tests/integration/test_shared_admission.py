"""Two front-door processes enforce one admission rate between them, through the shared limiter."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp
import msgspec
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from bench.readiness import wait_http
from queue_config.kinds import KINDS
from queue_config.names import Names
from queue_config.planning.throttle import Mode, Throttle
from queue_config.settings import Settings
from tests.support.identity import TokenBook
from tests.support.processes import start_component
from tests.support.system import submission

RATE = 20.0  # transfers a second, set by the operator (manual mode)
PER_DOOR_PER_SECOND = 50
SECONDS = 5
# A transfer is NORMAL priority: it may draw 3 s of the rate ahead as a burst, then the rate.
EXPECTED = RATE * SECONDS + RATE * 3 + 1


async def test_two_front_door_processes_admit_the_set_rate_between_them(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis, tokens: TokenBook
) -> None:
    names = Names(fresh_namespace.namespace)
    # Given an operator's manual admission rate of 20 transfers a second
    throttle = Throttle(
        mode=Mode.MANUAL,
        rates={**dict.fromkeys(KINDS), "transfer": RATE},
        per_ip_per_minute=0,
    )
    await redis.set(names.throttle, msgspec.json.encode(throttle))
    # And two front-door processes on the same broker and Redis
    ports = [free_port(), free_port()]
    doors: list[subprocess.Popen[bytes]] = [
        start_component(
            "frontdoor", fresh_namespace, log_name=f"shared-admission-{port}", FRONTDOOR_PORT=str(port)
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            await wait_http(http, url + "/readyz")
        deadline = time.monotonic() + 20
        while (plan := await redis.get(names.admission_plan)) is None or b'"rate":20.0' not in plan:
            assert time.monotonic() < deadline, "no admission plan with the manual rate"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # both doors have read it (they re-read every 0.5 s)

        # When each door is offered 50 transfers a second for 5 seconds (ten times the rate together)
        numbers = range(50_000, 50_000 + 2 * PER_DOOR_PER_SECOND * SECONDS)
        await tokens.prefetch([submission("transfer", n)["citizen_id"] for n in numbers])

        async def offer(url: str, n: int) -> int:
            body = submission("transfer", n)
            headers = tokens.ready_header(body["citizen_id"])
            async with http.post(url + "/v1/submissions", json=body, headers=headers) as response:
                await response.read()
                return response.status

        tasks: list[tuple[int, asyncio.Task[int]]] = []
        began = time.monotonic()
        for i in range(PER_DOOR_PER_SECOND * SECONDS):
            await asyncio.sleep(max(0.0, began + i / PER_DOOR_PER_SECOND - time.monotonic()))
            for d, url in enumerate(urls):
                tasks.append((d, asyncio.create_task(offer(url, 50_000 + 2 * i + d))))
        codes = [(d, await task) for d, task in tasks]

        # Then together they admit the set rate (plus the allowed burst), within 15 %, not twice it
        admitted = [d for d, code in codes if code == 202]
        assert {code for _, code in codes} <= {202, 503}
        assert abs(len(admitted) - EXPECTED) <= 0.15 * EXPECTED, (len(admitted), EXPECTED)
        # And each door admitted its part of it
        assert min(admitted.count(0), admitted.count(1)) >= 0.3 * len(admitted)
        # And nothing beyond the admitted reached the queue
        counts = [await redis.get(names.enqueued_count("transfer", s)) for s in names.shards]
        assert sum(int(c or 0) for c in counts) == len(admitted)
    finally:
        for door in doors:
            door.terminate()
        for door in doors:
            door.wait(timeout=30)
