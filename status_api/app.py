"""Assembling the status API: its dependencies, routes and lifecycle."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from queue_config.aio.lifecycle import closing, running
from queue_config.identity.citizens import CitizenIdentity
from queue_config.observability.loop_lag import LoopLag
from queue_config.observability.metrics import add_metrics_route, http_metrics
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.eta import EtaEstimator
from queue_config.settings import Settings
from queue_config.stores.backend import Stores
from queue_config.web.health import add_health_routes
from queue_config.web.http import request_context
from queue_config.web.openapi import openapi_route
from status_api.batches import BATCHES, BatchReader, get_batch
from status_api.citizen_page import PAGE_TIMEZONE, citizen_page
from status_api.eta_accuracy import get_eta_accuracy
from status_api.ticket_events import TicketEvents
from status_api.ticket_owner import OWNERS, OwnerCheck
from status_api.tickets import READER, TicketReader, get_ticket


async def build_app(settings: Settings) -> web.Application:
    stores = Stores.open(settings)
    ids = await stores.ticket_ids(settings)
    events = TicketEvents(stores.notices)
    plan = PlanReader(stores.control, stores.notices, stores.throttle.defaults)
    eta = EtaEstimator.from_settings(stores.tickets, settings, plan)

    app = web.Application(middlewares=[http_metrics, request_context])
    app[READER] = TicketReader(ids, stores.tickets, eta, events)
    identity = CitizenIdentity.from_settings(settings)
    app[OWNERS] = OwnerCheck(identity, ids, stores.enterprises)
    app[PAGE_TIMEZONE] = ZoneInfo(settings.local_timezone)
    app[BATCHES] = BatchReader(ids, stores.batches, stores.enterprises, plan)
    app.add_routes(
        [
            web.get("/v1/tickets/{ticket_id}", get_ticket),
            web.get("/t/{ticket_id}", citizen_page),
            web.get("/v1/stats/eta", get_eta_accuracy),
            web.get("/v1/batches/{batch_id}", get_batch),
            web.get("/openapi.json", openapi_route("status", settings.public_status_url)),
        ]
    )
    add_metrics_route(app)
    add_health_routes(app, {"redis": stores.probe})
    # On shutdown (before aiohttp waits for the requests in flight), long-polls answer at once.
    app.on_shutdown.append(lambda _: _release(events))
    app.cleanup_ctx.extend(
        [
            closing(stores.close),
            running(identity),
            running(events),
            running(plan),
            running(LoopLag(gc_young_threshold=settings.gc_young_threshold)),
        ]
    )
    return app


async def _release(events: TicketEvents) -> None:
    events.release()
