"""Assembling the front door: its dependencies, routes and lifecycle."""

from __future__ import annotations

from aiohttp import web

from frontdoor.admission_gate import AdmissionGate
from frontdoor.client_ip import parse_networks
from frontdoor.controller import AdmissionController
from frontdoor.gcra import GcraLimiter
from frontdoor.intake import Intake
from frontdoor.operator_auth import OPERATOR_TOKEN
from frontdoor.request_body import MAX_BODY
from frontdoor.submissions import GATE, INTAKE, TRAFFIC, post_submission
from frontdoor.throttle_api import PLAN_READER, THROTTLE_STORE, get_audit, get_throttle, put_throttle
from queue_config import redis_client, startup
from queue_config.admission_plan import PlanReader
from queue_config.broker import BrokerLink
from queue_config.errors import ConfigError
from queue_config.eta import EtaEstimator
from queue_config.health import add_health_routes, redis_probe
from queue_config.http import request_context
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.throttle import Throttle, ThrottleStore
from queue_config.ticket_store import TicketStore
from queue_config.topology import Topology
from queue_config.traffic import TrafficCounter

BROKER = web.AppKey("broker", BrokerLink)
CONTROLLER = web.AppKey("controller", AdmissionController)


async def build_app(settings: Settings) -> web.Application:
    redis = redis_client.connect(settings)
    names = Names(settings.namespace)
    ids = await startup.ticket_ids(redis, settings)
    broker = BrokerLink(
        settings.amqp_url,
        Topology.from_settings(settings),
        publisher_channels=settings.publisher_channels,
        publish_timeout=settings.publish_timeout_seconds,
    )
    throttle = ThrottleStore(redis, names, Throttle.defaults(settings))
    plan = PlanReader(redis, names, throttle.defaults)
    store = TicketStore.from_settings(redis, settings)
    eta = EtaEstimator.from_settings(redis, settings, plan)
    counter = TrafficCounter(redis, names)
    controller = AdmissionController(redis, settings, broker, throttle)

    app = web.Application(middlewares=[request_context], client_max_size=settings.max_body_bytes)
    app[MAX_BODY] = settings.max_body_bytes
    app[BROKER] = broker
    app[PLAN_READER] = plan
    app[CONTROLLER] = controller
    app[TRAFFIC] = counter
    try:
        trusted = parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from exc
    app[GATE] = AdmissionGate(
        GcraLimiter(redis), names, ids, plan, trusted_proxies=trusted, timezone=settings.local_timezone
    )
    app[INTAKE] = Intake(
        store, broker, ids, eta, settings.public_status_url, settings.publish_timeout_seconds
    )
    app.router.add_post("/v1/submissions", post_submission)
    if settings.operator_token:
        app[OPERATOR_TOKEN] = settings.operator_token
    app[THROTTLE_STORE] = throttle
    app.router.add_get("/v1/admin/throttle", get_throttle)
    app.router.add_put("/v1/admin/throttle", put_throttle)
    app.router.add_get("/v1/admin/audit", get_audit)

    async def broker_ready() -> bool:
        return broker.ready

    add_health_routes(app, {"broker": broker_ready, "redis": redis_probe(redis)})

    async def start(_: web.Application) -> None:
        await broker.start()
        await plan.start()
        await counter.start()
        await controller.start()

    async def stop(_: web.Application) -> None:
        await controller.stop()
        await counter.stop()
        await plan.stop()
        await broker.close()
        await redis.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
