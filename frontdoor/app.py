"""Assembling the front door: its parts built from the settings, put on the app, started and stopped in
order (``queue_config.aio.lifecycle``); the routes are in ``frontdoor.routes``."""

from __future__ import annotations

from aiohttp import web

from frontdoor.admission.controller import AdmissionController
from frontdoor.admission.gate import AdmissionGate
from frontdoor.admission.system_gauges import SystemGauges
from frontdoor.admission.traffic_counter import TrafficCounter
from frontdoor.app_keys import (
    BROKER,
    BULK_INTAKE,
    BULK_LIMITS,
    CALLBACK_POLICY,
    CONTROLLER,
    DEAD_LETTERS,
    DEFENSE,
    GATE,
    IDENTITY,
    INTAKE,
    MAX_BODY,
    OPERATOR_TOKEN,
    PLAN_READER,
    STORES,
    TRAFFIC,
)
from frontdoor.bulk.booking import Booker
from frontdoor.bulk.intake import BulkIntake
from frontdoor.bulk.window_release import WindowRelease
from frontdoor.defense.challenge import Defense
from frontdoor.intake.acceptance import Intake
from frontdoor.intake.client_ip import parse_networks
from frontdoor.operator.dead_letters_api import DeadLetters
from frontdoor.routes import setup_routes
from queue_config.aio.lifecycle import closing, running
from queue_config.broker import BrokerLink
from queue_config.errors import ConfigError
from queue_config.identity.citizens import CitizenIdentity
from queue_config.observability.loop_lag import LoopLag
from queue_config.observability.metrics import add_metrics_route, http_metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.eta import EtaEstimator
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.topology import Topology
from queue_config.web.callback_urls import CallbackPolicy
from queue_config.web.health import add_health_routes
from queue_config.web.http import request_context


async def build_app(settings: Settings) -> web.Application:
    try:
        trusted = parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}") from exc
    # Coalesced: every request's admission, reserve and commit calls share pipelines.
    stores = Stores.open(settings, coalesce=True)
    ids = await stores.ticket_ids(settings)
    topology = Topology.from_settings(settings)
    broker = BrokerLink(
        settings.amqp_url,
        topology,
        publisher_channels=settings.publisher_channels,
        publish_timeout=settings.publish_timeout_seconds,
    )
    plan = PlanReader(stores.control, stores.notices, stores.throttle.defaults)
    eta = EtaEstimator.from_settings(stores.tickets, settings, plan)
    counter = TrafficCounter(stores.traffic)
    controller = AdmissionController(stores, settings, broker)
    release = WindowRelease(stores.windows, stores.names, broker, stores.tickets)
    gauges = SystemGauges(stores, plan)

    app = web.Application(
        middlewares=[http_metrics, request_context], client_max_size=settings.max_body_bytes
    )
    app[STORES] = stores
    app[MAX_BODY] = settings.max_body_bytes
    app[BROKER] = broker
    app[PLAN_READER] = plan
    app[CONTROLLER] = controller
    app[TRAFFIC] = counter
    app[GATE] = AdmissionGate(
        stores.limiter, stores.names, ids, plan, trusted_proxies=trusted, timezone=settings.local_timezone
    )
    app[IDENTITY] = identity = CitizenIdentity.from_settings(settings)
    app[DEFENSE] = Defense.from_settings(settings, ids, stores.proofs, trusted)
    app[INTAKE] = intake = Intake(
        stores.tickets, broker, ids, eta, settings.public_status_url, settings.publish_timeout_seconds
    )
    app[BULK_LIMITS] = (settings.bulk_max_items, settings.bulk_max_body_bytes)
    app[CALLBACK_POLICY] = CallbackPolicy.from_settings(settings)
    app[BULK_INTAKE] = BulkIntake(
        windows=stores.windows,
        store=stores.tickets,
        batches=stores.batches,
        broker=broker,
        topology=topology,
        limiter=stores.limiter,
        booker=Booker(stores.windows, settings.bulk_window_seconds),
        plan=plan,
        eta=eta,
        counter=counter,
        ids=ids,
        public_status_url=settings.public_status_url,
        idempotency_ttl=settings.idempotency_ttl_seconds,
    )
    app[DEAD_LETTERS] = DeadLetters(stores.tickets, stores.names, broker)
    if settings.operator_token:
        app[OPERATOR_TOKEN] = settings.operator_token

    setup_routes(app, settings.frontdoor_url)
    add_metrics_route(app)

    async def broker_ready() -> bool:
        return broker.ready

    add_health_routes(app, {"broker": broker_ready, "redis": stores.probe})
    # Started in this order, stopped in the reverse: the broker and plan before the loops that use them.
    app.cleanup_ctx.extend(
        [
            closing(stores.close),
            closing(intake.settle),  # its commits need the store
            running(identity),
            running(broker),
            running(plan),
            running(counter),
            running(controller),
            running(release),
            running(gauges),
            running(LoopLag(gc_young_threshold=settings.gc_young_threshold)),
        ]
    )
    return app
