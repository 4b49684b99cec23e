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
import collections
import contextlib
import dataclasses
import itertools
import random
import re
import sys
import tempfile
import time
import typing
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench import citizen_tokens
from bench.submissions import submission

GIVE_UP_SECONDS = 30.0
# Seeds well clear of locust's and wrk's (a resident ID each), so that no submission is a repeat.
SEED_BASE = 50_000_000
# Each process's seeds start this far apart, and each of a sweep's steps ``STEP_SEEDS`` apart: far more
# than the submissions either sends.
PROCESS_SEEDS = 10_000_000
STEP_SEEDS = 1_000_000
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)")


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
    seed: int = SEED_BASE,
) -> PacedResult:
    """Runs the generator as a process of its own (so that its CPU is measured apart) and reads it.
    Runs against one target that must not repeat each other's submissions take seeds ``STEP_SEEDS``
    apart: a repeat of a still-open ticket is answered by dedupe, a cheaper path than a new one."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.harness.paced",
        url,
        f"--connections={connections}",
        f"--rate={rate}",
        f"--seconds={seconds}",
        f"--processes={processes}",
        f"--seed={seed}",
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


@dataclasses.dataclass(slots=True)
class _Pending:
    request: bytes
    due: float
    measured: bool


class _Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection that sends its requests one at a time, in order.

    Hand-written over the raw transport, not aiohttp's client: the generator shares the machine's cores
    with what it measures. Against the bare handler, the extra CPU of 2,500/s over 500/s for 10 s was
    296 µs a request with aiohttp's client (0.74 of a core at 2,500/s, taken from the target in a step
    at 70 % of its wrk-measured maximum) and 75 µs with this one, building the requests included. It
    parses only the status line and ``Content-Length``.
    """

    def __init__(self, host: str, port: int, done: Callable[[_Pending, bool], None]) -> None:
        self._host, self._port, self._done = host, port, done
        self._transport: asyncio.Transport | None = None
        self._opening: asyncio.Task[None] | None = None
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._in_flight: _Pending | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        # The request on the wire is lost with the connection; those behind it go on a new one.
        self._transport = None
        self._buffer.clear()
        if self._in_flight is not None:
            pending, self._in_flight = self._in_flight, None
            self._done(pending, False)
        self._next()

    def send(self, pending: _Pending) -> None:
        self._waiting.append(pending)
        if self._in_flight is None:
            self._next()

    def _next(self) -> None:
        if not self._waiting:
            return
        if self._transport is None:
            if self._opening is None or self._opening.done():
                self._opening = asyncio.create_task(self._open())
            return
        self._in_flight = self._waiting.popleft()
        self._transport.write(self._in_flight.request)

    async def _open(self) -> None:
        try:
            await asyncio.get_running_loop().create_connection(lambda: self, self._host, self._port)
        except OSError:
            while self._waiting:
                self._done(self._waiting.popleft(), False)
            return
        self._next()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._in_flight is not None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).lower()
            length = _CONTENT_LENGTH.search(head)
            if length is None:
                raise RuntimeError("the generator reads only answers with a Content-Length")
            size = end + 4 + int(length.group(1))
            if len(self._buffer) < size:
                return
            status = int(head[9:12])
            del self._buffer[:size]
            pending, self._in_flight = self._in_flight, None
            self._done(pending, 200 <= status < 300)
            self._next()

    def abandon(self) -> list[_Pending]:
        """What is still unanswered, given up on."""
        left = [self._in_flight, *self._waiting] if self._in_flight is not None else list(self._waiting)
        self._in_flight = None
        self._waiting.clear()
        return left

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _share(url: str, connections: int, rate: float, seconds: float, seed: int) -> dict[str, object]:
    where = urllib.parse.urlsplit(url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    tokens = await citizen_tokens.pool()
    latencies: list[float] = []
    accepted = outstanding = 0
    quiet = asyncio.Event()

    def answered(pending: _Pending, ok: bool) -> None:
        nonlocal accepted, outstanding
        outstanding -= 1
        if pending.measured:
            latencies.append((time.perf_counter() - pending.due) * 1000)
            accepted += ok
        if outstanding == 0:
            quiet.set()

    def send(connection: _Connection, request: bytes, due: float, measured: bool) -> None:
        nonlocal outstanding
        outstanding += 1
        quiet.clear()
        connection.send(_Pending(request, due, measured))

    # The schedule and every request are made before the clock starts, so that the generator's own
    # work during a step is only sending and reading.
    schedule = list(itertools.takewhile(lambda at: at < seconds, itertools.accumulate(
        random.expovariate(rate) for _ in itertools.count())))  # fmt: skip
    seeds = itertools.count(seed)
    pool = [_Connection(host, port, answered) for _ in range(connections)]
    requests = [_request(where, tokens, next(seeds)) for _ in schedule]
    try:
        # Every connection opened (and its first answer read) before the clock starts, with a GET of
        # ``/healthz``, not a submission: a thousand submissions at once would be counted in the target's
        # own histograms of the step (its intake stages), and answered or not, any GET opens the way.
        opening = f"GET /healthz HTTP/1.1\r\nHost: {where.netloc}\r\n\r\n".encode()
        for connection in pool:
            send(connection, opening, time.perf_counter(), False)
        await asyncio.wait_for(quiet.wait(), GIVE_UP_SECONDS)
        began = time.perf_counter()
        for i, offset in enumerate(schedule):
            due = began + offset
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            send(pool[i % connections], requests[i], due, True)
        # A citizen gives up after half a minute, as locust's do: a portal that hangs ends the run on time.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(quiet.wait(), GIVE_UP_SECONDS)
        for connection in pool:
            for pending in connection.abandon():
                answered(pending, False)
    finally:
        for connection in pool:
            connection.close()
    return {"latencies": latencies, "accepted": accepted}


def _request(where: urllib.parse.SplitResult, tokens: dict[str, str], seed: int) -> bytes:
    doc = submission(seed)
    body = orjson.dumps(doc)
    headers = {
        "Host": where.netloc,
        "Content-Type": "application/json",
        **citizen_tokens.header(tokens, doc["citizen_id"]),
        "Content-Length": str(len(body)),
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {where.path.rstrip('/')}/v1/submissions HTTP/1.1\r\n{head}\r\n".encode() + body


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
            f"--seed={args.seed + i * PROCESS_SEEDS}",
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
