"""``python -m bench``: the peak-day benchmark, ticketgate side by side with what portals run today.

Two parts, in one run, against the same core simulator and the same load generator (locust):

1. **Scenario**: a load shape (``--shape``: ``step`` overload at 1x, 2x, 5x, 10x capacity, a compressed
   ``working_day``, a ``policy_day`` surge) of citizens who submit and poll as the server hints, played
   against ticketgate (with status readers, a script attacker and an enterprise posting batches) and
   against each baseline (citizens and the attacker). ticketgate's run ends with the accounting: every
   ticket a 202 gave out is looked up in the ticket store and the simulator's ledger.
2. **Intake throughput** (unless ``--skip-throughput``): ``--connections`` clients submitting without
   pause for ``--throughput-seconds`` against every target, the bare aiohttp handler (HTTP ceiling) and
   RabbitMQ's own intake (broker ceiling); ticketgate's throttle is opened so that it accepts all.

Baselines (``--targets``): ``naive`` (aiohttp calling the core inline), ``celery`` (FastAPI + Celery on
the same RabbitMQ and Redis), ``asyncio`` (aiohttp writing to Redis and publishing with one confirm per
request). The report (Markdown and PNG plots) goes to ``--out``; the raw locust CSVs go beside it.
``--smoke`` is the seconds-long run CI does: ticketgate only, no throughput part, and a non-zero exit
when the accounting finds a ticket lost or applied twice.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shlex
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp
from redis.asyncio import Redis

from bench import broker_ceiling
from bench.harness import accounting, paced, profile, report, targets, wrk
from bench.harness.load import LoadResult, LoadSpec, run_locust, ticket_ids
from bench.harness.report import PacedRun, ScenarioRun, ThroughputRun
from bench.harness.sampler import Sampler
from queue_config.names import Names
from queue_config.settings import Settings

BASELINES = {"naive": targets.NAIVE, "celery": targets.CELERY, "asyncio": targets.ASYNCIO}
T = TypeVar("T")
AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--shape", choices=("step", "working_day", "policy_day"), default="step")
    p.add_argument("--duration", type=float, default=120, help="seconds the scenario's shape lasts")
    p.add_argument(
        "--targets", default="naive,celery,asyncio", help="baselines besides ticketgate ('' for none)"
    )
    p.add_argument("--core-slots", type=int, default=8)
    p.add_argument("--core-service-ms", type=float, default=800)
    p.add_argument("--surge", type=float, default=20, help="policy day: times capacity at the top")
    p.add_argument("--time-scale", type=float, default=1.0, help="scales poll hints and Retry-After")
    p.add_argument("--front-processes", type=int, default=1, help="HTTP server processes of every target")
    p.add_argument("--worker-processes", type=int, default=1)
    p.add_argument("--generator-processes", type=int, default=1, help="locust worker processes")
    p.add_argument("--max-wait", type=float, default=60, help="ticketgate's promised wait (s)")
    p.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for every ticket")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-scenario", action="store_true", help="only the intake-throughput part")
    p.add_argument("--no-ceilings", action="store_true", help="throughput part without the two ceilings")
    p.add_argument(
        "--profile", action="store_true", help="py-spy on a ticketgate front door during its throughput run"
    )
    p.add_argument("--connections", type=int, default=1000, help="clients in the throughput part")
    p.add_argument(
        "--generator",
        choices=("auto", "wrk", "locust"),
        default="auto",
        help="load generator of the throughput part (auto: wrk when installed, else locust)",
    )
    p.add_argument("--throughput-seconds", type=float, default=30)
    p.add_argument(
        "--paced-rate",
        type=float,
        default=500,
        help="before the throughput run, submissions a second spread over --connections paced clients, "
        "for accept latency at a fixed load (0: skip)",
    )
    p.add_argument("--paced-processes", type=int, default=2, help="processes of the paced generator")
    p.add_argument("--port-base", type=int, default=18500)
    p.add_argument("--out", type=Path, help="report directory (default bench/reports/<date>-<shape>)")
    p.add_argument("--smoke", action="store_true", help="seconds-long CI check of the harness itself")
    p.add_argument("--no-progress", action="store_true")
    return p


def _layout(args: argparse.Namespace, offset: int) -> targets.Layout:
    return targets.Layout(
        namespace=f"bench-{uuid.uuid4().hex[:8]}",
        port_base=args.port_base + 10 * offset,
        core_slots=args.core_slots,
        core_service_ms=args.core_service_ms,
        front_processes=args.front_processes,
        worker_processes=args.worker_processes,
        # Bulk windows are compressed like the day, so that booked items run within the drain.
        extra_env={
            "BULK_WINDOW_SECONDS": str(max(5, round(300 * args.time_scale))),
            # What ticketgate promises an admitted citizen, and so how much backlog it takes in.
            "MAX_WAIT_SECONDS": str(args.max_wait),
        },
    )


async def _enterprise_key(http: aiohttp.ClientSession, front: str) -> str:
    async with http.post(
        front + "/v1/admin/enterprises",
        json={"name": "bench payroll", "quota_per_minute": 100_000},
        headers=AUTH,
    ) as response:
        response.raise_for_status()
        return str((await response.json())["api_key"])


async def _scenario(
    args: argparse.Namespace, name: str, offset: int, http: aiohttp.ClientSession, out: Path
) -> ScenarioRun:
    layout = _layout(args, offset)
    running = await targets.start(name, layout, http)
    settings = Settings.from_env(layout.env())
    redis = Redis.from_url(settings.redis_url)
    try:
        env = layout.env()
        classes: tuple[str, ...] = ("Citizen", "ScriptAttacker")
        if name == targets.TICKETGATE:
            classes = ("Citizen", "StatusReader", "ScriptAttacker", "Enterprise")
            env["BENCH_ENTERPRISE_KEY"] = await _enterprise_key(http, layout.front_url)
            env["BENCH_STATUS_URL"] = layout.status_url
        capacity = args.core_slots / (args.core_service_ms / 1000)
        spec = LoadSpec(
            shape=args.shape,
            duration=args.duration,
            capacity=capacity,
            users=0,
            user_classes=classes,
            processes=args.generator_processes,
            time_scale=args.time_scale,
            surge=args.surge,
        )
        load, sampler = await _measured(args, spec, running, _label(name), env, http, out)
        run = ScenarioRun(name, load, sampler.samples, sampler.cpu_seconds)
        if name == targets.TICKETGATE:
            ids = ticket_ids(out / "raw", _label(name))
            run.accounting = await accounting.account(
                redis, Names(layout.namespace), http, layout.core_url, ids, args.drain_timeout
            )
        else:
            await asyncio.sleep(min(30.0, args.drain_timeout))  # let the baselines' queues drain a little
        run.ledger = await accounting.ledger_totals(http, layout.core_url)
        return run
    finally:
        await running.stop()
        await redis.aclose()


async def _throughput(
    args: argparse.Namespace, name: str, offset: int, http: aiohttp.ClientSession, out: Path
) -> tuple[ThroughputRun, PacedRun | None]:
    layout = _layout(args, offset)
    running = await targets.start(name, layout, http)
    try:
        if name == targets.TICKETGATE:
            # Intake speed is what is measured here, not admission: every kind open wide.
            wide = {"mode": "manual", "rates": {"pension": 1e6, "transfer": 1e6, "payment": 1e6}}
            async with http.put(layout.front_url + "/v1/admin/throttle", json=wide, headers=AUTH) as response:
                response.raise_for_status()
            await asyncio.sleep(1.5)
        # The fixed rate first, on a fresh system: after the throughput run the broker holds tens of
        # thousands of messages and the servers' heaps have grown, which is not the state it measures.
        at_rate = await _paced(args, running, http) if args.paced_rate > 0 else None
        if at_rate is not None:
            await asyncio.sleep(3.0)  # its connections closed
        spying = None
        if args.profile and name == targets.TICKETGATE:
            door = running.processes["front door"][0].pid
            spying = asyncio.create_task(
                _spy(door, args.throughput_seconds, out / "raw" / "door-profile.txt")
            )
        if _use_wrk(args):
            result = await _wrk(args, running, http)
        else:
            result = await _locust_throughput(args, name, running, http, out)
        if spying is not None:
            await spying
        return result, at_rate
    finally:
        await running.stop()


async def _paced(args: argparse.Namespace, running: targets.Running, http: aiohttp.ClientSession) -> PacedRun:
    result, sampler = await _watched(
        running,
        http,
        lambda started: paced.run(
            running.layout.front_url,
            connections=args.connections,
            rate=args.paced_rate,
            seconds=args.throughput_seconds,
            processes=args.paced_processes,
            on_started=started,
        ),
    )
    machine = max(1e-9, result.seconds * (os.cpu_count() or 1))
    return PacedRun(
        target=running.name,
        connections=args.connections,
        rate=args.paced_rate,
        seconds=result.seconds,
        accepted=result.accepted,
        other=result.sent - result.accepted,
        p50=result.p50_ms,
        p95=result.p95_ms,
        p99=result.p99_ms,
        generator_cpu=sampler.cpu_seconds.get("load generator", 0.0) / machine,
    )


async def _every_connection(
    args: argparse.Namespace,
    running: targets.Running,
    http: aiohttp.ClientSession,
    out: Path,
    user_class: str,
    label: str,
) -> tuple[LoadResult, Sampler]:
    """``--connections`` locust users of ``user_class`` for ``--throughput-seconds``."""
    spec = LoadSpec(
        shape="constant",
        duration=args.throughput_seconds,
        capacity=1,
        users=args.connections,
        user_classes=(user_class,),
        processes=args.generator_processes,
        spawn_rate=max(100.0, args.connections / 2),
    )
    return await _measured(args, spec, running, label, running.layout.env(), http, out)


def _answers(load: LoadResult) -> tuple[int, int]:
    """Submissions answered 2xx, and the rest."""
    accepted = load.count("outcome", "accepted") + load.count("outcome", "repeat")
    return accepted, sum(load.count("outcome", o) for o in report.OUTCOMES) - accepted


def _use_wrk(args: argparse.Namespace) -> bool:
    return args.generator == "wrk" or (args.generator == "auto" and wrk.available())


async def _wrk(
    args: argparse.Namespace, running: targets.Running, http: aiohttp.ClientSession
) -> ThroughputRun:
    result, sampler = await _watched(
        running,
        http,
        lambda started: wrk.run(running.layout.front_url, args.connections, args.throughput_seconds, started),
    )
    return ThroughputRun(
        target=running.name,
        connections=args.connections,
        seconds=result.seconds,
        accepted=result.requests - result.refused,
        other=result.refused,
        p50=result.p50_ms,
        p99=result.p99_ms,
        cpu_seconds=sampler.cpu_seconds,
    )


async def _locust_throughput(
    args: argparse.Namespace, name: str, running: targets.Running, http: aiohttp.ClientSession, out: Path
) -> ThroughputRun:
    load, sampler = await _every_connection(
        args, running, http, out, "Submitter", "throughput-" + _label(name)
    )
    submit = load.total("POST", "submit")
    accepted, other = _answers(load)
    return ThroughputRun(
        target=name,
        connections=args.connections,
        seconds=args.throughput_seconds,
        accepted=accepted,
        other=other,
        p50=submit.p50 if submit else float("nan"),
        p99=submit.p99 if submit else float("nan"),
        cpu_seconds=sampler.cpu_seconds,
    )


async def _measured(
    args: argparse.Namespace,
    spec: LoadSpec,
    running: targets.Running,
    label: str,
    env: dict[str, str],
    http: aiohttp.ClientSession,
    out: Path,
) -> tuple[LoadResult, Sampler]:
    """A locust run with the sampler watching."""
    return await _watched(
        running,
        http,
        lambda started: run_locust(
            spec,
            host=running.layout.front_url,
            out_dir=out / "raw",
            label=label,
            env=env,
            on_started=started,
            progress=not args.no_progress,
        ),
    )


async def _watched(
    running: targets.Running,
    http: aiohttp.ClientSession,
    generate: Callable[[Callable[[int], None]], Awaitable[T]],
) -> tuple[T, Sampler]:
    """Runs a load generator (given a callback for its PID) while the sampler watches the servers and
    the generator's own CPU."""
    layout = running.layout
    amqp_url = Settings.from_env(layout.env()).amqp_url
    sampler = Sampler(layout.core_url, amqp_url, running.queues, running.server_pids)
    await sampler.start(http)

    def started(pid: int) -> None:
        sampler.generator_pid = pid

    try:
        result = await generate(started)
    finally:
        await sampler.stop()
    return result, sampler


