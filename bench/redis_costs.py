"""``python -m bench.redis_costs``: Redis's CPU per ticket with one primary and with three, at equal load
per primary, driven through the store layer the front door and the workers use.

``bench.cluster_costs`` runs the whole system, so its load is what one front door on this 2-core machine
can carry (about 500 tickets a second): three primaries then share the load one primary carries, each
sees a third of every turn's calls, and the cost of a node's wake-up (a read, a reply, a replication
write) is spread over a third as many tickets. A deployment adds a primary when the ones it has are busy.
This bench compares like with like: the Redis work of a ticket (the door's limiter charge, reservation and
commit with ``WAIT 1``, the worker's begin and finish) without HTTP and RabbitMQ, cheap enough to drive
three primaries at three times the load of one, from the same processes with three times the clients.

Setups (``--setups``): ``1primary@<clients>`` (a Redis Cluster of one primary and its replica) and
``3primaries@<clients>`` (the local cluster's three primaries and their replicas), either with
``/<tickets a second>`` appended to pace the clients (``1primary@32/600``: equal load per primary with
``3primaries@96/1800``). Per setup it drives
``--tickets`` tickets from ``--processes`` processes, alternating setups over ``--rounds``, and reports
Redis's CPU per ticket (primaries and replicas, user + system, idle subtracted), tickets a second, and
the commands and read/write events per ticket that explain the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos.supervisor import ROOT
from bench.cluster_nodes import REDIS_PORTS
from bench.local_cluster import LocalCluster, OnePrimaryRedisCluster
from bench.purge import purge_namespace
from bench.server_usage import cpu_seconds, listening_pids, redis_work
from queue_config.key_shards import shard_of_scope
from queue_config.kinds import KINDS
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.stores.limiter import Limit
from queue_config.stores.redis.client import connect
from queue_config.stores.tickets import NewTicket

IDLE_SECONDS = 3.0


def _settings(url: str, namespace: str) -> Settings:
    return Settings.from_env(
        {
            **os.environ,
            "REDIS_URL": url,
            "NAMESPACE": namespace,
            "REDIS_WAIT_REPLICAS": "1",
            "TICKET_SECRET": "bench-redis-costs",
        }
    )


async def _drive(url: str, namespace: str, clients: int, tickets: int, seed: int, rate: float | None) -> int:
    """One process's share: ``tickets`` tickets through the door's and the worker's store calls, from
    ``clients`` concurrent loops, each ticket started at its turn of ``rate`` a second (or at once).
    Returns the tickets reserved."""
    settings = _settings(url, namespace)
    door = Stores.open(settings, coalesce=True)  # a front door's stores: calls share a turn's pipeline
    worker = Stores.open(settings)
    ids = await door.ticket_ids(settings)
    names = door.names
    rng = random.Random(seed)
    counter = iter(range(tickets))
    done = 0
    began = time.monotonic()

    async def client() -> None:
        nonlocal done
        for n in counter:
            if rate and (ahead := began + n / rate - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
            kind = KINDS[n % len(KINDS)]
            scope = ids.scope(f"citizen:{seed}-{n}")
            address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            # The limits the admission gate charges: the citizen's, the address's, the kind's rate.
            verdict = await door.limiter.acquire(
                [
                    Limit.per_minute(names.citizen_limit(scope), 500),
                    Limit.per_minute(names.rate_limit("ip:" + address), 6000),
                    Limit.per_second(names.admission_limit(kind), 1e6, 1.0),
                ]
            )
            assert verdict.allowed, verdict
            # With its place in line as the door estimates it from counters it reads twice a second.
            new = NewTicket(
                ids.mint(shard_of_scope(scope)), kind, scope, uuid.uuid4().hex, None, "110***", place=n + 1
            )
            _, ticket_id, _ = await door.tickets.reserve(new)
            await door.tickets.commit(ticket_id, kind, time.time() + 60, promise_model=30.0)
            await worker.tickets.begin_attempt(
                ticket_id, kind=kind, created_at=time.time(), masked_client="110***"
            )
            await worker.tickets.finish(ticket_id, kind, result={"receipt_id": ticket_id[:8]})
            done += 1

    try:
        await asyncio.gather(*(client() for _ in range(clients)))
    finally:
        await door.close()
        await worker.close()
    return done


def _process(url: str, namespace: str, clients: int, tickets: int, seed: int, rate: float | None) -> int:
    import uvloop

    return uvloop.run(_drive(url, namespace, clients, tickets, seed, rate))


@dataclass
class Round:
    setup: str
    tickets: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # Redis CPU seconds over the run, idle subtracted
    work: dict[str, float] = field(default_factory=dict)

    def per_ticket(self, value: float) -> float:
        return value / max(1, self.tickets)


def _setup(name: str) -> tuple[str, int, float | None]:
    """``<nodes>@<clients>`` or ``<nodes>@<clients>/<tickets a second>``."""
    nodes, _, rest = name.partition("@")
    clients, _, rate = rest.partition("/")
    if nodes not in ("1primary", "3primaries") or not clients.isdigit() or (rate and not rate.isdigit()):
        raise SystemExit(
            f"unknown setup {name!r}: 1primary@<clients>[/<rate>] or 3primaries@<clients>[/<rate>]"
        )
    return nodes, int(clients), float(rate) if rate else None


async def measure(name: str, options: argparse.Namespace) -> Round:
    nodes, clients, rate = _setup(name)
    if nodes == "1primary":
        small = OnePrimaryRedisCluster()
        url, ports = small.redis_url, {small.primary.port, small.replica.port}
    else:
        url, ports = LocalCluster().redis_url, set(REDIS_PORTS)
    pids = listening_pids(ports)
    namespace = f"tgrc-{uuid.uuid4().hex[:8]}"
    result = Round(name)
    idle_from = cpu_seconds(pids)
    await asyncio.sleep(IDLE_SECONDS)
    idle = (cpu_seconds(pids) - idle_from) / IDLE_SECONDS
    work_before, cpu_before = redis_work(ports), cpu_seconds(pids)
    started = time.monotonic()
    share = options.tickets // options.processes
    per_process = max(1, clients // options.processes)
    context = multiprocessing.get_context("spawn")
    with context.Pool(options.processes) as pool:
        counts = await asyncio.to_thread(
            pool.starmap,
            _process,
            [
                (url, namespace, per_process, share, seed, rate / options.processes if rate else None)
                for seed in range(options.processes)
            ],
        )
    result.seconds = time.monotonic() - started
    result.tickets = sum(counts)
    result.cpu = max(0.0, cpu_seconds(pids) - cpu_before - idle * result.seconds)
    after = redis_work(ports)
    result.work = {k: after[k] - work_before.get(k, 0.0) for k in after}
    settings = _settings(url, namespace)
    redis = connect(settings)
    try:
        await purge_namespace(settings, redis)
    finally:
        await redis.aclose()
    return result


def report(rounds: list[Round], command: str) -> str:
    setups = list(dict.fromkeys(r.setup for r in rounds))
    lines = [
        "# Redis CPU per ticket: one primary against three, through the store layer",
        "",
        f"`{command}`",
        "",
        "Medians over the rounds. A ticket is the door's limiter charge (citizen, address, kind), its "
        "reservation and its commit (with `WAIT 1`), and the worker's begin and finish. CPU is every Redis "
        "node of the setup, primaries and replicas, user + system, idle subtracted. Commands count those "
        "run inside scripts too; events are Redis's read and write events (about one syscall each).",
        "",
        "| setup | tickets/s | Redis CPU per ticket (µs) | commands per ticket (primaries) "
        "| reads / writes per ticket (primaries) | reads per ticket (replicas) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for setup in setups:
        mine = [r for r in rounds if r.setup == setup]

        def med(value: Callable[[Round], float], mine: list[Round] = mine) -> float:
            return statistics.median(value(r) for r in mine)

        lines.append(
            f"| {setup} | {med(lambda r: r.tickets / r.seconds):,.0f} "
            f"| {med(lambda r: 1e6 * r.per_ticket(r.cpu)):.0f} "
            f"| {med(lambda r: r.per_ticket(r.work.get('primary calls', 0))):.1f} "
            f"| {med(lambda r: r.per_ticket(r.work.get('primary reads', 0))):.2f} / "
            f"{med(lambda r: r.per_ticket(r.work.get('primary writes', 0))):.2f} "
            f"| {med(lambda r: r.per_ticket(r.work.get('replica reads', 0))):.2f} |"
        )
    lines += ["", "Each round (and the commands the primaries ran, per ticket):", ""]
    for r in rounds:
        commands = sorted(
            (
                (r.per_ticket(v), k.removeprefix("primary "))
                for k, v in r.work.items()
                if k.startswith("primary ") and k.split()[1] not in ("calls", "usec", "reads", "writes")
            ),
            reverse=True,
        )
        lines.append(
            f"- {r.setup}: {r.tickets} tickets in {r.seconds:.1f} s, Redis CPU {r.cpu:.2f} s "
            f"({1e6 * r.per_ticket(r.cpu):.0f} µs a ticket); "
            + ", ".join(f"{name} {count:.2f}" for count, name in commands if count >= 0.05)
        )
    return "\n".join(lines) + "\n"


async def run(options: argparse.Namespace) -> list[Round]:
    setups = options.setups.split(",")
    for name in setups:
        _setup(name)
    cluster = LocalCluster()
    small = OnePrimaryRedisCluster()
    started_cluster = any(s.startswith("3") for s in setups) and not all(n.running for n in cluster.redises)
    if started_cluster:
        await asyncio.to_thread(cluster.up_redis)
    if any(s.startswith("1") for s in setups):
        await asyncio.to_thread(small.up)
    rounds = []
    try:
        for number in range(options.rounds):
            for name in setups:
                print(f"[redis-costs] round {number + 1}: {name}", flush=True)
                rounds.append(await measure(name, options))
    finally:
        await asyncio.to_thread(small.down)
        if started_cluster:
            await asyncio.to_thread(cluster.down)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.redis_costs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--setups",
        default="1primary@32/600,3primaries@96/1800,1primary@32/1800",
        help="comma-separated setups, <nodes>@<concurrent clients>",
    )
    parser.add_argument("--tickets", type=int, default=20000, help="tickets a setup a round")
    parser.add_argument("--processes", type=int, default=2, help="driving processes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, setups alternated in each")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "reports" / "redis-costs")
    options = parser.parse_args()
    rounds = asyncio.run(run(options))
    command = "python -m bench.redis_costs " + " ".join(sys.argv[1:])
    text = report(rounds, command)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "redis-costs.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
