"""The latency curve of ``python -m bench --sweep``: each target's accept latency against the offered
load, as fractions of that target's own measured maximum or (``--sweep-rates-of ticketgate``) the same
rates for every target, fractions of ticketgate's maximum, with ticketgate's event-loop lag beside it.

For each target, freshly started: its maximum with wrk (``--connections`` clients without pause,
``--throughput-seconds``), then for each fraction an open-loop Poisson stream at that fraction of the
maximum (``bench.harness.paced``, ``--sweep-seconds`` each, ascending), the work queues emptied between
steps so that no step runs behind the backlog of the one before. For ticketgate, every front door's
``ticketgate_event_loop_lag_seconds`` histogram is read before and after each step (each process told
apart by its ``ticketgate_process_info``), so the lag quantiles are of that step alone.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import psutil

from bench.harness import paced, targets, wrk
from bench.harness.runs import AUTH, layout
from queue_config.kinds import KINDS
from queue_config.settings import Settings

# Every histogram bucket a front door serves: metric, labels, upper bound, cumulative count.
_BUCKET = re.compile(r"^(ticketgate_[a-z_]+)_bucket\{([^}]*)\} ([\d.e+]+)$", re.M)
_LABEL = re.compile(r'([a-z_]+)="([^"]*)"')
_PID = re.compile(r'^ticketgate_process_info\{pid="(\d+)"\} ', re.M)
LAG = "ticketgate_event_loop_lag_seconds"
STAGE = "ticketgate_intake_stage_seconds"
GC = "ticketgate_gc_pause_seconds"
STAGES = ("auth", "gate", "reserve", "publish", "commit")
# process (its pid) -> series ("metric" or "metric/label") -> upper bound -> cumulative count
Buckets = dict[str, dict[str, dict[float, float]]]


@dataclass(frozen=True, slots=True)
class SweepPoint:
    target: str
    fraction: float
    offered: float  # submissions a second asked for
    accepted: float  # 2xx a second
    p50_ms: float
    p99_ms: float
    lag_p50_ms: float | None = None  # ticketgate's front doors, all processes together
    lag_p99_ms: float | None = None
    stage_p99_ms: dict[str, float] = field(default_factory=dict)  # each intake stage, all doors
    gc_p99_ms: float | None = None  # pauses of Python's garbage collector, every generation
    gc_pauses: float | None = None  # how many in the step
    machine_busy: float = float("nan")  # share of all the machine's cores busy during the step


@dataclass
class Sweep:
    target: str
    maximum: float
    points: list[SweepPoint] = field(default_factory=list)
    basis: float | None = None  # the maximum the fractions are of, when not this target's own


def fractions(text: str) -> list[float]:
    values = sorted(float(v) for v in text.split(",") if v.strip())
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError("--sweep takes positive fractions, e.g. 0.1,0.25,0.5,0.7,0.9,1.1")
    return values


def parse_buckets(text: str) -> dict[str, dict[float, float]]:
    """A /metrics page's ticketgate histograms: series → upper bound → cumulative count. A series is the
    metric's name, with ``/label`` for a labelled one; the GC's generations are added up under ``GC``."""
    series: dict[str, dict[float, float]] = {}
    for metric, labels, n in _BUCKET.findall(text):
        values = dict(_LABEL.findall(labels))  # prometheus-client orders labels by name, ``le`` among them
        le = values.pop("le")
        label = next(iter(values.values()), "")
        name = metric if not label or metric == GC else f"{metric}/{label}"
        bounds = series.setdefault(name, {})
        bounds[float(le)] = bounds.get(float(le), 0.0) + float(n)
    return series


async def metrics_pages(http: aiohttp.ClientSession, url: str, processes: int) -> dict[str, str]:
    """Each front door process's ``/metrics`` page, by its pid; the processes share a port, so it asks
    until it has heard from each of them (or 40 times)."""
    pages: dict[str, str] = {}
    for _ in range(40):
        async with http.get(url + "/metrics", headers={"Connection": "close"}) as response:
            text = await response.text()
        pid = _PID.search(text)
        if pid is not None:
            pages[pid.group(1)] = text
        if len(pages) >= processes:
            break
    return pages


async def _histograms(http: aiohttp.ClientSession, url: str, processes: int) -> Buckets:
    """Each front door process's cumulative histograms, by its pid."""
    return {pid: parse_buckets(text) for pid, text in (await metrics_pages(http, url, processes)).items()}


def _counted(before: Buckets, after: Buckets, series: str) -> dict[float, float]:
    """What the processes' histograms of ``series`` counted in between, added up: bound → count."""
    counts: dict[float, float] = {}
    for process, histograms in after.items():
        earlier = before.get(process, {}).get(series, {})
        for bound, n in histograms.get(series, {}).items():
            counts[bound] = counts.get(bound, 0.0) + n - earlier.get(bound, 0.0)
    return counts


def quantile(before: Buckets, after: Buckets, series: str, q: float) -> float:
    """The ``q`` quantile (ms, a bucket's upper bound) of what ``series`` counted in between."""
    counts = _counted(before, after, series)
    total = counts.get(float("inf"), 0.0)
    if total <= 0:
        return float("nan")
    for bound in sorted(counts):
        if counts[bound] >= q * total:
            return 1000 * bound
    return float("inf")


def _busy_share(before: Any, after: Any) -> float:
    """The share of the machine's CPU time between two ``psutil.cpu_times()`` that was not idle: the
    generator, the target, Redis and RabbitMQ all share these cores, and a step near 100 % measures
    the machine, not the target."""
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    return 1.0 - idle / total if total > 0 else float("nan")


