"""``python -m bench``: the peak-day benchmark, ticketgate side by side with what portals run today.

Two parts, in one run, against the same core simulator and the same load generator (locust):

1. **Scenario**: a load shape (``--shape``: ``step`` overload at 1x, 2x, 5x, 10x capacity, a compressed
   ``working_day``, a ``policy_day`` surge) of citizens who submit and poll as the server hints, played
   against ticketgate (with status readers, a script attacker and an enterprise posting batches) and
   against each baseline (citizens and the attacker). ticketgate's run ends with the accounting: every
   ticket a 202 gave out is looked up in the ticket store and the simulator's ledger.
2. **Intake speed** (unless ``--skip-throughput``), against every target, the bare aiohttp handler (HTTP
   ceiling) and RabbitMQ's own intake (broker ceiling), with ticketgate's throttle opened so that it
   accepts all: first ``--paced-rate`` submissions a second over ``--connections`` connections (accept
   latency at a fixed load), then ``--connections`` clients submitting without pause for
   ``--throughput-seconds``.

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
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bench import broker_ceiling
from bench.harness import accounting, intake_speed, profile, report, sweep, targets
from bench.harness.load import LoadSpec, ticket_ids
from bench.harness.report import PacedRun, ScenarioRun, ThroughputRun
from bench.harness.runs import AUTH, label, layout, measured
from queue_config.names import Names
from queue_config.settings import Settings

BASELINES = {"naive": targets.NAIVE, "celery": targets.CELERY, "asyncio": targets.ASYNCIO}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and every option's default after its help."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument(
        "--shape",
        choices=("step", "working_day", "policy_day"),
        default="step",
        help="the scenario's load shape (see above)",
    )
    p.add_argument("--duration", type=float, default=120, help="seconds the scenario's shape lasts")
    p.add_argument(
        "--targets", default="naive,celery,asyncio", help="baselines besides ticketgate ('' for none)"
    )
    p.add_argument("--core-slots", type=int, default=8, help="the core simulator's parallel slots")
    p.add_argument(
        "--core-service-ms", type=float, default=800, help="the core simulator's unloaded service time"
    )
    p.add_argument("--surge", type=float, default=20, help="policy day: times capacity at the top")
    p.add_argument("--time-scale", type=float, default=1.0, help="scales poll hints and Retry-After")
    p.add_argument("--front-processes", type=int, default=1, help="HTTP server processes of every target")
    p.add_argument("--worker-processes", type=int, default=1, help="ticketgate's worker processes")
    p.add_argument("--generator-processes", type=int, default=1, help="locust worker processes")
    p.add_argument("--max-wait", type=float, default=60, help="ticketgate's promised wait (s)")
    p.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for every ticket")
    p.add_argument("--skip-throughput", action="store_true", help="only the scenario part")
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
    p.add_argument(
        "--throughput-seconds", type=float, default=30, help="length of each target's throughput run"
    )
    p.add_argument(
        "--paced-rate",
        type=float,
        default=500,
        help="before the throughput run, submissions a second spread over --connections paced clients, "
        "for accept latency at a fixed load (0: skip)",
    )
    p.add_argument("--paced-processes", type=int, default=2, help="processes of the paced generator")
    p.add_argument(
        "--sweep",
        type=str,
        default="",
        help="the latency curve: comma-separated fractions of each target's own maximum (e.g. "
        "0.1,0.25,0.5,0.7,0.9,1.1), each offered open-loop after the maximum is measured, with every "
        "target and the bare aiohttp handler (bench/harness/sweep.py); empty: no sweep",
    )
    p.add_argument("--sweep-seconds", type=float, default=10, help="seconds of each step of --sweep")
    p.add_argument(
        "--sweep-rates-of",
        choices=("own", "ticketgate"),
        default="own",
        help="what --sweep's fractions are of: each target's own maximum, or ticketgate's for every "
        "target (the same offered rates side by side; ticketgate must be among --targets)",
    )
    p.add_argument("--port-base", type=int, default=18500, help="first of the ports the targets use")
    p.add_argument("--out", type=Path, help="report directory (default bench/reports/<date>-<shape>)")
    p.add_argument("--smoke", action="store_true", help="seconds-long CI check of the harness itself")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    return p


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
    where = layout(args, offset)
    running = await targets.start(name, where, http)
    settings = Settings.from_env(where.env())
    redis = Redis.from_url(settings.redis_url)
    try:
        env = where.env()
        classes: tuple[str, ...] = ("Citizen", "ScriptAttacker")
        if name == targets.TICKETGATE:
            classes = ("Citizen", "StatusReader", "ScriptAttacker", "Enterprise")
            env["BENCH_ENTERPRISE_KEY"] = await _enterprise_key(http, where.front_url)
            env["BENCH_STATUS_URL"] = where.status_url
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
        load, sampler = await measured(args, spec, running, label(name), env, http, out)
        run = ScenarioRun(name, load, sampler.samples, sampler.cpu_seconds)
        if name == targets.TICKETGATE:
            ids = ticket_ids(out / "raw", label(name))
            run.accounting = await accounting.account(
                redis, Names(where.namespace), http, where.core_url, ids, args.drain_timeout
            )
            accounting.write_tickets(run.accounting, out / "raw" / "tickets.csv")
        else:
            await asyncio.sleep(min(30.0, args.drain_timeout))  # let the baselines' queues drain a little
        run.ledger = await accounting.ledger_totals(http, where.core_url)
        return run
    finally:
        await running.stop()
        await redis.aclose()


async def run(args: argparse.Namespace) -> int:
    if args.smoke:
        args.targets, args.skip_throughput = "", True
    names = [targets.TICKETGATE] + [BASELINES[t] for t in args.targets.split(",") if t]
    # Without the scenario, the shape plays no part: the report is of intake speed alone.
    part, slug = ("intake speed", "intake") if args.skip_scenario else (args.shape, args.shape)
    out: Path = args.out or targets.ROOT / "bench" / "reports" / f"{dt.date.today():%Y-%m-%d}-{slug}"
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
                result, at_rate = await intake_speed.throughput(args, name, len(names) + i, http, out)
                throughput.append(result)
                if at_rate is not None:
                    paced_runs.append(at_rate)
            if not args.no_ceilings:
                settings = Settings.from_env()
                ceiling = (await broker_ceiling.measure(settings.amqp_url, 20_000, 1, 500))["per_second"]
        sweeps: list[sweep.Sweep] = []
        if args.sweep:
            shared = args.sweep_rates_of == "ticketgate"
            for i, name in enumerate([*names, targets.BARE_HTTP]):  # ticketgate first
                basis = sweeps[0].maximum if shared and sweeps else None
                sweeps.append(await sweep.sweep(args, name, 2 * len(names) + 1 + i, http, out, basis))
    ours = scenarios[0] if scenarios else None
    sections = [
        f"# Peak-day benchmark: {part}, {dt.date.today():%Y-%m-%d}",
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
        sections += [
            "Promises by when the ticket was issued (before capacity is measured, on the assumption):",
            "",
            *report.promise_table(ours.accounting),
            "",
        ]
    for run in scenarios:
        sections += [f"## {run.target}", ""]
        for title, file in report.plot_scenario(run, out / "plots", label(run.target)):
            sections += [f"![{title}](plots/{file})", ""]
    if throughput:
        sections += [
            f"## Intake throughput: {args.connections:,} clients without pause, "
            f"{args.throughput_seconds:.0f} s each, "
            f"load from {'wrk' if intake_speed.use_wrk(args) else 'locust'}",
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
    if sweeps:
        of = (
            "ticketgate's maximum, the same rates to every target,"
            if args.sweep_rates_of == "ticketgate"
            else "it"
        )
        sections += [
            f"## Accept latency against the offered load ({args.connections:,} connections, "
            f"{args.sweep_seconds:.0f} s a step)",
            "",
            "Each target's maximum is measured first (wrk, closed loop, "
            f"{args.throughput_seconds:.0f} s); each step then offers a fraction of {of} as a Poisson stream "
            "(`bench/harness/sweep.py`), the work queues emptied between steps. Latency runs from the moment "
            "a submission was due. The loop lag is the delay of each ticketgate front door's 10 ms timer "
            "over the step, all its processes together (bucket upper bounds). The generator is Python "
            f"({args.paced_processes} processes, on raw connections: about 75 µs of CPU a request, a "
            "quarter of aiohttp's client): where the bare handler's latency climbs, at rates no other "
            "target reaches, it is the generator's limit that shows.",
            "",
            *sweep.table(sweeps),
            "",
            "Where ticketgate's time goes at each step: the p99 of each intake stage, read from the front "
            "doors' `ticketgate_intake_stage_seconds` (auth: token and defense; gate: rate limits and "
            "admission; reserve: the ticket record; publish: until RabbitMQ confirms; commit: record and "
            "ETA), and the pauses of Python's garbage collector (`ticketgate_gc_pause_seconds`).",
            "",
            *sweep.stage_table(sweeps),
            "",
            f"![latency against offered load](plots/{sweep.plot(sweeps, out / 'plots')})",
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
