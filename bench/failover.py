"""``python -m bench.failover``: kill cluster nodes under steady load; how long until the doors accept
again, and does every 202 still end done or failed, once?

Runs the whole system (core simulator with 5 % transient failures, so tickets wait in delay queues; two
front doors on one port; two worker processes; the status API) on the local cluster of
``scripts/cluster.sh`` (started if it is not running, and then stopped at the end), drives an open-loop
load of every kind with enterprise batches, and ``--kills`` times over:

- **rabbit**: SIGKILLs the RabbitMQ node that leads the payment queue, then restarts it;
- **redis**: SIGKILLs a Redis primary (each time another third of the slot space), waits for its
  replica's promotion, then restarts it (it rejoins as a replica).

Just before each kill a surge (a 200-item batch and 30 submissions at once) puts work in the staging,
work, delay and window queues, in flight at the workers and half-published at the doors.

The failover time of a kill is the one the operators count: from the last 202 before it to the first
202 after it, among the submissions the dead node served: payments for a RabbitMQ kill, tickets of the
key shards the dead primary held for a Redis kill (the others never stop). When the load ends it waits
for every ticket to settle and accounts for each one a 202 gave out. Exits 1 on any ticket lost, stuck or
applied twice, any 5xx but 503, or any failover over ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shlex
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import aiohttp
import orjson

from bench import citizen_tokens
from bench.chaos import accounting
from bench.chaos.accounting import Accounting
from bench.chaos.load import Answer, Load
from bench.chaos.report import server_errors
from bench.chaos.supervisor import ROOT, Supervisor
from bench.harness.targets import Layout, create_enterprise
from bench.local_cluster import LocalCluster
from bench.ports import free_port_block
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.key_shards import KEY_SHARDS, key_slot, shard_tag
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.redis.client import connect
from queue_config.ticket_ids import shard_of

LIMIT_SECONDS = 8.0


@dataclass(frozen=True, slots=True)
class Kill:
    target: str  # "rabbit" or "redis"
    victim: str
    at: float  # seconds since the run began
    restarted_at: float
    shards: tuple[int, ...] = ()  # for a Redis kill: the key shards the dead primary held
    failover_seconds: float | None = None  # last 202 before the kill to the first after it (see module)
    all_traffic_gap: float | None = None  # the same over every 202


def _gap(answers: list[Answer], at: float, served: Callable[[Answer], bool]) -> float | None:
    ok = [a for a in answers if a.status in (200, 202) and a.source != "bulk" and served(a)]
    before = max((a.received for a in ok if a.received <= at), default=None)
    after = min((a.received for a in ok if a.sent >= at), default=None)
    if before is None or after is None:
        return None
    return round(after - before, 2)


def measured(kill: Kill, answers: list[Answer]) -> Kill:
    held = set(kill.shards)

    def served(a: Answer) -> bool:
        if kill.target == "rabbit":
            return a.kind == "payment"
        return bool(a.tickets) and shard_of(a.tickets[0]) in held

    return replace(
        kill,
        failover_seconds=_gap(answers, kill.at, served),
        all_traffic_gap=_gap(answers, kill.at, lambda a: True),
    )


async def _first_202_after(load: Load, at: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(a.status == 202 and a.sent >= at + 0.5 for a in load.answers[-200:]):
            return
        await asyncio.sleep(0.2)


async def _kills(
    cluster: LocalCluster,
    load: Load,
    http: aiohttp.ClientSession,
    names: Names,
    targets: list[str],
    kills: int,
) -> list[Kill]:
    done: list[Kill] = []

    def now() -> float:
        return time.monotonic() - load.began

    await asyncio.sleep(10)  # warm: the controller leads, capacity measured, queues busy
    for i in range(kills):
        for target in targets:
            await load.surge(http)
            await asyncio.sleep(1.0)
            shards: tuple[int, ...] = ()
            if target == "rabbit":
                node = await asyncio.to_thread(cluster.queue_leader, names.queue("payment"))
                victim = node.name
                at = now()
                await asyncio.to_thread(node.kill)
            else:
                # Shards 0, 6, 12, 2, …: each kill lands in another third of the slot space.
                shard = (i * 6) % KEY_SHARDS
                primary = await asyncio.to_thread(cluster.redis_primary_of, key_slot(shard_tag(shard)))
                held = [
                    s
                    for s in range(KEY_SHARDS)
                    if cluster.redis_primary_of(key_slot(shard_tag(s))) == primary
                ]
                shards, victim = tuple(held), f"redis :{primary.port}"
                at = now()
                await asyncio.to_thread(primary.kill)
            print(f"[failover] {now():6.1f}s killed {victim}", flush=True)
            await _first_202_after(load, at, 30)
            await asyncio.sleep(3)
            if target == "rabbit":
                await asyncio.to_thread(cluster.start_rabbit, node)
            else:
                await asyncio.to_thread(primary.start)
                await asyncio.to_thread(cluster.wait_redis_ok, 60)
            restarted = now()
            print(f"[failover] {restarted:6.1f}s restarted {victim}", flush=True)
            done.append(Kill(target, victim, at, restarted, shards))
            await asyncio.sleep(8)  # the restarted node catches up before the next fault
    return done


@dataclass
class Outcome:
    kills: list[Kill]
    answers: list[Answer]
    result: Accounting
    seconds: float

    @property
    def errors(self) -> list[Answer]:
        return server_errors(self.answers)

    def ok(self, limit: float) -> bool:
        times = [k.failover_seconds for k in self.kills]
        return (
            self.result.clean
            and not self.errors
            and all(t is not None and t <= limit for t in times)
            and self.result.issued > 0
        )


async def run_failover(
    *, targets: list[str], kills: int, rate: float, logs: Path, drain_seconds: float = 300.0
) -> Outcome:
    cluster = LocalCluster()
    started_here = not all(node.running for node in cluster.rabbits + cluster.redises)
    if started_here:
        print("[failover] starting the local cluster (scripts/cluster.sh up)", flush=True)
        await asyncio.to_thread(cluster.up)
    layout = Layout(
        namespace=f"tgfail-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(Layout.PORTS),
        core_slots=32,
        core_service_ms=100,
        extra_env={
            "AMQP_URL": cluster.amqp_url,
            "REDIS_URL": cluster.redis_url,
            "CORE_FAILURE_RATE": "0.05",
            "LOG_LEVEL": "info",
            "BULK_WINDOW_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
        },
    )
    env = layout.env()
    supervisor = Supervisor.whole_system(env, logs)
    redis = connect(Settings.from_env(env))
    names = Names(layout.namespace)
    try:
        supervisor.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            for url in (
                layout.core_url + "/v1/ledger",
                layout.idp_url + "/healthz",
                layout.front_url + "/readyz",
                layout.status_url + "/readyz",
            ):
                await wait_http(http, url, timeout=90)
            await asyncio.sleep(2.0)
            key = await create_enterprise(http, layout.front_url, "Failover Payroll", 100_000)
            began = time.monotonic()
            supervisor.began = began
            tokens = await citizen_tokens.mint_pool(http, layout.idp_url)
            load = Load(layout.front_url, rate, began, enterprise_key=key, tokens=tokens)
            loading = asyncio.create_task(load.run(http, 10_000))
            try:
                dealt = await _kills(cluster, load, http, names, targets, kills)
                await asyncio.sleep(5)
            finally:
                loading.cancel()
                await asyncio.gather(loading, return_exceptions=True)
                await asyncio.gather(*load._tasks, return_exceptions=True)
            seconds = time.monotonic() - began
            tickets = accounting.issued_tickets(load.answers)
            drained = await accounting.wait_for_drain(redis, names, tickets, drain_seconds, progress=False)
            result = await accounting.account(redis, names, http, layout.core_url, tickets)
            result.drain_seconds = drained
        return Outcome([measured(k, load.answers) for k in dealt], load.answers, result, seconds)
    finally:
        await supervisor.stop()
        if started_here:
            await redis.aclose()
            await asyncio.to_thread(cluster.down)
        else:
            # A cluster that keeps running keeps the run's ~50 quorum queues otherwise: a few hundred
            # of them exhaust a node's file handles (see README, RabbitMQ cluster).
            try:
                await purge_namespace(Settings.from_env(env), redis)
            except Exception as exc:  # a node still recovering: say so, the run's verdict stands
                print(f"[failover] could not purge {layout.namespace}: {exc!r}", flush=True)
            await redis.aclose()


def summary(outcome: Outcome, limit: float) -> str:
    codes = Counter(str(a.status) for a in outcome.answers)
    r = outcome.result
    lines = [
        f"verdict: {'PASS' if outcome.ok(limit) else 'FAIL'} (failover limit {limit:g} s)",
        f"load: {len(outcome.answers)} answers over {outcome.seconds:.0f} s; by status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())),
        f"tickets given out: {r.issued}; by status: {dict(r.by_status)}; lost {len(r.lost)}, stuck "
        f"{len(r.stuck)}, applied twice {len(r.applied_twice)}, done without effect "
        f"{len(r.done_without_effect)}, failed with effect {len(r.failed_with_effect)}; settled "
        f"{r.drain_seconds:.0f} s after the load",
        f"5xx other than 503: {len(outcome.errors)}",
        "",
        "| # | killed | at (s) | failover (s) | gap in all 202s (s) | shards held |",
        "| ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for i, k in enumerate(outcome.kills, 1):
        shards = ",".join(str(s) for s in k.shards) or "-"
        lines.append(
            f"| {i} | {k.victim} | {k.at:.1f} | {k.failover_seconds} | {k.all_traffic_gap} | {shards} |"
        )
    for target in ("rabbit", "redis"):
        times = [
            k.failover_seconds for k in outcome.kills if k.target == target and k.failover_seconds is not None
        ]
        if times:
            lines.append(
                f"\n{target}: {len(times)} kills, failover median {statistics.median(times):.2f} s, "
                f"max {max(times):.2f} s"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.failover",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kills", type=int, default=5, help="kills of each target (default 5)")
    parser.add_argument(
        "--target", choices=["rabbit", "redis", "both"], default="both", help="what to kill (default both)"
    )
    parser.add_argument("--rate", type=float, default=40.0, help="submissions a second, Poisson (default 40)")
    parser.add_argument("--limit", type=float, default=LIMIT_SECONDS, help="longest failover allowed (8 s)")
    parser.add_argument(
        "--out", type=Path, help="report folder (default bench/reports/<date>-cluster-failover)"
    )
    options = parser.parse_args()
    out = options.out or ROOT / "bench" / "reports" / f"{dt.date.today():%Y-%m-%d}-cluster-failover"
    targets = ["rabbit", "redis"] if options.target == "both" else [options.target]
    (out / "logs").mkdir(parents=True, exist_ok=True)
    outcome = asyncio.run(
        run_failover(targets=targets, kills=options.kills, rate=options.rate, logs=out / "logs")
    )
    text = summary(outcome, options.limit)
    command = "python -m bench.failover " + shlex.join(sys.argv[1:])
    (out / "report.md").write_text(f"# Cluster failover\n\n`{command}`\n\n{text}\n")
    (out / "kills.json").write_bytes(
        orjson.dumps([asdict(k) for k in outcome.kills], option=orjson.OPT_INDENT_2)
    )
    print(text)
    sys.exit(0 if outcome.ok(options.limit) else 1)


if __name__ == "__main__":
    main()
