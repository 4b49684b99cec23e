"""Every route of the front door, in one table (SPEC "HTTP contract"; the operator API needs its token)."""

from __future__ import annotations

from aiohttp import web

from frontdoor.bulk.api import post_bulk
from frontdoor.defense.challenge import solver_script
from frontdoor.intake.submissions import post_submission
from frontdoor.operator.dashboard import dashboard
from frontdoor.operator.dead_letters_api import get_dead_letter, list_dead_letters, replay_dead_letters
from frontdoor.operator.enterprise_api import create_enterprise, list_enterprises, revoke_enterprise
from frontdoor.operator.forecast_api import get_forecast
from frontdoor.operator.throttle_api import get_audit, get_throttle, put_throttle
from queue_config.ticket_ids import ID_LENGTH
from queue_config.web.openapi import openapi_route


def setup_routes(app: web.Application, public_url: str) -> None:
    app.add_routes(
        [
            web.post("/v1/submissions", post_submission),
            web.post("/v1/bulk", post_bulk),
            web.get("/v1/challenge/solver.js", solver_script),
            web.get("/v1/admin/throttle", get_throttle),
            web.put("/v1/admin/throttle", put_throttle),
            web.get("/v1/admin/audit", get_audit),
            web.post("/v1/admin/enterprises", create_enterprise),
            web.get("/v1/admin/enterprises", list_enterprises),
            web.delete("/v1/admin/enterprises/{enterprise_id}", revoke_enterprise),
            web.get("/v1/admin/forecast", get_forecast),
            web.get("/v1/admin/dead-letters", list_dead_letters),
            web.post("/v1/admin/dead-letters/replay", replay_dead_letters),
            # Only what can be a ticket ID: otherwise ``/replay`` matched here too, and its 405 allowed GET.
            web.get(f"/v1/admin/dead-letters/{{ticket_id:[A-Za-z2-7]{{{ID_LENGTH}}}}}", get_dead_letter),
            web.get("/dashboard", dashboard),
            web.get("/openapi.json", openapi_route("front", public_url)),
        ]
    )
