"""``python -m bench.cpu_per_request``: what one submission costs the machine, process by process, at a
fixed rate.

A p99 at a given offered rate depends on how full the machine is; this says what fills it. For each
target (``--targets``, a fresh start each, ``--front-processes`` HTTP processes) it offers ``--rate``
submissions a second open-loop for ``--seconds`` (``bench.harness.paced``) and reads, from the kernel,
the CPU (user + system) that each of the target's own processes and the Redis and RabbitMQ servers
spent during the load. Redis and RabbitMQ are shared servers: run this on a machine doing nothing else.
The load generator's own CPU is not counted. Writes ``report.md`` to ``--out``.

    python -m bench.cpu_per_request --targets ticketgate,asyncio --rate 1100 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench import server_usage
from bench.harness import paced, targets
from bench.harness.report import heading, save
from bench.ports import free_port_block
from queue_config.settings import Settings

_CHOICES = {"ticketgate": targets.TICKETGATE, "asyncio": targets.ASYNCIO, "celery": targets.CELERY}


@dataclass(frozen=True, slots=True)
class Measured:
    target: str
    accepted: int
    seconds: float  # wall time of the load
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]  # seconds by role

    def per_request_us(self, role: str) -> float:
        return 1e6 * self.cpu[role] / max(1, self.accepted)

    @property
    def total(self) -> float:
        return sum(self.cpu.values())

    @property
    def per_submission_us(self) -> float:
        return 1e6 * self.total / max(1, self.accepted)


def shared_servers(settings: Settings) -> dict[str, set[int]]:
    """The processes of the Redis and RabbitMQ that ``settings`` name, found by their listening ports."""
    return {
        "Redis": server_usage.listening_pids({urlsplit(settings.redis_url).port or 6379}),
        "RabbitMQ": server_usage.listening_pids({urlsplit(settings.amqp_url).port or 5672}),
    }


def cpu_by_role(roles: Mapping[str, set[int]]) -> dict[str, float]:
    return {role: server_usage.cpu_seconds(pids) for role, pids in roles.items()}


async def measure(args: argparse.Namespace, name: str, http: aiohttp.ClientSession) -> Measured:
    where = targets.Layout(
        namespace=f"bench-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(targets.Layout.PORTS),
        front_processes=args.front_processes,
    )
    running = await targets.start(name, where, http)
    try:
        if name == targets.TICKETGATE:
            await targets.admit_everything(http, where.front_url)
        roles = {role: set(pids) for role, pids in running.server_pids.items()}
        roles.update(shared_servers(Settings.from_env(where.env())))
        before, began = cpu_by_role(roles), time.monotonic()
        result = await paced.run(
            where.front_url, connections=args.connections, rate=args.rate, seconds=args.seconds
        )
        seconds = time.monotonic() - began
        after = cpu_by_role(roles)
        spent = {role: after[role] - before[role] for role in roles}
        return Measured(name, result.accepted, seconds, result.p50_ms, result.p99_ms, spent)
    finally:
        await running.stop()


def report(args: argparse.Namespace, runs: list[Measured]) -> str:
    lines = [
        *heading(
            f"CPU a submission, by process, at {args.rate:,.0f} submissions a second", "bench.cpu_per_request"
        ),
        f"{args.front_processes} HTTP processes a target, {args.connections:,} connections, "
        f"{args.seconds:.0f} s open-loop Poisson, a fresh start each (`bench/cpu_per_request.py`). "
        "CPU is user + system from the kernel during the load, divided by the submissions accepted; the "
        "load generator's is not counted.",
        "",
        "| target | accepted | p50 (ms) | p99 (ms) | role | CPU (s) | µs a submission |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for run in runs:
        head = f"| {run.target} | {run.accepted:,} | {run.p50_ms:.1f} | {run.p99_ms:.1f}"
        for role in sorted(run.cpu, key=lambda r: -run.cpu[r]):
            if run.cpu[role] >= 0.005:
                lines.append(f"{head} | {role} | {run.cpu[role]:.2f} | {run.per_request_us(role):,.0f} |")
                head = "| | | |"
        cores = run.total / run.seconds
        lines.append(
            f"| | | | | **all** | {run.total:.2f} ({cores:.2f} cores) | **{run.per_submission_us:,.0f}** |"
        )
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    runs = []
    async with aiohttp.ClientSession() as http:
        for choice in args.targets:
            run = await measure(args, _CHOICES[choice], http)
            print(f"[cpu] {run.target}: {run.per_submission_us:,.0f} µs a submission", flush=True)
            runs.append(run)
    save(args.out, report(args, runs))


def cli(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.cpu_per_request", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--targets",
        type=lambda text: [t.strip() for t in text.split(",") if t.strip()],
        default=["ticketgate", "asyncio"],
        help=f"comma-separated, of {', '.join(_CHOICES)}",
    )
    p.add_argument("--rate", type=float, default=1100.0, help="submissions a second")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--front-processes", type=int, default=2)
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--out", type=Path, default=Path("bench/reports/cpu-per-request"))
    args = p.parse_args(argv)
    unknown = [t for t in args.targets if t not in _CHOICES]
    if unknown:
        p.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(_CHOICES)}")
    return args


if __name__ == "__main__":
    asyncio.run(main(cli()))
