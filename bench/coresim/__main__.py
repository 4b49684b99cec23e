"""``python -m bench.coresim``: serve the core-system simulator on CORE_PORT."""

from __future__ import annotations

from bench.coresim.app import build_app
from bench.coresim.model import CoreSettings
from queue_config.runtime import install_event_loop
from queue_config.web import serving


def main() -> None:
    settings = CoreSettings.from_env()
    install_event_loop()
    serving.run(build_app(settings), host=settings.host, port=settings.port, shutdown_timeout=2)


if __name__ == "__main__":
    main()