async def _empty(queues: list[str], settings: Settings) -> None:
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            await queue.purge()


async def sweep(
    args: argparse.Namespace,
    name: str,
    offset: int,
    http: aiohttp.ClientSession,
    out: Path,
    basis: float | None = None,
) -> Sweep:
    """One target's curve; ``basis`` is the maximum its fractions are of (default: its own)."""
    where = layout(args, offset)
    running = await targets.start(name, where, http)
    ours = name == targets.TICKETGATE
    try:
        if ours:
            wide = {"mode": "manual", "rates": dict.fromkeys(KINDS, 1e6)}
            async with http.put(where.front_url + "/v1/admin/throttle", json=wide, headers=AUTH) as response:
                response.raise_for_status()
            await asyncio.sleep(1.5)
        most = await wrk.run(where.front_url, args.connections, args.throughput_seconds)
        result = Sweep(name, (most.requests - most.refused) / max(most.seconds, 1e-9), basis=basis)
        settings = Settings.from_env(where.env())
        for index, fraction in enumerate(fractions(args.sweep)):
            if running.queues:
                await _empty(running.queues, settings)
            await asyncio.sleep(2.0)
            before = await _histograms(http, where.front_url, where.front_processes) if ours else {}
            rate = fraction * (basis or result.maximum)
            cpu_before = psutil.cpu_times()
            step = await paced.run(
                where.front_url,
                connections=args.connections,
                rate=rate,
                seconds=args.sweep_seconds,
                processes=args.paced_processes,
                seed=paced.SEED_BASE + index * paced.STEP_SEEDS,  # each step new submissions
            )
            busy = _busy_share(cpu_before, psutil.cpu_times())
            after = await _histograms(http, where.front_url, where.front_processes) if ours else {}
            result.points.append(
                SweepPoint(
                    target=name,
                    fraction=fraction,
                    offered=rate,
                    accepted=step.accepted / max(step.seconds, 1e-9),
                    p50_ms=step.p50_ms,
                    p99_ms=step.p99_ms,
                    lag_p50_ms=quantile(before, after, LAG, 0.5) if ours else None,
                    lag_p99_ms=quantile(before, after, LAG, 0.99) if ours else None,
                    stage_p99_ms={
                        stage: quantile(before, after, f"{STAGE}/{stage}", 0.99) for stage in STAGES
                    }
                    if ours
                    else {},
                    gc_p99_ms=quantile(before, after, GC, 0.99) if ours else None,
                    gc_pauses=_counted(before, after, GC).get(float("inf"), 0.0) if ours else None,
                    machine_busy=busy,
                )
            )
            print(
                f"[sweep] {name}: {rate:,.0f}/s → p99 {step.p99_ms:.0f} ms",
                flush=True,
            )
        return result
    finally:
        await running.stop()


def table(sweeps: list[Sweep]) -> list[str]:
    lines = [
        "| target | its maximum (/s) | offered | offered (/s) | accepted (/s) | p50 (ms) | p99 (ms) "
        "| front doors' loop lag p50 / p99 (ms) | machine CPU busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sweeps:
        for p in s.points:
            lag = f"{p.lag_p50_ms:.1f} / {p.lag_p99_ms:.1f}" if p.lag_p50_ms is not None else ""
            lines.append(
                f"| {s.target} | {s.maximum:,.0f} | {p.fraction:.0%} | {p.offered:,.0f} | {p.accepted:,.0f} "
                f"| {p.p50_ms:.1f} | {p.p99_ms:.1f} | {lag} | {p.machine_busy:.0%} |"
            )
    return lines


def stage_table(sweeps: list[Sweep]) -> list[str]:
    """Where ticketgate's latency goes at each step: each intake stage's p99 and the GC's pauses (bucket
    upper bounds, so "≤")."""
    lines = [
        "| offered | "
        + " | ".join(f"{stage} p99 (ms)" for stage in STAGES)
        + " | GC pauses | GC pause p99 (ms) |",
        "| ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | ---: |",
    ]
    for s in sweeps:
        for p in s.points:
            if not p.stage_p99_ms:
                continue
            stages = " | ".join(f"≤ {p.stage_p99_ms.get(stage, float('nan')):g}" for stage in STAGES)
            lines.append(
                f"| {p.fraction:.0%} ({p.offered:,.0f}/s) | {stages} | {p.gc_pauses or 0:,.0f} "
                f"| ≤ {p.gc_p99_ms or float('nan'):g} |"
            )
    return lines


def plot(sweeps: list[Sweep], where: Path) -> str:
    """p50 and p99 against the offered load (fraction of each target's maximum), log scale; the file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5))
    for s in sweeps:
        xs = [p.fraction * 100 for p in s.points]
        (line,) = axis.plot(xs, [p.p99_ms for p in s.points], marker="o", label=f"{s.target} p99")
        axis.plot(xs, [p.p50_ms for p in s.points], marker=".", linestyle="--", color=line.get_color(),
                  label=f"{s.target} p50")  # fmt: skip
    axis.set_yscale("log")
    shared = next((s.basis for s in sweeps if s.basis), None)
    of = f"of ticketgate's maximum ({shared:,.0f}/s)" if shared else "of the target's own maximum"
    axis.set_xlabel(f"offered load, % {of} (open loop, Poisson)")
    axis.set_ylabel("accept latency (ms)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    file = "latency-sweep.png"
    figure.savefig(where / file, dpi=110)
    plt.close(figure)
    return file
