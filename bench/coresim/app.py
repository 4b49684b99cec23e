"""HTTP face of the core-system simulator (SPEC "The core systems")."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from bench.coresim.model import CoreModel, CoreSettings, FaultRule, PermanentFailure, TransientFailure
from queue_config.kinds import REGISTRY

MODEL = web.AppKey("model", CoreModel)
# The operations of every kind the registry declares (``queue_config.kinds``).
KINDS = frozenset(spec.core_operation for spec in REGISTRY.values())


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def execute(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        return _json({"error": "not_found", "message": f"unknown kind {kind}"}, 404)
    key = request.headers.get("Idempotency-Key")
    if not key:
        return _json({"error": "bad_request", "message": "Idempotency-Key header required"}, 400)
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _json({"error": "bad_request", "message": "body is not JSON"}, 400)
    payload = doc.get("payload") if isinstance(doc, dict) else None
    if not isinstance(payload, dict):
        return _json({"error": "bad_request", "message": "payload object required"}, 400)
    try:
        result = await request.app[MODEL].execute(kind, key, payload)
    except TransientFailure as exc:
        return _json({"error": "unavailable", "message": str(exc)}, 503)
    except PermanentFailure as exc:
        return _json({"error": exc.code, "message": str(exc)}, 422)
    return _json({"status": "ok", "result": result})


async def ledger_entry(request: web.Request) -> web.Response:
    entry = request.app[MODEL].ledger.get(request.match_info["key"])
    return _json({"effects": entry.effects if entry else 0, "calls": entry.calls if entry else 0})


async def ledger_totals(request: web.Request) -> web.Response:
    return _json(request.app[MODEL].totals())


async def stats(request: web.Request) -> web.Response:
    raw = request.query.get("window")
    try:
        window = float(raw) if raw is not None else None
    except ValueError:
        return _json({"error": "bad_request", "message": "window must be seconds"}, 400)
    return _json(request.app[MODEL].stats(window))


async def reconfigure(request: web.Request) -> web.Response:
    """``PUT /v1/capacity`` ``{"slots": n, "service_ms": x}``: change the simulated capacity live."""
    doc = orjson.loads(await request.read())
    model = request.app[MODEL]
    await model.reconfigure(
        slots=int(doc["slots"]) if "slots" in doc else None,
        service_ms=float(doc["service_ms"]) if "service_ms" in doc else None,
    )
    return _json({"slots": model.settings.slots, "service_ms": model.settings.service_ms})


async def add_fault(request: web.Request) -> web.Response:
    doc = orjson.loads(await request.read())
    rule = FaultRule(
        match=dict(doc["match"]),
        transient=int(doc.get("transient", 0)),
        permanent=bool(doc.get("permanent", False)),
    )
    request.app[MODEL].faults.append(rule)
    return _json({"faults": len(request.app[MODEL].faults)}, 201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[MODEL].faults.clear()
    return _json({"faults": 0})


def build_app(settings: CoreSettings) -> web.Application:
    app = web.Application()
    app[MODEL] = CoreModel(settings)
    app.router.add_post("/v1/faults", add_fault)
    app.router.add_delete("/v1/faults", clear_faults)
    app.router.add_get("/v1/ledger", ledger_totals)
    app.router.add_get("/v1/ledger/{key}", ledger_entry)
    app.router.add_get("/v1/stats", stats)
    app.router.add_put("/v1/capacity", reconfigure)
    app.router.add_post("/v1/{kind}", execute)
    return app
