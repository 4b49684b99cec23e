"""Accept latency at a fixed rate over many kept-alive connections: an open-loop generator.

Submissions arrive as a Poisson stream at ``--rate`` a second, each on the next of ``--connections``
connections in turn, whether or not earlier ones were answered; latency runs from the moment a
submission was due, so a slow answer that holds up the next one on its connection is counted, not
hidden (no coordinated omission). ``--processes`` share the connections and the rate.

Hand-written, not locust: locust users paced with ``constant_throughput`` arrive in step (the users
spawned in one second fire in the same second of every period), and with a thousand users locust added
80-200 ms to the answers of a bare aiohttp handler that spends 0.2 ms on them; wrk has no fixed-rate
mode (wrk2 is not packaged). Run as ``python -m bench.harness.paced``; it prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

from bench import citizen_tokens
from bench.submissions import submission

GIVE_UP_SECONDS = 30.0
# Seeds well clear of locust's and wrk's (a resident ID each), so that no submission is a repeat.
SEED_BASE = 50_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class PacedResult:
    sent: int
    accepted: int  # 2xx
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


async def run(
    url: str,
    *,
    connections: int,
    rate: float,
    seconds: float,
    processes: int = 2,
    on_started: Callable[[int], None] | None = None,
) -> PacedResult:
    """Runs the generator as a process of its own (so that its CPU is measured apart) and reads it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.harness.paced",
        url,
        f"--connections={connections}",
        f"--rate={rate}",
        f"--seconds={seconds}",
        f"--processes={processes}",
        stdout=asyncio.subprocess.PIPE,
    )
    if on_started is not None:
        on_started(proc.pid)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"paced generator exited with {proc.returncode}")
    # JSON has no NaN: a step too short for a single submission comes back with nulls.
    fields: dict[str, Any] = {k: float("nan") if v is None else v for k, v in orjson.loads(out).items()}
    return PacedResult(**fields)


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


async def _share(url: str, connections: int, rate: float, seconds: float, seed: int) -> dict[str, object]:
    seeds = itertools.count(seed)
    # A citizen gives up after half a minute, as locust's do: a portal that hangs ends the run on time.
    timeout = aiohttp.ClientTimeout(total=GIVE_UP_SECONDS)
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout)
        for _ in range(connections)
    ]
    latencies: list[float] = []
    accepted = 0
    tokens = await citizen_tokens.pool()

    async def submit(session: aiohttp.ClientSession, due: float, measured: bool) -> None:
        nonlocal accepted
        doc = submission(next(seeds))
        body = orjson.dumps(doc)
        headers = {"Content-Type": "application/json", **citizen_tokens.header(tokens, doc["citizen_id"])}
        try:
            async with session.post(url + "/v1/submissions", data=body, headers=headers) as response:
                await response.read()
                ok = 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if measured:
            latencies.append((time.perf_counter() - due) * 1000)
            accepted += ok

    try:
        # Every connection opened (and its first answer read) before the clock starts.
        await asyncio.gather(*(submit(s, time.perf_counter(), False) for s in sessions))
        tasks = []
        began = time.perf_counter()
        due = began
        for i in itertools.count():
            due += random.expovariate(rate)
            if due - began >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(submit(sessions[i % connections], due, True)))
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return {"latencies": latencies, "accepted": accepted}


def _child(url: str, connections: int, rate: float, seconds: float, seed: int, out: str) -> None:
    result = uvloop.run(_share(url, connections, rate, seconds, seed))
    # To a file, not stdout: uvloop may leave stdout non-blocking, and a result bigger than the pipe
    # broke off (at 256 KB with 27,000 latencies; at 1.5 MB at 11,000 submissions a second even after
    # setting it blocking again).
    Path(out).write_bytes(orjson.dumps(result))


async def _parent(args: argparse.Namespace) -> PacedResult:
    with tempfile.TemporaryDirectory(prefix="paced-") as where:
        files = [Path(where) / f"{i}.json" for i in range(args.processes)]
        return await _run_children(args, files)


async def _run_children(args: argparse.Namespace, files: list[Path]) -> PacedResult:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.harness.paced",
            args.url,
            f"--connections={args.connections // args.processes}",
            f"--rate={args.rate / args.processes}",
            f"--seconds={args.seconds}",
            f"--seed={SEED_BASE + i * 10_000_000}",
            f"--child-out={files[i]}",
        )
        for i in range(args.processes)
    ]
    codes = await asyncio.gather(*(p.wait() for p in procs))
    if any(codes):
        raise RuntimeError(f"a paced generator process exited with {max(codes)}")
    outputs = [orjson.loads(file.read_bytes()) for file in files]
    latencies = sorted(lat for out in outputs for lat in out["latencies"])
    return PacedResult(
        sent=len(latencies),
        accepted=sum(out["accepted"] for out in outputs),
        seconds=args.seconds,
        p50_ms=_percentile(latencies, 0.50),
        p95_ms=_percentile(latencies, 0.95),
        p99_ms=_percentile(latencies, 0.99),
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.harness.paced", description=__doc__)
    p.add_argument("url")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--rate", type=float, default=500.0, help="submissions a second, all processes")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--seed", type=int, default=SEED_BASE)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_out:
        _child(args.url, args.connections, args.rate, args.seconds, args.seed, args.child_out)
        return
    sys.stdout.buffer.write(orjson.dumps(asyncio.run(_parent(args))))


if __name__ == "__main__":
    main()
