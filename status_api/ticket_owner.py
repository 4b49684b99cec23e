"""Whether a reader is the ticket's owner, who alone sees a done ticket's ``result`` (SPEC "Additions"):
the citizen whose token it was submitted with, or the enterprise whose key posted its batch. Anyone with
the ticket ID (an unguessable capability) still reads its status."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from queue_config.identity.citizens import CitizenIdentity, InvalidToken, KeysUnavailable
from queue_config.kinds import Status
from queue_config.stores.enterprises import EnterpriseStore, bearer, plausible_key
from queue_config.stores.tickets import TicketRecord
from queue_config.ticket_ids import TicketIds

# What a reader whose token failed verification is told, with the status it may still read.
INVALID_TOKEN_CHALLENGE = 'Bearer realm="ticketgate", error="invalid_token"'  # noqa: S105 (a header)


@dataclass(frozen=True, slots=True)
class OwnerCheck:
    identity: CitizenIdentity
    ids: TicketIds
    enterprises: EnterpriseStore

    async def proves(self, request: web.Request, record: TicketRecord) -> tuple[bool, bool]:
        """(the request may see the ticket's result: it is done and the request proves it is its owner,
        the token it presented failed verification). Only a done ticket has a result to guard: for any
        other nothing is checked."""
        if record.owner is None or record.status is not Status.DONE:
            return False, False
        token = bearer(request.headers)
        if token is not None and token.count(".") != 2 and plausible_key(token):
            enterprise = await self.enterprises.authenticate(token)
            owned = enterprise is not None and self._is(record, "enterprise:" + enterprise.enterprise_id)
            return owned, False
        try:
            subject = await self.identity.subject(request.headers, request.remote)
        except InvalidToken:
            return False, True
        except KeysUnavailable:
            return False, False
        return subject is not None and self._is(record, "citizen:" + subject), False

    def _is(self, record: TicketRecord, client: str) -> bool:
        # A record keeps the owner's first digits (16; 32 before): compare as many as it kept.
        owner = record.owner or ""
        return len(owner) >= 16 and hmac.compare_digest(self.ids.scope(client)[: len(owner)], owner)


OWNERS = web.AppKey("owners", OwnerCheck)
