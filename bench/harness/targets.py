"""The systems the benchmark runs: ticketgate and the baselines, each with the same core simulator.

A target is a set of processes started in a namespace of its own (queues, exchanges and Redis keys all
carry it), and what the harness needs to know about them: where citizens submit, where they poll,
which queues to watch, and how to clean up afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import aio_pika
import aiohttp
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.kinds import KINDS
from queue_config.names import Names
from queue_config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_TOKEN = "bench-operator-token"  # noqa: S105  (a throwaway namespace's token)
TICKETGATE = "ticketgate"
NAIVE = "naive sync portal"
CELERY = "FastAPI + Celery"
ASYNCIO = "plain asyncio"
BARE_HTTP = "bare aiohttp (HTTP ceiling)"
TARGETS = (TICKETGATE, NAIVE, CELERY, ASYNCIO)


@dataclass(frozen=True, slots=True)
class Layout:
    """How a target is run on this machine: ports, process counts, the simulated core's capacity."""

    # Ports from port_base: core simulator, front door(s), status API, identity provider.
    PORTS: ClassVar[int] = 4

    namespace: str
    port_base: int
    core_slots: int = 8
    core_service_ms: float = 800.0
    front_processes: int = 1
    worker_processes: int = 1
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def core_url(self) -> str:
        return f"http://127.0.0.1:{self.port_base}"

    @property
    def front_url(self) -> str:
        return f"http://127.0.0.1:{self.port_base + 1}"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.port_base + 2}"

    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.port_base + 3}"

    @property
    def tokens_file(self) -> Path:
        return ROOT / ".run" / "bench" / f"tokens-{self.namespace}.tsv"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NAMESPACE": self.namespace,
            "LOG_LEVEL": "warning",
            "OPERATOR_TOKEN": OPERATOR_TOKEN,
            # One load generator is one client IP: the per-IP limit would measure itself.
            "PER_IP_PER_MINUTE": "0",
            "CORE_PORT": str(self.port_base),
            "CORE_URL": self.core_url,
            "CORE_SLOTS": str(self.core_slots),
            "CORE_SERVICE_MS": str(self.core_service_ms),
            "FRONTDOOR_PORT": str(self.port_base + 1),
            "BASELINE_PORT": str(self.port_base + 1),
            "BARE_PORT": str(self.port_base + 1),
            "STATUS_PORT": str(self.port_base + 2),
            "PUBLIC_STATUS_URL": self.status_url,
            # The portal's login: every target's citizens carry its tokens (ticketgate verifies them).
            "IDP_PORT": str(self.port_base + 3),
            "AUTH_ISSUER": self.idp_url,
            citizen_tokens.TOKENS_FILE_ENV: str(self.tokens_file),
            "WORKER_METRICS_PORT": "0",
            "REUSE_PORT": "1",
            "BASELINE_QUEUE": f"{self.namespace}-baseline",
            **self.extra_env,
        }


