"""Assembling the front door: its dependencies, routes and lifecycle."""

from __future__ import annotations

from aiohttp import web

from frontdoor.admission.controller import AdmissionController
from frontdoor.admission.gate import AdmissionGate
from frontdoor.admission.gcra import GcraLimiter
from frontdoor.admission.system_gauges import SystemGauges
from frontdoor.bulk.api import BULK_INTAKE, BULK_LIMITS, CALLBACK_POLICY, ENTERPRISES, post_bulk
from frontdoor.bulk.booking import Booker
from frontdoor.bulk.intake import BulkIntake
from frontdoor.bulk.window_release import WindowRelease
from frontdoor.intake.acceptance import Intake
from frontdoor.intake.client_ip import parse_networks
from frontdoor.intake.request_body import MAX_BODY
from frontdoor.intake.submissions import GATE, INTAKE, TRAFFIC, post_submission
from frontdoor.operator.auth import OPERATOR_TOKEN
from frontdoor.operator.dashboard import dashboard
from frontdoor.operator.dead_letters_api import (
    DEAD_LETTERS,
    DeadLetters,
    get_dead_letter,
    list_dead_letters,
    replay_dead_letters,
)
from frontdoor.operator.enterprise_api import create_enterprise, list_enterprises, revoke_enterprise
from frontdoor.operator.forecast_api import get_forecast
from frontdoor.operator.throttle_api import PLAN_READER, THROTTLE_STORE, get_audit, get_throttle, put_throttle
from queue_config.broker import BrokerLink
from queue_config.errors import ConfigError
from queue_config.names import Names
from queue_config.observability.metrics import add_metrics_route, http_metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.eta import EtaEstimator
from queue_config.planning.throttle import Throttle, ThrottleStore
from queue_config.settings import Settings
from queue_config.stores import redis_client
from queue_config.stores import ticket_secret as startup
from queue_config.stores.batches import BatchStore
from queue_config.stores.enterprises import EnterpriseStore
from queue_config.stores.script_batcher import ScriptBatcher
from queue_config.stores.ticket_store import TicketStore
from queue_config.stores.traffic import TrafficCounter
from queue_config.ticket_ids import ID_LENGTH
from queue_config.topology import Topology
from queue_config.web.callback_urls import CallbackPolicy
from queue_config.web.health import add_health_routes, redis_probe
from queue_config.web.http import request_context
from queue_config.web.openapi import openapi_route

BROKER = web.AppKey("broker", BrokerLink)
CONTROLLER = web.AppKey("controller", AdmissionController)


async def build_app(settings: Settings) -> web.Application:
    redis = redis_client.connect(settings)
    names = Names(settings.namespace)
    ids = await startup.ticket_ids(redis, settings)
    topology = Topology.from_settings(settings)
    broker = BrokerLink(
        settings.amqp_url,
        topology,
        publisher_channels=settings.publisher_channels,
        publish_timeout=settings.publish_timeout_seconds,
    )
    throttle = ThrottleStore(redis, names, Throttle.defaults(settings))
    plan = PlanReader(redis, names, throttle.defaults)
    # One batcher for the door: every request's admission, reserve and commit calls share pipelines.
    batcher = ScriptBatcher(redis)
    store = TicketStore.from_settings(redis, settings, batcher)
    eta = EtaEstimator.from_settings(redis, settings, plan)
    counter = TrafficCounter(redis, names)
    controller = AdmissionController(redis, settings, broker, throttle)
    release = WindowRelease(redis, names, broker, store)
    gcra = GcraLimiter(redis, batcher)

    app = web.Application(
        middlewares=[http_metrics, request_context], client_max_size=settings.max_body_bytes
    )
    gauges = SystemGauges(redis, names, plan)
    add_metrics_route(app)
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
        gcra, names, ids, plan, trusted_proxies=trusted, timezone=settings.local_timezone
    )
    app[INTAKE] = Intake(
        store, broker, ids, eta, settings.public_status_url, settings.publish_timeout_seconds
    )
    app.router.add_post("/v1/submissions", post_submission)
    enterprises = EnterpriseStore(redis, names)
    app[ENTERPRISES] = enterprises
    app[BULK_LIMITS] = (settings.bulk_max_items, settings.bulk_max_body_bytes)
    app[CALLBACK_POLICY] = CallbackPolicy.from_settings(settings)
    app[BULK_INTAKE] = BulkIntake(
        redis=redis,
        store=store,
        batches=BatchStore(redis, names, ttl_seconds=settings.ticket_ttl_seconds),
        broker=broker,
        topology=topology,
        limiter=gcra,
        booker=Booker(redis, names, settings.bulk_window_seconds),
        plan=plan,
        eta=eta,
        counter=counter,
        ids=ids,
        public_status_url=settings.public_status_url,
        idempotency_ttl=settings.idempotency_ttl_seconds,
    )
    app.router.add_post("/v1/bulk", post_bulk)
    if settings.operator_token:
        app[OPERATOR_TOKEN] = settings.operator_token
    app[THROTTLE_STORE] = throttle
    app.router.add_get("/v1/admin/throttle", get_throttle)
    app.router.add_put("/v1/admin/throttle", put_throttle)
    app.router.add_get("/v1/admin/audit", get_audit)
    app.router.add_post("/v1/admin/enterprises", create_enterprise)
    app.router.add_get("/v1/admin/enterprises", list_enterprises)
    app.router.add_delete("/v1/admin/enterprises/{enterprise_id}", revoke_enterprise)
    app.router.add_get("/v1/admin/forecast", get_forecast)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/openapi.json", openapi_route("front"))
    app[DEAD_LETTERS] = DeadLetters(store, broker)
    app.router.add_get("/v1/admin/dead-letters", list_dead_letters)
    app.router.add_post("/v1/admin/dead-letters/replay", replay_dead_letters)
    # Only what can be a ticket ID: otherwise ``/replay`` matched here too, and its 405 allowed GET.
    app.router.add_get(f"/v1/admin/dead-letters/{{ticket_id:[A-Za-z2-7]{{{ID_LENGTH}}}}}", get_dead_letter)

    async def broker_ready() -> bool:
        return broker.ready

    add_health_routes(app, {"broker": broker_ready, "redis": redis_probe(redis)})

    async def start(_: web.Application) -> None:
        await broker.start()
        await plan.start()
        await counter.start()
        await controller.start()
        await release.start()
        await gauges.start()

    async def stop(_: web.Application) -> None:
        await gauges.stop()
        await release.stop()
        await controller.stop()
        await counter.stop()
        await plan.stop()
        await broker.close()
        await redis.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
