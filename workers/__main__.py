"""``python -m workers [--kinds payment,transfer]``: consume and process tickets until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal

import structlog

from queue_config import logs
from queue_config.kinds import KINDS
from queue_config.runtime import install_event_loop
from queue_config.settings import Settings
from workers.pool import WorkerPool

log = structlog.get_logger("workers")


def parse_kinds(raw: str) -> list[str]:
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = set(kinds) - {k.value for k in KINDS}
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"kinds must be among {', '.join(k.value for k in KINDS)}")
    return kinds


async def run(settings: Settings, kinds: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pool = WorkerPool(settings, kinds)
    starting = asyncio.create_task(pool.start())
    await asyncio.wait({starting, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done():
        starting.result()
        log.info("workers_running", kinds=kinds)
        await stop.wait()
    else:
        starting.cancel()
    log.info("workers_stopping")
    await pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument(
        "--kinds",
        type=parse_kinds,
        default=[k.value for k in KINDS],
        help="comma-separated kinds to serve (default: all)",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install_event_loop()
    asyncio.run(run(settings, args.kinds))


if __name__ == "__main__":
    main()
