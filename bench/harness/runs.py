"""Running a target under load: its layout on this machine, and a load generator's run with the sampler
watching the servers' and the generator's own CPU. Shared by the scenario and the intake-speed parts of
``python -m bench``."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp

from bench.harness import targets
from bench.harness.load import LoadResult, LoadSpec, run_locust
from bench.harness.sampler import Sampler
from queue_config.settings import Settings

T = TypeVar("T")
AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}


def layout(args: argparse.Namespace, offset: int) -> targets.Layout:
    """The ``offset``-th target of the run: a namespace and ten ports of its own."""
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


def label(name: str) -> str:
    """A target's name as it appears in file names."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


async def measured(
    args: argparse.Namespace,
    spec: LoadSpec,
    running: targets.Running,
    name: str,
    env: dict[str, str],
    http: aiohttp.ClientSession,
    out: Path,
) -> tuple[LoadResult, Sampler]:
    """A locust run with the sampler watching."""
    return await watched(
        running,
        http,
        lambda started: run_locust(
            spec,
            host=running.layout.front_url,
            out_dir=out / "raw",
            label=name,
            env=env,
            on_started=started,
            progress=not args.no_progress,
        ),
    )


async def watched(
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
