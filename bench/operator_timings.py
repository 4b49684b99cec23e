"""``python -m bench.operator_timings``: two numbers the operator features promise, measured on the real
processes (core simulator, two front doors, a status API, a worker process, each its own process).

1. Time to accept a 10,000-item bulk batch (client-side, from request to 202), three batches.
2. How long a throttle change takes to reach the other front door: a PUT on door A sets payments to a
   manual rate of 0, and door B is probed every 10 ms until it sheds; then back (``--changes``).

Writes a Markdown report to stdout (and ``--out``)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence

import aiohttp
import orjson
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.overload_run import _spawn
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.settings import Settings

TOKEN = "bench-operator-token"  # noqa: S105  (a throwaway namespace's token)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _item(n: int) -> dict[str, object]:
    return {
        "kind": "payment",
        "citizen_id": citizen_tokens.citizen(n),
        "payload": {"scheme": "pension", "amount_cents": 1000 + n % 5000, "period": "2026-11"},
    }


async def _bulk(http: aiohttp.ClientSession, door: str, key: str, start: int, n: int) -> tuple[float, int]:
    body = orjson.dumps({"items": [_item(start + i) for i in range(n)]})
    began = time.perf_counter()
    async with http.post(
        door + "/v1/bulk",
        data=io.BytesIO(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    ) as response:
        doc = await response.json()
        assert response.status == 202, doc
    return time.perf_counter() - began, int(doc["accepted"])


async def _propagation(
    http: aiohttp.ClientSession,
    door_a: str,
    door_b: str,
    probe_from: int,
    changes: int,
    tokens: dict[str, str],
) -> list[float]:
    delays = []
    n = probe_from
    for i in range(changes):
        shed = i % 2 == 0  # alternately close payments and open them again
        async with http.put(
            door_a + "/v1/admin/throttle",
            json={"mode": "manual" if shed else "auto", "rates": {"payment": 0 if shed else None}},
            headers=AUTH,
        ) as response:
            assert response.status == 200
        changed = time.perf_counter()
        while True:
            n += 1
            body = _item(n)
            auth = citizen_tokens.header(tokens, str(body["citizen_id"]))
            async with http.post(door_b + "/v1/submissions", json=body, headers=auth) as response:
                if (response.status == 503) == shed:
                    break
            await asyncio.sleep(0.01)
        delays.append(time.perf_counter() - changed)
        await asyncio.sleep(0.5)
    return delays


async def run(args: argparse.Namespace) -> str:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    base = args.port_base
    env = {
        **os.environ,
        "NAMESPACE": namespace,
        "LOG_LEVEL": "warning",
        "OPERATOR_TOKEN": TOKEN,
        "PER_IP_PER_MINUTE": "0",
        "CORE_PORT": str(base),
        "CORE_URL": f"http://127.0.0.1:{base}",
        "CORE_SLOTS": "64",
        "CORE_SERVICE_MS": "20",
        "STATUS_PORT": str(base + 3),
        "PUBLIC_STATUS_URL": f"http://127.0.0.1:{base + 3}",
        "WORKER_METRICS_PORT": "0",
        "IDP_PORT": str(base + 4),
        "AUTH_ISSUER": f"http://127.0.0.1:{base + 4}",
    }
    settings = Settings.from_env(env)
    procs = [
        _spawn("bench.coresim", env),
        _spawn("bench.idp", env),
        _spawn("frontdoor", {**env, "FRONTDOOR_PORT": str(base + 1)}),
        _spawn("frontdoor", {**env, "FRONTDOOR_PORT": str(base + 2)}),
        _spawn("status_api", env),
        _spawn("workers", env),
    ]
    door_a, door_b = f"http://127.0.0.1:{base + 1}", f"http://127.0.0.1:{base + 2}"
    redis = Redis.from_url(settings.redis_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
            for url in (f"http://127.0.0.1:{base}/v1/ledger", door_a + "/readyz", door_b + "/readyz"):
                await wait_http(http, url)
            tokens = await citizen_tokens.mint_pool(http, env["AUTH_ISSUER"])
            await asyncio.sleep(3)  # workers connected, a controller leading
            async with http.post(
                door_a + "/v1/admin/enterprises",
                json={"name": "bench", "quota_per_minute": 1_000_000},
                headers=AUTH,
            ) as response:
                key = (await response.json())["api_key"]
            batches = []
            for i in range(args.batches):
                batches.append(await _bulk(http, door_a, key, 1_000_000 + i * args.items, args.items))
                await asyncio.sleep(2)
            delays = await _propagation(http, door_a, door_b, 5_000_000, args.changes, tokens)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        await purge_namespace(settings, redis)
        await redis.aclose()
    lines = [
        "| batch | items accepted | time to 202 |",
        "| ---: | ---: | ---: |",
        *(f"| {i + 1} | {n:,} | {t:.2f} s |" for i, (t, n) in enumerate(batches)),
        "",
        f"Throttle change seen by the other front door: median {statistics.median(delays) * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {len(delays)} changes "
        f"({', '.join(f'{d * 1000:.0f}' for d in delays)} ms).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.operator_timings", description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--changes", type=int, default=10, help="throttle changes timed (close, reopen, ...)")
    parser.add_argument("--port-base", type=int, default=18300)
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    sys.stdout.write(report)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(report)


if __name__ == "__main__":
    main()
