"""Prometheus metrics shared by every component (prometheus-client's process-wide registry), the
``/metrics`` route, and a middleware that times every HTTP request by route.

Counters are bumped in memory on the hot path (a few microseconds); gauges that describe the whole
system (queue depth, capacity, ETA hit rate, forecast) are set by each component's own refresh step.
"""

from __future__ import annotations

import os
import time
from typing import TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from queue_config.web.http import Handler

TRAFFIC = Counter(
    "ticketgate_traffic",
    "Submissions by kind and fate: arrivals, admitted, shed (503: system full), limited (429: client over "
    "its limit), enterprise (bulk items offered)",
    ["kind", "metric"],
)
BULK_ITEMS = Counter("ticketgate_bulk_items", "Bulk items accepted, by when they run", ["kind", "runs"])
HTTP_LATENCY = Histogram(
    "ticketgate_http_request_seconds",
    "Time to answer an HTTP request, by route and status",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOOP_LAG = Histogram(
    "ticketgate_event_loop_lag_seconds",
    "How late the event loop runs a 10 ms timer: what every request on this loop waits behind work "
    "already running",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
)
INTAKE_STAGE = Histogram(
    "ticketgate_intake_stage_seconds",
    "Time a submission spends in each step of the front door: auth (token), gate (rate limits and "
    "admission), reserve (ticket record), publish (until RabbitMQ confirms), commit (record and ETA)",
    ["stage"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
)
GC_PAUSE = Histogram(
    "ticketgate_gc_pause_seconds",
    "Python's cyclic garbage collector: how long each collection stopped the process, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
)
QUEUE_DEPTH = Gauge("ticketgate_queue_depth", "Tickets waiting in RabbitMQ or held by workers", ["kind"])
CAPACITY = Gauge(
    "ticketgate_capacity_per_second", "Tickets a second the workers are measured to finish", ["kind"]
)
ADMISSION_RATE = Gauge(
    "ticketgate_admission_rate_per_second", "Citizens' admissions a second allowed", ["kind"]
)
ETA_HIT_RATE = Gauge(
    "ticketgate_eta_hit_rate", "Share of finished tickets done within their promised p90", ["kind"]
)
FORECAST = Gauge(
    "ticketgate_forecast_arrivals_per_minute",
    "The forecast for the current minute (mean and the interval's bounds)",
    ["kind", "bound"],
)
ARRIVALS_LAST_MINUTE = Gauge("ticketgate_arrivals_last_minute", "Arrivals in the last whole minute", ["kind"])
# Workers
IN_FLIGHT = Gauge("ticketgate_worker_in_flight", "Tickets a worker process is working on", ["kind"])
PROCESSING = Histogram(
    "ticketgate_processing_seconds",
    "Time of one processing attempt (core call included), by kind and outcome",
    ["kind", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RETRIES = Counter("ticketgate_retries", "Transient failures scheduled for another attempt", ["kind"])
ARCHIVED = Counter("ticketgate_archived", "Done tickets moved from Redis to the archive")
ARCHIVE_EXPIRED = Counter("ticketgate_archive_expired", "Archived tickets deleted past their retention")
DEAD_LETTERS = Counter("ticketgate_dead_letters", "Tickets failed and dead-lettered", ["kind"])
UNREPLICATED = Counter(
    "ticketgate_redis_unreplicated_commits",
    "Pipelines of ticket commits answered before a replica confirmed them (Redis WAIT timed out)",
)
CALLBACKS = Counter("ticketgate_callbacks", "Batch callback deliveries, by result", ["result"])


# Processes that share a port (SO_REUSEPORT) are told apart by their pid: prometheus-client's
# ``process_start_time_seconds`` counts in 10 ms ticks, and two doors spawned together shared one.
PROCESS = Info("ticketgate_process", "The process that answered this page")

M = TypeVar("M", bound=MetricWrapperBase)
_children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}


def labelled(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, looked up once: prometheus-client validates the values and takes a
    lock on every ``labels`` call, which at a thousand requests a second was 3 % of a front door."""
    key = (id(metric), values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child  # type: ignore[return-value]


async def metrics_handler(_: web.Request) -> web.Response:
    PROCESS.info({"pid": str(os.getpid())})  # here, not at import, so that a forked child says its own
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_handler)


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    began = time.perf_counter()
    response = await handler(request)
    # The route's pattern, never the path: ticket IDs must not become label values.
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    labelled(HTTP_LATENCY, route, str(response.status)).observe(time.perf_counter() - began)
    return response
