"""``python -m bench.door_ab``: two settings of ticketgate's front doors side by side, A and B in turn.

On a shared machine a figure from one run and a figure from a later run differ by as much as most
changes do (the bare aiohttp handler's maximum here has varied from 16,000 to 24,000 a second between
runs of one day). So each round starts a fresh ticketgate (``bench.harness.targets``, every kind
admitted) with A's environment, offers ``--rate`` submissions a second open-loop for ``--seconds``
(``bench.harness.paced``), stops it, and does the same with B's; ``--repeat`` rounds. For each run: p50
and p99 accept latency, the front doors' CPU, their garbage-collector pauses (count and total, from
``ticketgate_gc_pause_seconds``) and their resident memory at the end. Writes a Markdown report to
``--out``.

    python -m bench.door_ab --rate 1300 --a GC_YOUNG_THRESHOLD=0 --b GC_YOUNG_THRESHOLD=20000
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

from bench.harness import paced, sweep, targets
from bench.harness.report import heading, save
from bench.ports import free_port_block

_GC_COUNT = re.compile(r"^ticketgate_gc_pause_seconds_count\{[^}]*\} (\S+)$", re.M)
_GC_SUM = re.compile(r"^ticketgate_gc_pause_seconds_sum\{[^}]*\} (\S+)$", re.M)


@dataclass(frozen=True, slots=True)
class Run:
    side: str
    p50_ms: float
    p99_ms: float
    cpu_seconds: float  # the front doors', during the load
    gc_pauses: float  # the front doors', during the load
    gc_pause_ms: float
    rss_mb: float  # the front doors' together, at the end


def environment(text: str) -> dict[str, str]:
    """``NAME=value,NAME=value`` as a mapping (an empty side runs the defaults)."""
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected NAME=value[,NAME=value…], got {text!r}")
    return {name.strip(): value.strip() for name, value in pairs}


async def _gc_totals(http: aiohttp.ClientSession, url: str, processes: int) -> tuple[float, float]:
    """Pauses and their total seconds, every door together."""
    pages = (await sweep.metrics_pages(http, url, processes)).values()
    return (
        sum(float(n) for text in pages for n in _GC_COUNT.findall(text)),
        sum(float(t) for text in pages for t in _GC_SUM.findall(text)),
    )


def _cpu(doors: list[psutil.Process]) -> float:
    return float(sum(d.cpu_times().user + d.cpu_times().system for d in doors))


async def one_run(
    args: argparse.Namespace, side: str, env: dict[str, str], http: aiohttp.ClientSession
) -> Run:
    where = targets.Layout(
        namespace=f"bench-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(targets.Layout.PORTS),
        front_processes=args.front_processes,
        extra_env=env,
    )
    running = await targets.start(targets.TICKETGATE, where, http)
    try:
        await targets.admit_everything(http, where.front_url, settle=3.0)
        doors = [psutil.Process(pid) for pid in running.server_pids["front door"]]
        pauses_before, paused_before = await _gc_totals(http, where.front_url, len(doors))
        cpu_before = _cpu(doors)
        result = await paced.run(
            where.front_url, connections=args.connections, rate=args.rate, seconds=args.seconds
        )
        cpu = _cpu(doors) - cpu_before
        pauses, paused = await _gc_totals(http, where.front_url, len(doors))
        rss = sum(d.memory_info().rss for d in doors) / 2**20
        return Run(
            side,
            result.p50_ms,
            result.p99_ms,
            cpu,
            pauses - pauses_before,
            1000 * (paused - paused_before),
            rss,
        )
    finally:
        await running.stop()


def report(args: argparse.Namespace, runs: list[Run]) -> str:
    lines = [
        *heading(f"Front doors, A against B, {args.rate:,.0f} submissions a second", "bench.door_ab"),
        f"A: `{args.a or 'defaults'}`; B: `{args.b or 'defaults'}`. {args.front_processes} front doors, "
        f"{args.connections:,} connections, {args.seconds:.0f} s open-loop Poisson a run, A and B in turn, "
        f"{args.repeat} rounds, a fresh ticketgate each run (`bench/door_ab.py`). CPU, pauses and memory are "
        "the front doors' together; the CPU and pauses are those of the load (the generator's start "
        "included, about 3 s).",
        "",
        "| run | side | p50 (ms) | p99 (ms) | doors' CPU (s) | GC pauses | GC paused (ms) "
        "| doors' RSS (MB) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, r in enumerate(runs, 1):
        lines.append(
            f"| {i} | {r.side} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.cpu_seconds:.1f} | {r.gc_pauses:,.0f} "
            f"| {r.gc_pause_ms:,.0f} | {r.rss_mb:.0f} |"
        )
    lines += [
        "",
        "Medians:",
        "",
        "| side | p50 (ms) | p99 (ms) | doors' CPU (s) | GC pauses | GC paused (ms) |",
    ]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for side in ("A", "B"):
        mine = [r for r in runs if r.side == side]
        med = {
            f: statistics.median(getattr(r, f) for r in mine)
            for f in ("p50_ms", "p99_ms", "cpu_seconds", "gc_pauses", "gc_pause_ms")
        }
        lines.append(
            f"| {side} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} | {med['cpu_seconds']:.1f} "
            f"| {med['gc_pauses']:,.0f} | {med['gc_pause_ms']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    runs: list[Run] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(args.repeat):
            for side, env in (("A", environment(args.a)), ("B", environment(args.b))):
                run = await one_run(args, side, env, http)
                print(f"[door_ab] {side}: p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms", flush=True)
                runs.append(run)
    save(args.out, report(args, runs))


def cli(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.door_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--a", default="", help="side A's environment: NAME=value[,NAME=value…]")
    p.add_argument("--b", default="", help="side B's environment")
    p.add_argument("--rate", type=float, default=1000.0, help="submissions a second")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--repeat", type=int, default=3, help="rounds of A then B")
    p.add_argument("--front-processes", type=int, default=2)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--out", type=Path, default=Path("bench/reports/door-ab"))
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(cli()))
