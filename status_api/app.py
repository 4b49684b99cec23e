"""Assembling the status API: its dependencies, routes and lifecycle."""

from __future__ import annotations

from aiohttp import web

from queue_config.names import Names
from queue_config.observability.metrics import add_metrics_route, http_metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.eta import EtaEstimator
from queue_config.planning.throttle import Throttle
from queue_config.settings import Settings
from queue_config.stores import redis_client
from queue_config.stores import ticket_secret as startup
from queue_config.stores.batches import BatchStore
from queue_config.stores.enterprises import EnterpriseStore
from queue_config.stores.ticket_store import TicketStore
from queue_config.web.health import add_health_routes, redis_probe
from queue_config.web.http import request_context
from queue_config.web.openapi import openapi_route
from status_api.batches import BATCHES, BatchReader, get_batch
from status_api.citizen_page import citizen_page
from status_api.eta_accuracy import get_eta_accuracy
from status_api.ticket_events import TicketEvents
from status_api.tickets import READER, TicketReader, get_ticket


async def build_app(settings: Settings) -> web.Application:
    names = Names(settings.namespace)
    redis = redis_client.connect(settings)
    ids = await startup.ticket_ids(redis, settings)
    store = TicketStore.from_settings(redis, settings)
    events = TicketEvents(redis, names.events_channel)
    plan = PlanReader(redis, names, Throttle.defaults(settings))
    eta = EtaEstimator.from_settings(redis, settings, plan)

    app = web.Application(middlewares=[http_metrics, request_context])
    add_metrics_route(app)
    app[READER] = TicketReader(ids, store, eta, events)
    app.router.add_get("/v1/tickets/{ticket_id}", get_ticket)
    app.router.add_get("/t/{ticket_id}", citizen_page)
    app.router.add_get("/v1/stats/eta", get_eta_accuracy)
    app.router.add_get("/openapi.json", openapi_route("status"))
    app[BATCHES] = BatchReader(
        ids,
        BatchStore(redis, names, ttl_seconds=settings.ticket_ttl_seconds),
        EnterpriseStore(redis, names),
        plan,
    )
    app.router.add_get("/v1/batches/{batch_id}", get_batch)
    add_health_routes(app, {"redis": redis_probe(redis)})

    async def start(_: web.Application) -> None:
        await events.start()
        await plan.start()

    async def stop(_: web.Application) -> None:
        await plan.stop()
        await events.stop()
        await redis.aclose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