async def _spy(pid: int, seconds: float, path: Path) -> None:
    """Samples the middle of the run: after the users have arrived, before they stop."""
    await asyncio.sleep(min(5.0, seconds / 4))
    await profile.record(pid, max(1.0, seconds - 2 * min(5.0, seconds / 4)), path)


def _label(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


async def run(args: argparse.Namespace) -> int:
    if args.smoke:
        args.targets, args.skip_throughput = "", True
    names = [targets.TICKETGATE] + [BASELINES[t] for t in args.targets.split(",") if t]
    out: Path = args.out or targets.ROOT / "bench" / "reports" / f"{dt.date.today():%Y-%m-%d}-{args.shape}"
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    cores = os.cpu_count() or 1
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        scenarios = (
            []
            if args.skip_scenario
            else [await _scenario(args, n, i, http, out) for i, n in enumerate(names)]
        )
        throughput: list[ThroughputRun] = []
        paced_runs: list[PacedRun] = []
        ceiling = None
        if not args.skip_throughput:
            measured = names if args.no_ceilings else [*names, targets.BARE_HTTP]
            for i, name in enumerate(measured):
                result, at_rate = await _throughput(args, name, len(names) + i, http, out)
                throughput.append(result)
                if at_rate is not None:
                    paced_runs.append(at_rate)
            if not args.no_ceilings:
                settings = Settings.from_env()
                ceiling = (await broker_ceiling.measure(settings.amqp_url, 20_000, 1, 500))["per_second"]
    ours = scenarios[0] if scenarios else None
    sections = [
        f"# Peak-day benchmark: {args.shape}, {dt.date.today():%Y-%m-%d}",
        "",
        "Command:",
        "",
        "```sh",
        "python -m bench " + shlex.join(sys.argv[1:]),
        "```",
        "",
        f"Machine: {cores} cores; core simulator {args.core_slots} slots × {args.core_service_ms:.0f} ms "
        f"(capacity {args.core_slots / (args.core_service_ms / 1000):.0f} submissions/s); "
        f"{args.front_processes} HTTP server process(es) per target, "
        f"{args.worker_processes} worker process(es), {args.generator_processes} locust process(es).",
        "",
    ]
    if scenarios:
        sections += [
            f"## Scenario `{args.shape}` ({args.duration:.0f} s), side by side",
            "",
            "Citizens arrive open-loop, one a second per locust user, whether or not earlier ones were "
            "answered; a shed citizen retries once after its Retry-After; a citizen gives up after 30 s "
            "(no answer). A 2xx is a queued ticket, except for the naive portal, where it is the finished "
            "effect. Latency percentiles are locust's, over every submission of the run.",
            "",
            *report.scenario_tables(scenarios, args.duration, cores),
            "",
        ]
    if len(scenarios) > 1:
        for title, file in report.plot_comparison(scenarios, out / "plots"):
            sections += [f"![{title}](plots/{file})", ""]
    if ours is not None and ours.accounting is not None:
        sections += ["## Accounting (ticketgate)", "", *report.accounting_table(ours.accounting), ""]
    for run in scenarios:
        sections += [f"## {run.target}", ""]
        for title, file in report.plot_scenario(run, out / "plots", _label(run.target)):
            sections += [f"![{title}](plots/{file})", ""]
    if throughput:
        sections += [
            f"## Intake throughput: {args.connections:,} clients without pause, "
            f"{args.throughput_seconds:.0f} s each, load from {'wrk' if _use_wrk(args) else 'locust'}",
            "",
            *report.throughput_table(throughput, ceiling, cores),
            "",
        ]
    if paced_runs:
        sections += [
            f"## Accept latency at {args.paced_rate:,.0f} submissions/s "
            f"over {args.connections:,} connections",
            "",
            f"Submissions arrive as a Poisson stream at {args.paced_rate:,.0f}/s for "
            f"{args.throughput_seconds:.0f} s, each on the next of {args.connections:,} kept-alive "
            "connections, whether or not earlier ones were answered (`bench/harness/paced.py`, "
            f"{args.paced_processes} process(es), on the freshly started target, before its throughput "
            "run). Latency "
            "runs from the moment a submission was due, so waiting for a busy connection counts. The bare "
            "aiohttp handler's row is the floor this generator and machine allow.",
            "",
            *report.paced_table(paced_runs),
            "",
        ]
    spied = out / "raw" / "door-profile.txt"
    if args.profile and spied.exists():
        sections += [
            "## Where a ticketgate front door spends its time (py-spy, during its throughput run)",
            "",
            *profile.table(profile.top(spied)),
            "",
        ]
    report.write(out / "report.md", sections)
    print(f"report: {out / 'report.md'}")
    if ours is not None and ours.accounting is not None and not ours.accounting.zero_loss:
        print("accounting: tickets lost or applied twice", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.smoke:
        args.duration = min(args.duration, 8.0)
        args.core_service_ms = min(args.core_service_ms, 100.0)
        args.drain_timeout = min(args.drain_timeout, 120.0)
        args.time_scale = min(args.time_scale, 0.02)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
