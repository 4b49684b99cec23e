"""``python -m bench.chaos``: does every 202 end done or failed, once, whatever breaks?

Starts the whole system on a private RabbitMQ node and a private Redis (never the shared ones): the core
simulator (with 5 % transient and 1 % permanent failures, so tickets wait in delay queues), two front
doors on one port (the kernel balances them, as a load balancer would), two worker processes and the
status API, each under a supervisor that restarts what dies. It drives an open-loop load of every kind
(and a small enterprise batch every 30 s), and on a schedule SIGKILLs workers and front doors, restarts
RabbitMQ (gracefully and by SIGKILL, in turn) and Redis (SIGKILL, then its append-only file). When the
load stops it waits for every ticket to settle and accounts for each one a 202 gave out: done, failed,
lost, stuck, applied twice; with the answers by status code, the recovery after each fault, and the
processes' memory, descriptors and connections over time. It exits 1 on any loss, stuck ticket, double
effect, or 5xx other than 503.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bench import citizen_tokens
from bench.chaos import accounting, faults, report
from bench.chaos.load import Load
from bench.chaos.supervisor import ROOT, Supervisor
from bench.harness.targets import Layout, create_enterprise
from bench.ports import free_port_block
from bench.private_rabbit import PrivateRabbit
from bench.private_redis import PrivateRedis
from bench.readiness import wait_http
from queue_config.errors import ArchiveUnavailable
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.postgres.archive import PostgresArchive


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default 10)")
    parser.add_argument("--rate", type=float, default=20.0, help="submissions a second, Poisson (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the load's arrivals and citizens")
    parser.add_argument(
        "--drain-seconds", type=float, default=300.0, help="longest wait for tickets to settle"
    )
    parser.add_argument(
        "--out", type=Path, help="report folder (default bench/reports/<date>-chaos-<minutes>m)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args()


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True).strip()  # noqa: S607
    return "?"


async def _progress(seconds: float, began: float, enabled: bool, load: Load) -> None:
    if not enabled:
        return
    from tqdm import tqdm

    with tqdm(total=int(seconds), unit="s", desc="chaos", leave=True) as bar:
        while (elapsed := time.monotonic() - began) < seconds:
            ok = sum(1 for a in load.answers if a.status in (200, 202))
            bar.set_postfix_str(f"{ok} tickets, {len(load.answers)} answers")
            bar.update(int(elapsed) - bar.n)
            await asyncio.sleep(1.0)
        bar.update(int(seconds) - bar.n)


async def _faults(dealer: faults.Faults, plan: list[faults.Planned], began: float) -> list[faults.Dealt]:
    dealt = []
    for planned in plan:
        wait = planned.at - (time.monotonic() - began)
        if wait > 0:
            await asyncio.sleep(wait)
        dealt.append(await dealer.deal(planned))
    return dealt


async def run(options: argparse.Namespace) -> int:
    seconds = options.minutes * 60
    out = options.out or ROOT / "bench" / "reports" / f"{dt.date.today():%Y-%m-%d}-chaos-{options.minutes:g}m"
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rabbit, redis_server = PrivateRabbit(), PrivateRedis()
    print(f"starting a private RabbitMQ (port {rabbit.port}) and Redis (port {redis_server.port})")
    await asyncio.gather(rabbit.start(), redis_server.start())
    layout = Layout(
        namespace=f"tgchaos-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(Layout.PORTS),
        core_slots=32,
        core_service_ms=200,
        extra_env={
            "AMQP_URL": rabbit.url,
            "REDIS_URL": redis_server.url,
            "CORE_FAILURE_RATE": "0.05",
            "CORE_PERMANENT_FAILURE_RATE": "0.01",
            "LOG_LEVEL": "info",
            # Short booking windows, so that batch items booked for later run within the run too.
            "BULK_WINDOW_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
        },
    )
    env = layout.env()
    supervisor = Supervisor.whole_system(env, logs)
    redis = Redis.from_url(redis_server.url)
    code = 1
    try:
        supervisor.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for url in (
                layout.core_url + "/v1/ledger",
                layout.idp_url + "/healthz",
                layout.front_url + "/readyz",
                layout.status_url + "/readyz",
            ):
                await wait_http(http, url)
            await asyncio.sleep(2.0)  # the workers connected, a controller leading
            key = await create_enterprise(http, layout.front_url, "Chaos Payroll", 100_000)
            began = time.monotonic()
            supervisor.began = began
            tokens = await citizen_tokens.mint_pool(http, layout.idp_url)
            load = Load(
                layout.front_url, options.rate, began, seed=options.seed, enterprise_key=key, tokens=tokens
            )
            dealer = faults.Faults(rabbit, redis_server, supervisor, began, surge=lambda: load.surge(http))
            plan = faults.schedule(seconds)
            print(f"{len(plan)} faults over {seconds:.0f} s at {options.rate:g} submissions a second")
            print(f"logs in {logs}")
            fault_task = asyncio.create_task(_faults(dealer, plan, began))
            await asyncio.gather(
                load.run(http, seconds), _progress(seconds, began, not options.no_progress, load)
            )
            dealt = await fault_task
            tickets = accounting.issued_tickets(load.answers)
            names = Names(layout.namespace)
            # Done tickets move to the archive ARCHIVE_AFTER_SECONDS after they finish: read there too.
            settings = Settings.from_env(layout.env())
            archive = (
                PostgresArchive(settings.database_url, layout.namespace) if settings.database_url else None
            )
            try:
                drained = await accounting.wait_for_drain(
                    redis, names, tickets, options.drain_seconds, not options.no_progress, archive
                )
                result = await accounting.account(redis, names, http, layout.core_url, tickets, archive)
            finally:
                if archive is not None:
                    with contextlib.suppress(ArchiveUnavailable):
                        await archive.forget_namespace()  # a private Redis's tickets: nobody reads them again
                    await archive.close()
            result.drain_seconds = drained
        exits = await supervisor.stop()
        republished = sum(
            (logs / f"{p.name}.log").read_text(errors="replace").count("retry_message_republished")
            for p in supervisor.named("worker")
        )
        text = report.write(
            out,
            command="python -m bench.chaos " + shlex.join(sys.argv[1:]),
            commit=_commit(),
            seconds=seconds,
            rate=options.rate,
            answers=load.answers,
            accounting=result,
            dealt=dealt,
            samples=supervisor.samples,
            restarts={p.name: p.restarts for p in supervisor.processes if p.restarts},
            unexpected_exits=supervisor.unexpected_exits,
            republished=republished,
        )
        print(text)
        print(f"report: {out / 'report.md'}; exits at the end: {exits}")
        code = 0 if report.verdict(result, load.answers) else 1
    finally:
        await supervisor.stop()
        await redis.aclose()
        await asyncio.gather(rabbit.stop(), redis_server.stop())
        shutil.rmtree(rabbit.base, ignore_errors=True)
        shutil.rmtree(redis_server.dir, ignore_errors=True)
    return code


def main() -> None:
    sys.exit(asyncio.run(run(_options())))


if __name__ == "__main__":
    main()
