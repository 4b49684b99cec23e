"""``GET /v1/tickets/{ticket_id}`` with ``?wait=N`` long-polling."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from cachetools import TTLCache

from queue_config.kinds import Status
from queue_config.planning.eta import EtaEstimator
from queue_config.stores.tickets import TicketRecord, TicketStore
from queue_config.ticket_ids import TicketIds
from queue_config.web.http import error_response, json_response
from status_api.ticket_events import TicketEvents
from status_api.ticket_owner import INVALID_TOKEN_CHALLENGE, OWNERS
from status_api.ticket_view import ticket_document

MAX_WAIT_SECONDS = 30
# A reader re-reads at least this often while waiting, in case a change notice was lost some way the
# subscription did not notice (``TicketEvents``): at 10,000 waiters, 1,000 reads a second.
REREAD_SECONDS = 10.0
# A done ticket never changes (only a failed one can be replayed), so its record is kept here: a citizen
# reloading the page or a client polling once more costs no Redis read, nor a PostgreSQL one for a ticket
# in the archive. 30 minutes, as the portal this is built for caches its pages; at most this many
# records (about a kilobyte each).
DONE_CACHE_SECONDS = 1800
DONE_CACHE_ENTRIES = 20_000


def _done_cache() -> TTLCache[str, TicketRecord]:
    return TTLCache(DONE_CACHE_ENTRIES, DONE_CACHE_SECONDS)


@dataclass(frozen=True, slots=True)
class TicketReader:
    ids: TicketIds
    store: TicketStore
    eta: EtaEstimator
    events: TicketEvents
    done: TTLCache[str, TicketRecord] = field(default_factory=_done_cache)

    async def get(self, ticket_id: str) -> TicketRecord | None:
        """The stored ticket, from the cache when it is done."""
        if (cached := self.done.get(ticket_id)) is not None:
            return cached
        record = await self.store.get(ticket_id)
        if record is not None and record.status is Status.DONE:
            self.done[ticket_id] = record
        return record

    async def read(self, ticket_id: str, wait: float = 0.0) -> TicketRecord | None:
        """The ticket, after its next transition or ``wait`` seconds pass; None when it does not exist.
        A forged or mistyped ID is answered without a Redis round-trip."""
        if not self.ids.verify(ticket_id):
            return None
        if wait <= 0 or self.events.closing:
            return await self.get(ticket_id)
        # Watched before the first read: a change from then on wakes this reader, even mid-read.
        with self.events.watch(ticket_id) as watch:
            record = await self.get(ticket_id)
            if record is None or record.status.public.terminal:
                return record
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while (remaining := deadline - loop.time()) > 0:
                await watch.wait(min(remaining, REREAD_SECONDS))
                latest = await self.get(ticket_id)
                # Any transition, not only another status string: processing -> retrying -> processing
                # within one wait looked like no change, and the reader was held to the end of its wait.
                if (
                    self.events.closing
                    or latest is None
                    or (latest.status.public, latest.updated_at)
                    != (
                        record.status.public,
                        record.updated_at,
                    )
                ):
                    return latest
            return record


READER = web.AppKey("reader", TicketReader)


def parse_wait(request: web.Request) -> float | None:
    """Seconds to hold the request (``?wait``, capped at 30), or None when it is not a number."""
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        return None
    if not 0 <= value < float("inf"):
        return None
    return min(value, MAX_WAIT_SECONDS)


async def get_ticket(request: web.Request) -> web.Response:
    wait = parse_wait(request)
    if wait is None:
        return error_response(
            422,
            "validation_failed",
            "wait must be a number of seconds",
            fields={"query.wait": "must be a number from 0 to 30"},
        )
    reader = request.app[READER]
    record = await reader.read(request.match_info["ticket_id"], wait)
    if record is None:
        return error_response(404, "not_found", "No such ticket")
    headers = {"Cache-Control": "no-store"}
    owner, token_refused = await request.app[OWNERS].proves(request, record)
    if token_refused:
        # Still 200: the status is readable by ticket ID; the header says why no result came with it.
        headers["WWW-Authenticate"] = INVALID_TOKEN_CHALLENGE
    return json_response(await ticket_document(record, reader.eta, owner=owner), headers=headers)
