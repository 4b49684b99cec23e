"""``GET /v1/stats/eta``: how often finished tickets met the p90 ETA they were promised at acceptance."""

from __future__ import annotations

from aiohttp import web

from queue_config.kinds import KINDS
from queue_config.web.http import json_response
from status_api.tickets import READER


async def get_eta_accuracy(request: web.Request) -> web.Response:
    store = request.app[READER].store
    kinds = {}
    all_hits = all_misses = 0
    for kind in KINDS:
        hits, misses = await store.eta_outcomes(kind)
        all_hits, all_misses = all_hits + hits, all_misses + misses
        kinds[kind] = _rate(hits, misses)
    return json_response({"target": 0.9, "kinds": kinds, "all": _rate(all_hits, all_misses)})


def _rate(hits: int, misses: int) -> dict[str, float | int | None]:
    n = hits + misses
    return {"finished": n, "within_p90": hits, "hit_rate": round(hits / n, 4) if n else None}
