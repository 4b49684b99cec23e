"""``python -m bench.cluster_costs``: the CPU each role spends per ticket, on one Redis and RabbitMQ and on
the local cluster, with and without the replica WAIT before a 202, measured side by side in one run.

For each setup (``--setups``, run in turn, ``--rounds`` times alternating, so a noisy neighbour hits
all of them alike) it starts a front door, a worker process, the status API and a fast core simulator
on a new namespace with the throttle open, then:

1. **accept**: ``--submissions`` citizens' submissions from ``--concurrency`` clients without pause
   (closed loop), every kind; the accept latency of each; then waits until the workers have finished
   every ticket;
2. **read**: ``--reads`` status reads of those tickets from ``--concurrency`` clients.

CPU is read from the kernel (user + system time of each process and its children: every Redis and
RabbitMQ node of the setup, the door, the worker, the status API), so a busy machine slows the run but
barely moves the figures; the load generator and the core simulator are not counted. What each role
spends while idle (``--idle-seconds``, measured first: periodic reads, the controller, a cluster's
gossip) is reported apart and subtracted from each phase, pro rata of its length. Per ticket: the
door's and RabbitMQ's over the accept phase and drain, the worker's over the drain, Redis's split by
phase, the status API's and Redis's per read.

Setups: ``single`` (the Redis and RabbitMQ at REDIS_URL / AMQP_URL), ``cluster`` (the local cluster,
WAIT 1 before each 202, the default there), ``cluster-nowait`` (the same, no WAIT), ``cluster-1primary``
(the local RabbitMQ cluster with a Redis Cluster of one primary and its replica: what a second and third
primary add per ticket). Any of them with ``+q<N>`` appended (``cluster+q3``) spreads every kind over
N work queues (``QUEUE_SHARDS``): what a queue shard adds per ticket; and ``@<clients>``
(``cluster-1primary@21``) runs that setup with its own number of concurrent clients.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import citizen_tokens
from bench.chaos import accounting
from bench.chaos.supervisor import ROOT, Supervised, Supervisor
from bench.cluster_nodes import RABBIT_PORTS, REDIS_PORTS
from bench.harness.targets import Layout, admit_everything
from bench.local_cluster import LocalCluster, OnePrimaryRedisCluster
from bench.ports import free_port_block
from bench.purge import purge_namespace
from bench.readiness import wait_http
from bench.server_usage import cpu_seconds, listening_pids, redis_work
from bench.submissions import submission
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.stores.redis.client import connect

AUTH = {"Authorization": "Bearer bench-operator-token"}


@dataclass
class Measured:
    setup: str
    accepted: int = 0
    refused: int = 0
    accept_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    reads: int = 0
    read_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # role:phase -> CPU seconds, idle subtracted
    idle_per_second: dict[str, float] = field(default_factory=dict)  # role -> CPU seconds a second
    redis_accept: dict[str, float] = field(default_factory=dict)  # redis_work over the accept phase

    def per_ticket_ms(self, key: str) -> float:
        return 1000 * self.cpu.get(key, 0.0) / max(1, self.accepted)

    def per_read_ms(self, key: str) -> float:
        return 1000 * self.cpu.get(key, 0.0) / max(1, self.reads)


async def _closed_loop(concurrency: int, total: int, send: object) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    codes: list[int] = []
    counter = iter(range(total))

    async def client() -> None:
        for n in counter:
            started = time.perf_counter()
            code = await send(n)  # type: ignore[operator]
            latencies.append(time.perf_counter() - started)
            codes.append(code)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, codes


async def measure(name: str, options: argparse.Namespace, logs: Path) -> Measured:
    cluster = LocalCluster()
    extra = {"LOG_LEVEL": "warning", "OPERATOR_TOKEN": AUTH["Authorization"].split()[1]}
    name_and_shards, _, clients = name.partition("@")
    concurrency = int(clients) if clients else options.concurrency
    setup, _, shards = name_and_shards.partition("+q")
    if shards:
        extra["QUEUE_SHARDS"] = shards
    if setup == "cluster-1primary":
        small = OnePrimaryRedisCluster()
        extra |= {"AMQP_URL": cluster.amqp_url, "REDIS_URL": small.redis_url, "REDIS_WAIT_REPLICAS": "1"}
        redis_ports, rabbit_ports = {small.primary.port, small.replica.port}, set(RABBIT_PORTS)
    elif setup.startswith("cluster"):
        extra |= {"AMQP_URL": cluster.amqp_url, "REDIS_URL": cluster.redis_url}
        extra["REDIS_WAIT_REPLICAS"] = "0" if setup == "cluster-nowait" else "1"
        redis_ports, rabbit_ports = set(REDIS_PORTS), set(RABBIT_PORTS)
    else:
        settings = Settings.from_env()
        redis_ports = {int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])}
        rabbit_ports = {int(settings.amqp_url.rsplit(":", 1)[1].split("/")[0])}
    layout = Layout(
        namespace=f"tgcost-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(Layout.PORTS),
        core_slots=512,
        core_service_ms=2,
        extra_env=extra,
    )
    env = layout.env()
    door = Supervised("front door", "frontdoor", env, logs)
    worker = Supervised("worker", "workers", env, logs)
    status = Supervised("status API", "status_api", env, logs)
    supervisor = Supervisor(
        [
            Supervised("core simulator", "bench.coresim", env, logs),
            Supervised("identity provider", "bench.idp", env, logs),
            door,
            worker,
            status,
        ]
    )
    result = Measured(name)
    try:
        supervisor.start()
        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as http:
            for url in (
                layout.core_url + "/v1/ledger",
                layout.idp_url + "/healthz",
                layout.front_url + "/readyz",
                layout.status_url + "/readyz",
            ):
                await wait_http(http, url, timeout=90)
            tokens = await citizen_tokens.mint_pool(http, layout.idp_url)
            await admit_everything(http, layout.front_url, settle=2.0)
            assert door.proc and worker.proc and status.proc
            roles = {
                "door": {door.proc.pid},
                "worker": {worker.proc.pid},
                "status": {status.proc.pid},
                "redis": listening_pids(redis_ports),
                "rabbitmq": listening_pids(rabbit_ports),
            }
            tickets: list[str] = []
            seed = 1  # a new namespace each round: the same citizens again are new submissions

            async def submit(n: int) -> int:
                body = submission(seed + n)
                auth = citizen_tokens.header(tokens, body["citizen_id"])
                async with http.post(layout.front_url + "/v1/submissions", json=body, headers=auth) as r:
                    doc = await r.json(content_type=None)
                    if r.status == 202:
                        tickets.append(doc["ticket_id"])
                    return r.status

            # What the setup spends doing nothing (periodic reads, the controller, the cluster's own
            # gossip): subtracted from each phase, so that the figures are per ticket, not per second.
            idle_from = {role: cpu_seconds(pids) for role, pids in roles.items()}
            await asyncio.sleep(options.idle_seconds)
            idle = {
                role: (cpu_seconds(pids) - idle_from[role]) / options.idle_seconds
                for role, pids in roles.items()
            }
            result.idle_per_second = idle
            work_before = redis_work(redis_ports)
            before = {role: cpu_seconds(pids) for role, pids in roles.items()}
            started = started_accept = time.monotonic()
            latencies, codes = await _closed_loop(concurrency, options.submissions, submit)
            result.accept_seconds = time.monotonic() - started
            accepted_cpu = {role: cpu_seconds(pids) for role, pids in roles.items()}
            work_after = redis_work(redis_ports)
            result.redis_accept = {k: work_after[k] - work_before.get(k, 0.0) for k in work_after}
            accepted_at = time.monotonic()
            result.accepted, result.latencies = len(tickets), latencies
            result.refused = sum(1 for c in codes if c != 202)
            # Drain: every ticket done or failed, as its record says
            redis = connect(Settings.from_env(env))
            try:
                await accounting.wait_for_drain(redis, Names(layout.namespace), tickets, 300, progress=False)
            finally:
                await redis.aclose()
            await asyncio.sleep(1.0)
            drained_cpu = {role: cpu_seconds(pids) for role, pids in roles.items()}
            drained_at = time.monotonic()

            async def read(n: int) -> int:
                async with http.get(f"{layout.status_url}/v1/tickets/{tickets[n % len(tickets)]}") as r:
                    await r.read()
                    return r.status

            started = time.monotonic()
            _, read_codes = await _closed_loop(concurrency, options.reads, read)
            result.read_seconds = time.monotonic() - started
            result.reads = sum(1 for c in read_codes if c == 200)
            read_cpu = {role: cpu_seconds(pids) for role, pids in roles.items()}
            read_at = time.monotonic()
        spans = {
            "accept": accepted_at - started_accept,
            "drain": drained_at - accepted_at,
            "read": read_at - drained_at,
        }
        marks = {
            "accept": (before, accepted_cpu),
            "drain": (accepted_cpu, drained_cpu),
            "read": (drained_cpu, read_cpu),
        }
        for role in roles:
            for phase, (start, end) in marks.items():
                spent = end[role] - start[role] - idle[role] * spans[phase]
                result.cpu[f"{role}:{phase}"] = max(0.0, spent)
        return result
    finally:
        await supervisor.stop()
        await _purge(layout.namespace, env)


async def _purge(namespace: str, env: dict[str, str]) -> None:
    """Delete the round's queues and keys: a namespace declares some 60 quorum queues, and a broker
    left with a few hundred of them runs out of file handles (RabbitMQ's default budget under ``ulimit
    -n 1024``) and then stops accepting connections."""
    settings = Settings.from_env(env).replace(namespace=namespace)
    redis = connect(settings)
    try:
        await purge_namespace(settings, redis)
    finally:
        await redis.aclose()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def figures(r: Measured) -> dict[str, float]:
    """One round's figures: rates, accept latency, CPU ms per ticket or per read by role."""
    return {
        "accepted/s": r.accepted / r.accept_seconds,
        "p50": 1000 * _pct(r.latencies, 0.5),
        "p99": 1000 * _pct(r.latencies, 0.99),
        "door": r.per_ticket_ms("door:accept") + r.per_ticket_ms("door:drain"),
        "rabbitmq": r.per_ticket_ms("rabbitmq:accept") + r.per_ticket_ms("rabbitmq:drain"),
        "redis accept": r.per_ticket_ms("redis:accept"),
        "redis drain": r.per_ticket_ms("redis:drain"),
        "worker": r.per_ticket_ms("worker:accept") + r.per_ticket_ms("worker:drain"),
        "status read": r.per_read_ms("status:read"),
        "redis read": r.per_read_ms("redis:read"),
        "reads/s": r.reads / r.read_seconds,
    }


