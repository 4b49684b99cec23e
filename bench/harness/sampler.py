"""Once a second during a run: queue depth, the core's latency and effects, and CPU of every process.

Server-side figures that the load generator cannot see. CPU comes from psutil for the servers and for
the load generator itself, whose share of the machine the report states (a generator that saturates
the cores measures itself, not the system).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiormq
import psutil

_SHARED = {"beam.smp": "RabbitMQ", "redis-server": "Redis"}


@dataclass(slots=True)
class Sample:
    t: float  # seconds since the run started
    queue_depth: int | None
    core_p50: float | None
    core_p99: float | None
    core_waiting: int | None
    effects: int | None


@dataclass
class Sampler:
    core_url: str
    amqp_url: str
    queues: list[str]
    server_pids: dict[str, list[int]]
    generator_pid: int | None = None
    samples: list[Sample] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0
    _task: asyncio.Task[None] | None = None
    _seen: dict[int, tuple[str, float]] = field(default_factory=dict)
    _first: dict[int, float] = field(default_factory=dict)  # CPU a process had used when first seen

    async def start(self, http: aiohttp.ClientSession) -> None:
        self._started = time.monotonic()
        # The shared servers on this machine work for whichever target runs: their CPU is part of its cost.
        for proc in psutil.process_iter(["name"]):
            role = _SHARED.get(proc.info["name"] or "")
            if role is not None:
                self.server_pids = {**self.server_pids, role: [*self.server_pids.get(role, []), proc.pid]}
        self._tally_cpu()  # what the servers used to start up is not the run's
        self._task = asyncio.create_task(self._run(http))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._tally_cpu()
        self.cpu_seconds = {}
        for pid, (role, seconds) in self._seen.items():
            used = seconds - self._first.get(pid, 0.0)
            self.cpu_seconds[role] = self.cpu_seconds.get(role, 0.0) + used

    async def _run(self, http: aiohttp.ClientSession) -> None:
        connection = await aiormq.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            while True:
                began = time.monotonic()
                depth: int | None = 0
                for queue in self.queues:
                    try:
                        declared = await channel.queue_declare(queue, passive=True)
                        depth = (depth or 0) + (declared.message_count or 0)
                    except aiormq.exceptions.ChannelNotFoundEntity:
                        channel = await connection.channel()
                if not self.queues:
                    depth = None
                stats: dict[str, Any] = {}
                effects = None
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.core_url + "/v1/stats?window=2") as response:
                        stats = await response.json()
                    async with http.get(self.core_url + "/v1/ledger") as response:
                        effects = int((await response.json())["effects"])
                self.samples.append(
                    Sample(
                        t=round(began - self._started, 2),
                        queue_depth=depth,
                        core_p50=stats.get("latency_p50_seconds"),
                        core_p99=stats.get("latency_p99_seconds"),
                        core_waiting=int(stats["waiting"]) if stats.get("waiting") is not None else None,
                        effects=effects,
                    )
                )
                self._tally_cpu()
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
        finally:
            await connection.close()

    def _tally_cpu(self) -> None:
        """Cumulative CPU of every process of interest, children included (locust forks its workers)."""
        roles = dict(self.server_pids)
        if self.generator_pid is not None:
            roles["load generator"] = [self.generator_pid]
        for role, pids in roles.items():
            for pid in pids:
                try:
                    parent = psutil.Process(pid)
                    family = [parent, *parent.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in family:
                    with contextlib.suppress(psutil.Error):
                        times = proc.cpu_times()
                        self._seen[proc.pid] = (role, times.user + times.system)
                        self._first.setdefault(proc.pid, times.user + times.system)
