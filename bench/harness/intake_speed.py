"""The intake-speed part of ``python -m bench``: on each freshly started target, first the accept latency
at a fixed rate over ``--connections`` connections (``bench.harness.paced``), then ``--connections``
clients submitting without pause (wrk, or locust), with py-spy on a ticketgate front door if asked."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import aiohttp

from bench.harness import paced, profile, report, targets, wrk
from bench.harness.load import LoadResult, LoadSpec
from bench.harness.report import PacedRun, ThroughputRun
from bench.harness.runs import label, layout, measured, watched
from bench.harness.sampler import Sampler


async def throughput(
    args: argparse.Namespace, name: str, offset: int, http: aiohttp.ClientSession, out: Path
) -> tuple[ThroughputRun, PacedRun | None]:
    where = layout(args, offset)
    running = await targets.start(name, where, http)
    try:
        if name == targets.TICKETGATE:
            # Intake speed is what is measured here, not admission: every kind open wide.
            await targets.admit_everything(http, where.front_url)
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
        if use_wrk(args):
            result = await _wrk(args, running, http)
        else:
            result = await _locust_throughput(args, name, running, http, out)
        if spying is not None:
            await spying
        return result, at_rate
    finally:
        await running.stop()


async def _paced(args: argparse.Namespace, running: targets.Running, http: aiohttp.ClientSession) -> PacedRun:
    result, sampler = await watched(
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
    run_label: str,
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
    return await measured(args, spec, running, run_label, running.layout.env(), http, out)


def _answers(load: LoadResult) -> tuple[int, int]:
    """Submissions answered 2xx, and the rest."""
    accepted = load.count("outcome", "accepted") + load.count("outcome", "repeat")
    return accepted, sum(load.count("outcome", o) for o in report.OUTCOMES) - accepted


def use_wrk(args: argparse.Namespace) -> bool:
    return args.generator == "wrk" or (args.generator == "auto" and wrk.available())


async def _wrk(
    args: argparse.Namespace, running: targets.Running, http: aiohttp.ClientSession
) -> ThroughputRun:
    result, sampler = await watched(
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
        args, running, http, out, "Submitter", "throughput-" + label(name)
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


async def _spy(pid: int, seconds: float, path: Path) -> None:
    """Samples the middle of the run: after the users have arrived, before they stop."""
    await asyncio.sleep(min(5.0, seconds / 4))
    await profile.record(pid, max(1.0, seconds - 2 * min(5.0, seconds / 4)), path)
