"""Raw intake throughput with wrk: distinct valid submissions from ``bench/wrk/submissions.lua``, as many
as the target takes, over a fixed number of connections. wrk is a C program: on a 2-core machine it
leaves the servers the CPU that locust would take (the report states its share either way)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.harness.targets import ROOT

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    refused: int  # non-2xx answers, socket errors and timeouts
    seconds: float
    p50_ms: float
    p99_ms: float


def available() -> bool:
    return shutil.which("wrk") is not None


async def run(
    url: str,
    connections: int,
    seconds: float,
    on_started: Callable[[int], None] | None = None,
    *,
    script: str = "submissions.lua",
    path: str = "/v1/submissions",
    env: Mapping[str, str] | None = None,
) -> WrkResult:
    """wrk with ``bench/wrk/<script>`` against ``url + path``."""
    proc = await asyncio.create_subprocess_exec(
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(ROOT / "bench" / "wrk" / script),
        url + path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=None if env is None else dict(env),
    )
    if on_started is not None:
        on_started(proc.pid)
    out, _ = await proc.communicate()
    return parse(out.decode(errors="replace"))


def parse(text: str) -> WrkResult:
    """The figures of wrk's ``--latency`` report."""
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if total is None:
        raise RuntimeError(f"wrk gave no result:\n{text[-2000:]}")
    seconds = float(total.group(2)) * (60.0 if total.group(3) == "m" else 1.0)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    refused = int(non2xx.group(1)) if non2xx else 0
    if errors:
        refused += int(errors.group(1)) + int(errors.group(4))  # read/write errors come with answers

    def pct(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")

    return WrkResult(int(total.group(1)), refused, seconds, pct("50"), pct("99"))
