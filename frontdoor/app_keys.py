"""Every object the front door's handlers find on the app, declared in one place.

The types are imported for type checking only: handler modules import this one, so importing theirs
at run time would go round in a circle. ``AppKey`` uses its type for checking alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from frontdoor.admission.controller import AdmissionController
    from frontdoor.admission.gate import AdmissionGate
    from frontdoor.admission.traffic_counter import TrafficCounter
    from frontdoor.bulk.intake import BulkIntake
    from frontdoor.defense.challenge import Defense
    from frontdoor.intake.acceptance import Intake
    from frontdoor.operator.dead_letters_api import DeadLetters
    from queue_config.broker import BrokerLink
    from queue_config.identity.citizens import CitizenIdentity
    from queue_config.planning.admission_plan import PlanReader
    from queue_config.stores.backend import Stores
    from queue_config.web.callback_urls import CallbackPolicy

STORES: web.AppKey[Stores] = web.AppKey("stores")
BROKER: web.AppKey[BrokerLink] = web.AppKey("broker")
PLAN_READER: web.AppKey[PlanReader] = web.AppKey("plan_reader")
CONTROLLER: web.AppKey[AdmissionController] = web.AppKey("controller")
TRAFFIC: web.AppKey[TrafficCounter] = web.AppKey("traffic")
# intake
MAX_BODY: web.AppKey[int] = web.AppKey("max_body")
INTAKE: web.AppKey[Intake] = web.AppKey("intake")
GATE: web.AppKey[AdmissionGate] = web.AppKey("gate")
IDENTITY: web.AppKey[CitizenIdentity] = web.AppKey("identity")
DEFENSE: web.AppKey[Defense] = web.AppKey("defense")
# bulk
BULK_INTAKE: web.AppKey[BulkIntake] = web.AppKey("bulk_intake")
BULK_LIMITS: web.AppKey[tuple[int, int]] = web.AppKey("bulk_limits")  # (max items, max body bytes)
CALLBACK_POLICY: web.AppKey[CallbackPolicy] = web.AppKey("callback_policy")
# operator
OPERATOR_TOKEN: web.AppKey[str] = web.AppKey("operator_token")
DEAD_LETTERS: web.AppKey[DeadLetters] = web.AppKey("dead_letters")
