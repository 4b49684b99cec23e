"""Assembling the front door: its dependencies, routes and lifecycle."""

from __future__ import annotations

from aiohttp import web

from frontdoor.client_ip import parse_networks
from frontdoor.gcra import GcraLimiter
from frontdoor.intake import Intake
from frontdoor.rate_limits import ClientLimits
from frontdoor.request_body import MAX_BODY
from frontdoor.submissions import INTAKE, LIMITS, post_submission
from queue_config import redis_client, startup
from queue_config.broker import BrokerLink
from queue_config.errors import ConfigError
from queue_config.eta import EtaEstimator
from queue_config.health import add_health_routes, redis_probe
from queue_config.http import request_context
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.ticket_store import TicketStore
from queue_config.topology import Topology

BROKER = web.AppKey("broker", BrokerLink)


async def build_app(settings: Settings) -> web.Application:
    redis = redis_client.connect(settings)
    ids = await startup.ticket_ids(redis, settings)
    broker = BrokerLink(
        settings.amqp_url,
        Topology.from_settings(settings),
        publisher_channels=settings.publisher_channels,
        publish_timeout=settings.publish_timeout_seconds,
    )
    store = TicketStore.from_settings(redis, settings)
    eta = EtaEstimator.from_settings(redis, settings)

    app = web.Application(middlewares=[request_context], client_max_size=settings.max_body_bytes)
    app[MAX_BODY] = settings.max_body_bytes
    app[BROKER] = broker
    try:
        trusted = parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from exc
    app[LIMITS] = ClientLimits(
        GcraLimiter(redis),
        Names(settings.namespace),
        ids,
        per_client_per_minute=settings.per_client_per_minute,
        per_ip_per_minute=settings.per_ip_per_minute,
        trusted_proxies=trusted,
    )
    app[INTAKE] = Intake(
        store, broker, ids, eta, settings.public_status_url, settings.publish_timeout_seconds
    )
    app.router.add_post("/v1/submissions", post_submission)

    async def broker_ready() -> bool:
        return broker.ready

    add_health_routes(app, {"broker": broker_ready, "redis": redis_probe(redis)})

    async def start(_: web.Application) -> None:
        await broker.start()

    async def stop(_: web.Application) -> None:
        await broker.close()
        await redis.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
