"""The worker's handler of each business kind (``queue_config.kinds``): a ticket becomes its kind's
core-system operation.

A handler is ``async (ticket, core) -> result``; the ticket ID is always the idempotency key, so a
redelivered ticket can never apply its effect twice in the core system.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from queue_config.kinds import REGISTRY, KindSpec
from queue_config.messages import TicketMessage
from workers.core_calls.core_client import CoreSystem

Handler = Callable[[TicketMessage, CoreSystem], Awaitable[dict[str, Any]]]


def handler_for(spec: KindSpec[Any]) -> Handler:
    async def handle(ticket: TicketMessage, core: CoreSystem) -> dict[str, Any]:
        request = {"citizen_id": ticket.citizen_id, "payload": ticket.payload, "reference": ticket.ticket_id}
        return await core.execute(spec.core_operation, ticket.ticket_id, request)

    return handle


HANDLERS: dict[str, Handler] = {name: handler_for(spec) for name, spec in REGISTRY.items()}
