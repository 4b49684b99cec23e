"""``python -m bench.coresim``: serve the core-system simulator on CORE_PORT."""

from __future__ import annotations

from aiohttp import web

from bench.coresim.app import build_app
from bench.coresim.model import CoreSettings
from queue_config.runtime import install_event_loop


def main() -> None:
    settings = CoreSettings.from_env()
    install_event_loop()
    web.run_app(build_app(settings), host=settings.host, port=settings.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
