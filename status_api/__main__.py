"""``python -m status_api``: serve ticket status on STATUS_PORT."""

from __future__ import annotations

from queue_config.observability import logs
from queue_config.runtime import install_event_loop
from queue_config.settings import Settings
from queue_config.web import serving
from status_api.app import build_app


def main() -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install_event_loop()
    serving.run(
        build_app(settings),
        host=settings.host,
        port=settings.status_port,
        shutdown_timeout=5,
        reuse_port=settings.reuse_port,
    )


if __name__ == "__main__":
    main()
