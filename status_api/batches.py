"""``GET /v1/batches/{batch_id}``: a batch's counts per status and its failed items, for the enterprise
that posted it (401 without a valid key, 403 with another enterprise's, 404 for no such batch)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from queue_config.kinds import Status
from queue_config.planning.admission_plan import PlanReader
from queue_config.planning.throttle import Mode
from queue_config.stores.batches import BatchStore
from queue_config.stores.enterprises import EnterpriseStore, bearer
from queue_config.ticket_ids import TicketIds
from queue_config.web.http import enterprise_unauthorized, error_response, json_response


@dataclass(frozen=True, slots=True)
class BatchReader:
    ids: TicketIds
    batches: BatchStore
    enterprises: EnterpriseStore
    plan: PlanReader


BATCHES = web.AppKey("batches", BatchReader)


async def get_batch(request: web.Request) -> web.Response:
    reader = request.app[BATCHES]
    enterprise = await reader.enterprises.authenticate(bearer(request.headers))
    if enterprise is None:
        return enterprise_unauthorized()
    batch_id = request.match_info["batch_id"]
    meta = await reader.batches.meta(batch_id) if reader.ids.verify(batch_id) else None
    if meta is None:
        return error_response(404, "not_found", "No such batch")
    if meta.get("enterprise_id") != enterprise.enterprise_id:
        return error_response(403, "forbidden", "This batch belongs to another enterprise")
    maintenance = reader.plan.throttle.mode is Mode.MAINTENANCE
    doc = await reader.batches.status_document(batch_id, meta, lambda s: Status.shown(s, maintenance))
    return json_response(doc, headers={"Cache-Control": "no-store"})
