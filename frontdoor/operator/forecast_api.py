"""``GET /v1/admin/forecast``: per kind, the last hour's arrivals a minute, the forecast for the next hour
with its interval, the measured capacity, the admission rate, queue depth and the recommended number of
worker processes. The controller's plan (every second) and outlook (every minute) are its sources."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from frontdoor.admission.outlook import recommended_workers
from frontdoor.app_keys import PLAN_READER, STORES
from frontdoor.operator.auth import operator_only
from queue_config.kinds import KINDS, REGISTRY
from queue_config.stores import traffic
from queue_config.web.http import iso_utc, json_response


@operator_only
async def get_forecast(request: web.Request, _: str) -> web.Response:
    stores = request.app[STORES]
    reader = request.app[PLAN_READER]
    outlooks = await stores.control.outlooks(list(KINDS))
    minute = int(time.time() // 60) - 1
    # The last 60 whole seconds, rolling (the per-second series): "the last minute" on the dashboard
    # means that, not the previous calendar minute, which a dozen seconds in holds almost nothing.
    now = int(time.time())
    last_60 = range(now - 60, now)
    fates = (traffic.ADMITTED, traffic.SHED, traffic.LIMITED)
    kinds: dict[str, Any] = {}
    for kind, kept in zip(KINDS, outlooks, strict=True):
        plan = reader.kind(kind)
        outlook = kept or {}
        hit, miss = await stores.tickets.eta_outcomes(kind)
        finished = hit + miss
        last = {f: (await stores.traffic.minutes(kind, f, [minute]))[0] for f in fates}
        rolling = {f: sum(await stores.traffic.seconds(kind, f, last_60)) for f in (traffic.ARRIVALS, *fates)}
        labels = REGISTRY[kind].labels
        kinds[kind] = {
            "label": {"zh": labels.zh, "en": labels.en},
            "arrivals_per_minute": [{"at": iso_utc(t), "count": c} for t, c in outlook.get("arrivals", [])],
            "forecast_per_minute": [
                {"at": iso_utc(t), "mean": m, "low": lo, "high": hi}
                for t, m, lo, hi in outlook.get("forecast", [])
            ],
            "interval_coverage": outlook.get("coverage"),
            "forecast_weights": outlook.get("weights"),
            "demand_per_second": plan.demand if plan else None,
            "capacity_per_second": plan.capacity if plan else None,
            # False while the capacity is ASSUMED_DRAIN_PER_SECOND, not yet measured under load
            "capacity_measured": plan.capacity_measured if plan else None,
            "admission_rate_per_second": plan.rate if plan else None,
            "enterprise_rate_per_second": plan.enterprise_cap if plan else None,
            "queue_depth": plan.backlog if plan else None,
            # None until a worker has called the core for this kind (the plan then assumes 1 s)
            "core_latency_seconds": plan.service_seconds if plan and plan.service_measured else None,
            "worker_processes": plan.workers if plan else None,
            "recommended_worker_processes": (
                recommended_workers(outlook.get("peak_per_second", plan.demand), plan.capacity, plan.workers)
                if plan
                else None
            ),
            "eta_hit_rate": round(hit / finished, 4) if finished else None,
            "traffic_last_minute": last,  # the previous calendar minute
            "traffic_last_60_seconds": rolling,
        }
    plan_doc = reader.plan
    return json_response(
        {
            "at": iso_utc(plan_doc.at) if plan_doc else None,
            "mode": reader.throttle.mode,
            "kinds": kinds,
        },
        headers={"Cache-Control": "no-store"},
    )
