"""``python -m workers [--kinds payment,transfer]``: consume and process tickets until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from queue_config.kinds import KINDS
from queue_config.observability import logs
from queue_config.runtime import install_event_loop
from queue_config.settings import Settings
from workers.pool import WorkerPool

log = structlog.get_logger("workers")


def parse_kinds(raw: str) -> list[str]:
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"kinds must be among {', '.join(KINDS)}")
    return kinds


async def run(settings: Settings, kinds: list[str]) -> int:
    """Serve until a signal; the exit status is 1 when the pool could not start."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = WorkerPool(settings, kinds)
    starting = asyncio.create_task(pool.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
    elif starting.exception() is not None:
        # Exit at once rather than linger half-started: stop() closes the broker connection, which
        # hands back any message taken, and a supervisor sees the failure.
        log.error("workers_failed_to_start", error=repr(starting.exception()))
        code = 1
    else:
        log.info("workers_running", kinds=kinds)
        await stopping
    stopping.cancel()
    log.info("workers_stopping")
    try:
        async with asyncio.timeout(settings.shutdown_grace_seconds + 10):
            await pool.stop()
    except TimeoutError:
        log.error("workers_stop_timed_out")
        code = code or 1
    return code


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument(
        "--kinds",
        type=parse_kinds,
        default=list(KINDS),
        help="comma-separated kinds to serve (default: all)",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install_event_loop()
    sys.exit(asyncio.run(run(settings, args.kinds)))


if __name__ == "__main__":
    main()