def report(results: list[Measured], command: str) -> str:
    setups = list(dict.fromkeys(r.setup for r in results))
    lines = [
        "# CPU per ticket by role",
        "",
        f"`{command}`",
        "",
        "Medians over the rounds; ms of CPU (user + system) per accepted ticket, or per status read.",
        "",
        "| setup | accepted/s | accept p50 / p99 (ms) | door | RabbitMQ | Redis (accept + drain) | worker "
        "| status read | Redis per read | reads/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for setup in setups:
        rounds = [figures(r) for r in results if r.setup == setup]
        m = {key: statistics.median(f[key] for f in rounds) for key in rounds[0]}
        lines.append(
            f"| {setup} | {m['accepted/s']:,.0f} | {m['p50']:.1f} / {m['p99']:.1f} | {m['door']:.3f} "
            f"| {m['rabbitmq']:.3f} | {m['redis accept']:.3f} + {m['redis drain']:.3f} | {m['worker']:.3f} "
            f"| {m['status read']:.3f} | {m['redis read']:.3f} | {m['reads/s']:,.0f} |"
        )
    lines += [
        "",
        "Redis during the accept phase (the workers' calls included), per accepted ticket, medians: "
        "commands, microseconds inside commands, read and write events (about one syscall each), on "
        "the primaries and on the replicas. Redis's CPU per ticket less its time in commands is I/O and "
        "event-loop work, what a node touched by a turn costs whatever the turn carries.",
        "",
        "| setup | primary: commands / µs in them / reads / writes | replica: commands / µs / reads / writes "
        "| Redis CPU outside commands (µs) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for setup in setups:
        measured = [r for r in results if r.setup == setup]

        def per(key: str, measured: list[Measured] = measured) -> float:
            return statistics.median(r.redis_accept.get(key, 0.0) / max(1, r.accepted) for r in measured)

        outside = statistics.median(
            1e6 * r.cpu.get("redis:accept", 0.0) / max(1, r.accepted)
            - (r.redis_accept.get("primary usec", 0.0) + r.redis_accept.get("replica usec", 0.0))
            / max(1, r.accepted)
            for r in measured
        )
        cells = [
            " / ".join(f"{per(f'{role} {k}'):.2f}" for k in ("calls", "usec", "reads", "writes"))
            for role in ("primary", "replica")
        ]
        lines.append(f"| {setup} | {cells[0]} | {cells[1]} | {outside:.0f} |")
    lines += ["", "CPU a second while idle (medians, subtracted above):", ""]
    for setup in setups:
        idle = [r.idle_per_second for r in results if r.setup == setup]
        lines.append(
            f"- {setup}: "
            + ", ".join(f"{role} {statistics.median(i[role] for i in idle):.3f}" for role in idle[0])
        )
    lines += ["", "Each round:", ""]
    for r in results:
        lines.append(
            f"- {r.setup}: {r.accepted} accepted ({r.refused} refused) in {r.accept_seconds:.1f} s, "
            f"{r.reads} reads in {r.read_seconds:.1f} s; CPU s: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.cpu.items()))
        )
    return "\n".join(lines) + "\n"


async def run(options: argparse.Namespace) -> list[Measured]:
    logs = options.out / "logs"
    cluster = LocalCluster()
    setups = options.setups.split(",")
    started_here = any(s.startswith("cluster") for s in setups) and not all(
        n.running for n in cluster.rabbits + cluster.redises
    )
    if started_here:
        await asyncio.to_thread(cluster.up)
    small = OnePrimaryRedisCluster() if any(s.startswith("cluster-1primary") for s in setups) else None
    if small is not None:
        await asyncio.to_thread(small.up)
    results = []
    try:
        for round_ in range(options.rounds):
            for setup in setups:
                print(f"[costs] round {round_ + 1}: {setup}", flush=True)
                results.append(await measure(setup, options, logs))
    finally:
        if small is not None:
            await asyncio.to_thread(small.down)
        if started_here:
            await asyncio.to_thread(cluster.down)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster_costs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--setups",
        default="single,cluster,cluster-nowait,cluster-1primary",
        help="comma-separated (see above)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every setup, alternating (default 3)"
    )
    parser.add_argument("--submissions", type=int, default=6000, help="submissions a round (default 6000)")
    parser.add_argument("--reads", type=int, default=10000, help="status reads a round (default 10000)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument(
        "--idle-seconds", type=float, default=5.0, help="idle CPU measured first, subtracted (default 5)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "reports" / "cluster-costs")
    options = parser.parse_args()
    (options.out / "logs").mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run(options))
    text = report(results, "python -m bench.cluster_costs " + shlex.join(sys.argv[1:]))
    (options.out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
