"""``python -m bench.idp``: serve the development identity provider on IDP_PORT (default 8092)."""

from __future__ import annotations

from bench.idp.app import build_app
from queue_config.observability import logs
from queue_config.runtime import install_event_loop
from queue_config.settings import Settings
from queue_config.web import serving


def main() -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    install_event_loop()
    # SPEC: its tokens' iss is http://127.0.0.1:<IDP_PORT>.
    issuer = f"http://127.0.0.1:{settings.idp_port}"
    serving.run(build_app(issuer), host=settings.host, port=settings.idp_port, shutdown_timeout=2)


if __name__ == "__main__":
    main()