@dataclass
class Running:
    name: str
    layout: Layout
    processes: dict[str, list[subprocess.Popen[bytes]]]
    queues: list[str]  # work queues whose depth the sampler follows

    @property
    def server_pids(self) -> dict[str, list[int]]:
        return {role: [p.pid for p in procs] for role, procs in self.processes.items()}

    async def stop(self) -> None:
        for procs in self.processes.values():
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
        for procs in self.processes.values():
            for proc in procs:
                try:
                    await asyncio.to_thread(proc.wait, 30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await _cleanup(self.layout, self.name)


def _spawn(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    # Our own modules and tools with this interpreter: nothing here comes from untrusted input.
    return subprocess.Popen(args, cwd=ROOT, env=dict(env))  # noqa: S603


def _module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


async def start(name: str, layout: Layout, http: aiohttp.ClientSession) -> Running:
    env = layout.env()
    procs: dict[str, list[subprocess.Popen[bytes]]] = {
        "core simulator": [_spawn(_module("bench.coresim"), env)],
        "identity provider": [_spawn(_module("bench.idp"), env)],
    }
    queues: list[str] = []
    ready = [layout.core_url + "/v1/ledger", layout.idp_url + "/healthz"]
    fronts = range(layout.front_processes)
    workers = range(layout.worker_processes)
    if name == TICKETGATE:
        procs["front door"] = [_spawn(_module("frontdoor"), env) for _ in fronts]
        procs["status API"] = [_spawn(_module("status_api"), env)]
        procs["workers"] = [_spawn(_module("workers"), env) for _ in workers]
        names = Names(layout.namespace)
        queues = [names.queue(k) for k in KINDS]
        ready += [layout.front_url + "/readyz", layout.status_url + "/readyz"]
    elif name == NAIVE:
        procs["portal"] = [_spawn(_module("bench.baselines.naive_portal"), env) for _ in fronts]
        ready.append("")
    elif name == ASYNCIO:
        procs["portal"] = [_spawn(_module("bench.baselines.asyncio_portal"), env) for _ in fronts]
        queues = [env["BASELINE_QUEUE"]]
        ready.append("")
    elif name == CELERY:
        procs["API (uvicorn)"] = [
            _spawn(
                _module(
                    "uvicorn",
                    "bench.baselines.celery_portal:api",
                    "--port",
                    str(layout.port_base + 1),
                    "--workers",
                    str(layout.front_processes),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ),
                env,
            )
        ]
        procs["Celery workers"] = [
            _spawn(
                _module(
                    "celery",
                    "-A",
                    "bench.baselines.celery_portal",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--pool",
                    "threads",
                    "--concurrency",
                    "32",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ),
                env,
            )
            for _ in workers
        ]
        queues = [env["BASELINE_QUEUE"]]
        ready.append("")
    elif name == BARE_HTTP:
        procs["server"] = [_spawn(_module("bench.bare_aiohttp"), env) for _ in fronts]
        ready.append("")
    else:
        raise ValueError(f"unknown target {name!r}")
    running = Running(name, layout, procs, queues)
    try:
        for url in ready:
            if url:
                await wait_http(http, url)
            else:
                await wait_port(layout.port_base + 1)
        citizen_tokens.write(layout.tokens_file, await citizen_tokens.mint_pool(http, layout.idp_url))
        # The load generators this process starts next (wrk, paced, locust) read the pool from here.
        os.environ[citizen_tokens.TOKENS_FILE_ENV] = str(layout.tokens_file)
        if name == TICKETGATE:
            await asyncio.sleep(2.0)  # workers connected, a controller leading
    except BaseException:
        await running.stop()
        raise
    return running


async def admit_everything(http: aiohttp.ClientSession, front_url: str, settle: float = 1.5) -> None:
    """Every kind's admission rate out of the way (manual mode, a million a second), in force on every
    door once this returns: a benchmark of intake speed measures the path, not the throttle."""
    wide = {"mode": "manual", "rates": dict.fromkeys(KINDS, 1e6)}
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with http.put(front_url + "/v1/admin/throttle", json=wide, headers=headers) as response:
        response.raise_for_status()
    await asyncio.sleep(settle)  # the change reaches every door within a second


async def create_enterprise(http: aiohttp.ClientSession, front_url: str, name: str, quota: int) -> str:
    """A new enterprise on a running target (with the bench's operator token); its API key."""
    async with http.post(
        front_url + "/v1/admin/enterprises",
        json={"name": name, "quota_per_minute": quota},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    ) as response:
        return str((await response.json())["api_key"])


async def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise TimeoutError(f"nothing listens on port {port}")


async def _cleanup(layout: Layout, name: str) -> None:
    layout.tokens_file.unlink(missing_ok=True)
    settings = Settings.from_env(layout.env())
    redis = Redis.from_url(settings.redis_url)
    try:
        await purge_namespace(settings, redis)
        if name != TICKETGATE:
            baseline = layout.env()["BASELINE_QUEUE"]
            keys = [k async for k in redis.scan_iter(f"{baseline}:*", count=1000)]
            for i in range(0, len(keys), 500):
                await redis.delete(*keys[i : i + 500])
            connection = await aio_pika.connect(settings.amqp_url)
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(baseline)
                await channel.exchange_delete(baseline)  # Celery's exchange of the same name
    finally:
        await redis.aclose()
