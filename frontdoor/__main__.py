"""``python -m frontdoor``: serve the front door on FRONTDOOR_PORT."""

from __future__ import annotations

from frontdoor.app import build_app
from queue_config.observability import logs
from queue_config.runtime import install_event_loop
from queue_config.settings import Settings
from queue_config.web import serving


def main() -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install_event_loop()
    serving.run(
        build_app(settings),
        host=settings.host,
        port=settings.frontdoor_port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        reuse_port=settings.reuse_port,
    )


if __name__ == "__main__":
    main()
