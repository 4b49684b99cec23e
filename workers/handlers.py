"""One handler per business kind: turns a ticket into the core system's request.

A handler is ``async (ticket, core) -> result``; the ticket ID is always the idempotency key, so a
redelivered ticket can never apply its effect twice in the core system.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from queue_config.kinds import Kind
from queue_config.messages import TicketMessage
from workers.core_client import CoreSystem

Handler = Callable[[TicketMessage, CoreSystem], Awaitable[dict[str, Any]]]


async def handle_pension(ticket: TicketMessage, core: CoreSystem) -> dict[str, Any]:
    return await core.execute("pension", ticket.ticket_id, _request(ticket))


async def handle_transfer(ticket: TicketMessage, core: CoreSystem) -> dict[str, Any]:
    return await core.execute("transfer", ticket.ticket_id, _request(ticket))


async def handle_payment(ticket: TicketMessage, core: CoreSystem) -> dict[str, Any]:
    return await core.execute("payment", ticket.ticket_id, _request(ticket))


def _request(ticket: TicketMessage) -> dict[str, Any]:
    return {"citizen_id": ticket.citizen_id, "payload": ticket.payload, "reference": ticket.ticket_id}


HANDLERS: dict[str, Handler] = {
    Kind.PENSION.value: handle_pension,
    Kind.TRANSFER.value: handle_transfer,
    Kind.PAYMENT.value: handle_payment,
}
