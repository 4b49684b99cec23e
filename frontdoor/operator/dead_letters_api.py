"""Dead letters for operators: ``GET /v1/admin/dead-letters?kind=K`` lists a kind's failed tickets,
``GET /v1/admin/dead-letters/{ticket_id}`` shows one with its message, and ``POST
/v1/admin/dead-letters/replay`` ``{"kind", "ticket_ids"?}`` queues some (or all) of a kind again.

The list comes from the ticket store's index of failed tickets, which the worker's FINISH writes in the
same step as the failure; the messages themselves are in the kind's dead-letter queue. Replay takes
each message from that queue, gives its ticket a fresh attempt budget, publishes it to the work queue
with a confirm and only then acks it in the dead-letter queue; messages not asked for are handed back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web

from frontdoor.app_keys import DEAD_LETTERS, STORES
from frontdoor.intake.request_body import HttpError, read_object
from frontdoor.operator.auth import operator_only
from queue_config import resident_id
from queue_config.broker import BrokerLink
from queue_config.errors import BrokerUnavailable
from queue_config.kinds import KINDS
from queue_config.messages import decode, decode_bundle, is_bundle
from queue_config.names import Names
from queue_config.stores.tickets import TicketRecord, TicketStore
from queue_config.web.http import error_response, iso_utc, json_response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# A replay or an inspection reads at most this many messages of a dead-letter queue in one call.
SCAN_LIMIT = 20_000


def _summary(record: TicketRecord, failed_at: float | None) -> dict[str, Any]:
    return {
        "ticket_id": record.ticket_id,
        "kind": record.kind,
        "status": record.status.value,
        "attempts": record.attempts,
        "error": record.error,
        "failed_at": iso_utc(failed_at) if failed_at else None,
        "created_at": iso_utc(record.created_at),
        "batch_id": record.batch,
    }


class DeadLetters:
    def __init__(self, store: TicketStore, names: Names, broker: BrokerLink) -> None:
        self.store = store
        self._names = names
        self._broker = broker

    async def listing(self, kind: str, limit: int) -> tuple[int, list[dict[str, Any]]]:
        total, rows = await self.store.dead_letters(kind, limit)
        out = []
        for ticket_id, failed_at in rows:
            record = await self.store.get(ticket_id)
            if record is not None:
                out.append(_summary(record, failed_at))
        return total, out

    async def scan(
        self, kind: str, wanted: set[str] | None, *, replay: bool
    ) -> tuple[list[str], dict[str, Any]]:
        """Read the kind's dead-letter queue; replay (or just look at) the messages in ``wanted`` (all
        when None). Returns the ticket IDs handled and, when looking, their decoded messages."""
        if not self._broker.ready:
            raise BrokerUnavailable("RabbitMQ is not connected")
        channel = await self._broker.channel(prefetch=0)
        handled: list[str] = []
        seen: dict[str, Any] = {}
        held: list[AbstractIncomingMessage] = []
        try:
            queue = await channel.declare_queue(self._names.dead_queue(kind), passive=True)
            for _ in range(SCAN_LIMIT):
                message = await queue.get(fail=False)
                if message is None:
                    break
                if is_bundle(message.headers):
                    await self._split(message)
                    continue
                ticket_id = message.message_id or ""
                if wanted is not None and ticket_id not in wanted:
                    held.append(message)
                    continue
                if replay:
                    await self.store.replay(ticket_id, kind)
                    await self._broker.publish(message.body, routing_key=kind, message_id=ticket_id)
                    await message.ack()
                else:
                    seen[ticket_id] = msgspec.to_builtins(decode(message.body))
                    held.append(message)
                handled.append(ticket_id)
                if wanted is not None and len(handled) == len(wanted):
                    break
            for message in held:
                await message.nack(requeue=True)
        finally:
            await channel.close()
        return handled, seen

    async def _split(self, bundle: AbstractIncomingMessage) -> None:
        """A bundle dead-lettered whole (it reached the delivery limit): its tickets go back to the
        dead-letter queue one message each, where this scan and later ones find them by ticket ID."""
        await asyncio.gather(*(self._broker.dead_letter(t) for t in decode_bundle(bundle.body)))
        await bundle.ack()


def _kind(value: Any) -> str | None:
    # Anything but a string (a fuzzer's ``{"kind": {}}``) is not a kind; a dict is not even hashable.
    return value if isinstance(value, str) and value in KINDS else None


@operator_only
async def list_dead_letters(request: web.Request, _: str) -> web.Response:
    kind = _kind(request.query.get("kind"))
    if kind is None:
        return error_response(
            422, "validation_failed", "Name a kind", fields={"query.kind": "one of: " + ", ".join(KINDS)}
        )
    try:
        limit = int(request.query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        return error_response(
            422, "validation_failed", "Bad limit", fields={"query.limit": f"an integer 1-{MAX_LIMIT}"}
        )
    total, items = await request.app[DEAD_LETTERS].listing(kind, limit)
    return json_response({"kind": kind, "total": total, "dead_letters": items})


@operator_only
async def get_dead_letter(request: web.Request, _: str) -> web.Response:
    dead = request.app[DEAD_LETTERS]
    ticket_id = request.match_info["ticket_id"]
    record = await dead.store.get(ticket_id)
    if record is None or _kind(record.kind) is None:
        return error_response(404, "not_found", "No such dead letter")
    failed_at = await dead.store.failed_at(record.kind, ticket_id)
    if failed_at is None:
        return error_response(404, "not_found", "This ticket is not a dead letter")
    _handled, seen = await dead.scan(record.kind, {ticket_id}, replay=False)
    summary = _summary(record, failed_at)
    message = seen.get(ticket_id)
    if message is not None:
        message["citizen_id"] = resident_id.mask(message["citizen_id"])
        message["created_at"] = iso_utc(message["created_at"])
    summary["message"] = message  # None: the message is no longer in the dead-letter queue
    return json_response(summary)


@operator_only
async def replay_dead_letters(request: web.Request, token: str) -> web.Response:
    try:
        doc = await read_object(request)
    except HttpError as exc:
        return exc.response
    errors = {name: "unknown field" for name in doc.keys() - {"kind", "ticket_ids"}}
    kind = _kind(doc.get("kind"))
    if kind is None:
        errors["kind"] = "must be one of: " + ", ".join(KINDS)
    ids = doc.get("ticket_ids")
    if ids is not None and not (
        isinstance(ids, list) and 0 < len(ids) <= SCAN_LIMIT and all(isinstance(t, str) for t in ids)
    ):
        errors["ticket_ids"] = "must be a non-empty array of ticket IDs, or omitted for all"
    if errors or kind is None:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=errors)
    wanted = set(ids) if ids is not None else None
    dead = request.app[DEAD_LETTERS]
    replayed, _ = await dead.scan(kind, wanted, replay=True)
    missing = sorted(wanted - set(replayed)) if wanted is not None else []
    await request.app[STORES].audit.record(
        token=token,
        action="dead_letters.replay",
        before={"kind": kind, "asked": sorted(wanted) if wanted is not None else "all"},
        after={"replayed": len(replayed)},
    )
    return json_response({"kind": kind, "replayed": replayed, "not_found": missing})
