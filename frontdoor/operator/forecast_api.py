"""``GET /v1/admin/forecast``: per kind, the last hour's arrivals a minute, the forecast for the next hour
with its interval, the measured capacity, the admission rate, queue depth and the recommended number of
worker processes. The controller's plan (every second) and outlook (every minute) are its sources."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from frontdoor.admission.outlook import recommended_workers
from frontdoor.operator.auth import operator_only
from frontdoor.operator.throttle_api import PLAN_READER, THROTTLE_STORE
from queue_config.kinds import KINDS
from queue_config.stores import traffic
from queue_config.web.http import json_response


@operator_only
async def get_forecast(request: web.Request, _: str) -> web.Response:
    store = request.app[THROTTLE_STORE]
    reader = request.app[PLAN_READER]
    names = store.names
    raws = await store.redis.mget([names.outlook(k.value) for k in KINDS])
    hits = [await store.redis.hmget(names.eta_outcomes(k.value), "hit", "miss") for k in KINDS]
    minute = int(time.time() // 60) - 1
    fates = (traffic.ADMITTED, traffic.SHED, traffic.LIMITED)
    last = await store.redis.mget([names.traffic_minute(k.value, f, minute) for k in KINDS for f in fates])
    kinds: dict[str, Any] = {}
    for i, (kind, raw, (hit, miss)) in enumerate(zip(KINDS, raws, hits, strict=True)):
        plan = reader.kind(kind.value)
        outlook = orjson.loads(raw) if raw else {}
        finished = int(hit or 0) + int(miss or 0)
        kinds[kind.value] = {
            "arrivals_per_minute": [{"at": t, "count": c} for t, c in outlook.get("arrivals", [])],
            "forecast_per_minute": [
                {"at": t, "mean": m, "low": lo, "high": hi} for t, m, lo, hi in outlook.get("forecast", [])
            ],
            "interval_coverage": outlook.get("coverage"),
            "demand_per_second": plan.demand if plan else None,
            "capacity_per_second": plan.capacity if plan else None,
            # False while the capacity is ASSUMED_DRAIN_PER_SECOND, not yet measured under load
            "capacity_measured": plan.capacity_measured if plan else None,
            "admission_rate_per_second": plan.rate if plan else None,
            "enterprise_rate_per_second": plan.enterprise_cap if plan else None,
            "queue_depth": plan.backlog if plan else None,
            "core_latency_seconds": plan.service_seconds if plan else None,
            "worker_processes": plan.workers if plan else None,
            "recommended_worker_processes": (
                recommended_workers(outlook.get("peak_per_second", plan.demand), plan.capacity, plan.workers)
                if plan
                else None
            ),
            "eta_hit_rate": round(int(hit or 0) / finished, 4) if finished else None,
            "traffic_last_minute": {fate: int(last[i * len(fates) + j] or 0) for j, fate in enumerate(fates)},
        }
    plan_doc = reader.plan
    return json_response(
        {
            "at": plan_doc.at if plan_doc else None,
            "mode": reader.throttle.mode,
            "kinds": kinds,
        },
        headers={"Cache-Control": "no-store"},
    )
