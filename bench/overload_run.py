"""Overload run: the real processes (core simulator, front door, worker processes) under an open-loop
load at a multiple of the core's capacity, once with the workers' adaptive concurrency limit and once
without, side by side in one invocation.

Each run reports what the core system went through (its p50/p99 latency over the run and the effects
per second it completed), what the door did (admitted, shed, accept and shed latency as the client saw
it), and, after the admitted tickets drain, the share that finished within their promised p90 ETA.

    python -m bench.overload_run                      # 10x a 10-ticket/s core for 60 s, both modes
    python -m bench.overload_run --seconds 20 --modes adaptive
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.names import Names
from queue_config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RunResult:
    mode: str
    offered: int = 0
    admitted: int = 0
    shed: int = 0
    other: dict[int, int] = field(default_factory=dict)
    accept_ms: list[float] = field(default_factory=list)
    shed_ms: list[float] = field(default_factory=list)
    core: dict[str, float] = field(default_factory=dict)
    core_effects_per_s: float = 0.0
    eta_hits: int = 0
    eta_misses: int = 0
    drained: bool = False


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _body(n: int) -> dict[str, object]:
    return {
        "kind": "transfer",
        "citizen_id": citizen_tokens.citizen(n),
        "payload": {"from_region": "110101", "to_region": f"{310101 + n % 600_000:06d}"},
    }


def _spawn(module: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    # Our own modules with this interpreter: nothing here comes from untrusted input.
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env)  # noqa: S603


async def run_once(args: argparse.Namespace, adaptive: bool) -> RunResult:
    result = RunResult("adaptive limit" if adaptive else f"fixed concurrency {args.worker_concurrency}")
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    ports = {"core": args.port_base, "front": args.port_base + 1, "idp": args.port_base + 2}
    env = {
        **os.environ,
        "NAMESPACE": namespace,
        "LOG_LEVEL": "warning",
        "PER_IP_PER_MINUTE": "0",
        "CORE_PORT": str(ports["core"]),
        "CORE_URL": f"http://127.0.0.1:{ports['core']}",
        "CORE_SLOTS": str(args.core_slots),
        "CORE_SERVICE_MS": str(args.core_service_ms),
        "FRONTDOOR_PORT": str(ports["front"]),
        "IDP_PORT": str(ports["idp"]),
        "AUTH_ISSUER": f"http://127.0.0.1:{ports['idp']}",
        "MAX_WAIT_SECONDS": str(args.max_wait),
        "ASSUMED_DRAIN_PER_SECOND": str(args.core_slots * 1000 / args.core_service_ms),
        "WORKER_CONCURRENCY": str(args.worker_concurrency),
        "ADAPTIVE_CONCURRENCY": "true" if adaptive else "false",
    }
    settings = Settings.from_env(env)
    procs = [_spawn("bench.coresim", env), _spawn("bench.idp", env), _spawn("frontdoor", env)]
    procs += [_spawn("workers", env, "--kinds", "transfer") for _ in range(args.worker_processes)]
    redis = Redis.from_url(settings.redis_url)
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            core_url, front_url = f"http://127.0.0.1:{ports['core']}", f"http://127.0.0.1:{ports['front']}"
            await wait_http(http, core_url + "/v1/ledger")
            await wait_http(http, front_url + "/readyz")
            tokens = await citizen_tokens.mint_pool(http, env["AUTH_ISSUER"])
            await asyncio.sleep(2)  # workers connected, first controller step done

            async def offer(n: int) -> None:
                started = time.perf_counter()
                body = _body(n)
                auth = citizen_tokens.header(tokens, str(body["citizen_id"]))
                async with http.post(front_url + "/v1/submissions", json=body, headers=auth) as response:
                    await response.read()
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status == 202:
                        result.admitted += 1
                        result.accept_ms.append(elapsed)
                    elif response.status == 503:
                        result.shed += 1
                        result.shed_ms.append(elapsed)
                    else:
                        result.other[response.status] = result.other.get(response.status, 0) + 1

            rate = args.overload * args.core_slots * 1000 / args.core_service_ms
            total = int(rate * args.seconds)
            ledger_before = await _ledger(http, core_url)
            began = time.monotonic()
            tasks = []
            for i in range(total):
                await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
                tasks.append(asyncio.create_task(offer(i)))
                if i % max(1, int(rate)) == 0:
                    done = i / total
                    bar = "#" * int(30 * done)
                    print(f"\r  {result.mode:<28} [{bar:<30}] {done:4.0%}", end="", file=sys.stderr)
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - began
            print(file=sys.stderr)
            result.offered = total
            async with http.get(f"{core_url}/v1/stats", params={"window": str(elapsed)}) as response:
                result.core = await response.json()
            result.core_effects_per_s = ((await _ledger(http, core_url)) - ledger_before) / elapsed

            # Let the admitted tickets finish, then read the ETA record.
            names = Names(namespace)
            deadline = time.monotonic() + args.drain_timeout
            while time.monotonic() < deadline:
                rows = [
                    await redis.hmget(names.eta_outcomes("transfer", s), "hit", "miss") for s in names.shards
                ]
                result.eta_hits = sum(int(h or 0) for h, _ in rows)
                result.eta_misses = sum(int(m or 0) for _, m in rows)
                if result.eta_hits + result.eta_misses >= result.admitted:
                    result.drained = True
                    break
                await asyncio.sleep(1)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        await purge_namespace(settings, redis)
        await redis.aclose()
    return result


async def _ledger(http: aiohttp.ClientSession, core_url: str) -> int:
    async with http.get(core_url + "/v1/ledger") as response:
        return int((await response.json())["effects"])


def report(results: list[RunResult], args: argparse.Namespace, command: str) -> str:
    capacity = args.core_slots * 1000 / args.core_service_ms
    lines = [
        "# Overload run",
        "",
        f"Command: `{command}`",
        "",
        f"Core simulator: {args.core_slots} slots × {args.core_service_ms:g} ms "
        f"(about {capacity:g} effects/s unloaded). Offered: {args.overload:g}× that "
        f"({args.overload * capacity:g} transfers/s, open loop) "
        f"for {args.seconds:g} s. {args.worker_processes} worker processes, `WORKER_CONCURRENCY="
        f"{args.worker_concurrency}` each; `MAX_WAIT_SECONDS={args.max_wait:g}`.",
        "",
        "| workers | core p50 | core p99 | core effects/s | offered | admitted | shed (503) | other "
        "| 202 p50 / p99 | 503 p50 / p99 | within promised p90 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        finished = r.eta_hits + r.eta_misses
        hit = f"{r.eta_hits / finished:.1%} of {finished}" if finished else "n/a"
        if not r.drained:
            hit += " (not drained)"
        lines.append(
            f"| {r.mode} | {r.core.get('latency_p50_seconds')} s | {r.core.get('latency_p99_seconds')} s "
            f"| {r.core_effects_per_s:.1f} | {r.offered} | {r.admitted} | {r.shed} | {r.other or '-'} "
            f"| {_pct(r.accept_ms, 0.5):.0f} / {_pct(r.accept_ms, 0.99):.0f} ms "
            f"| {_pct(r.shed_ms, 0.5):.0f} / {_pct(r.shed_ms, 0.99):.0f} ms | {hit} |"
        )
    if len(results) == 2 and all(r.core.get("latency_p99_seconds") for r in results):
        a, b = (float(r.core["latency_p99_seconds"]) for r in results)
        lines += ["", f"Core p99 ratio, fixed / adaptive: {b / a:.1f}×."]
    if results and results[0].accept_ms and results[0].shed_ms:
        shed, accepted = statistics.median(results[0].shed_ms), statistics.median(results[0].accept_ms)
        lines.append(
            f"Median client-side latency of a 503 vs a 202 in the first run: "
            f"{shed:.1f} ms vs {accepted:.1f} ms."
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.overload_run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--overload", type=float, default=10.0, help="offered load / core capacity")
    parser.add_argument("--core-slots", type=int, default=8)
    parser.add_argument("--core-service-ms", type=float, default=800.0)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=32)
    parser.add_argument("--max-wait", type=float, default=30.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--modes", default="adaptive,fixed", help="adaptive, fixed or both (comma-separated)")
    parser.add_argument("--port-base", type=int, default=18190)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    given = list(argv) if argv is not None else sys.argv[1:]
    command = " ".join(["python -m bench.overload_run", *given])

    async def all_runs() -> list[RunResult]:
        return [await run_once(args, mode == "adaptive") for mode in args.modes.split(",")]

    text = report(asyncio.run(all_runs()), args, command)
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
