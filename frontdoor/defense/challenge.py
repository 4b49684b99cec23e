"""The door's demand for proof of work, before a suspicious client's request costs any Redis or
RabbitMQ work: 429 ``challenge_required`` with a challenge, or, with a solved one in ``Ticketgate-Proof``,
one Redis write that spends it (a solution is good once, on any door)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from frontdoor.defense.proof_of_work import PROOF_HEADER, ProofOfWork, Solved
from frontdoor.defense.suspicion import Suspicion, network_of
from frontdoor.intake.client_ip import Network, request_ip
from frontdoor.intake.request_body import HttpError
from queue_config.settings import Settings
from queue_config.stores.proofs import SpentProofs
from queue_config.ticket_ids import TicketIds


@dataclass
class Defense:
    suspicion: Suspicion
    pow: ProofOfWork
    spent: SpentProofs
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def from_settings(
        cls, settings: Settings, ids: TicketIds, spent: SpentProofs, trusted: tuple[Network, ...]
    ) -> Defense:
        suspicion = Suspicion(
            challenge_after=settings.challenge_after_per_minute,
            per_address=settings.challenge_per_address_per_minute,
            per_network=settings.challenge_per_network_per_minute,
            base_difficulty=settings.pow_difficulty_bits,
            max_difficulty=settings.pow_max_difficulty_bits,
        )
        return cls(suspicion, ProofOfWork(ids.derived_key("proof-of-work")), spent, trusted)

    async def admit(self, request: web.Request, subject: str | None) -> None:
        """Return when the client may go on; raise the 429 challenge when it must prove work first."""
        address = request_ip(request, self.trusted_proxies)
        network = network_of(address)
        difficulty = self.suspicion.difficulty_for(subject, address, network)
        if difficulty is None:
            return
        # Bound to the client's network and subject: a solution bought by one client is no use to another.
        binding = f"{network}|{subject or ''}"
        proof = request.headers.get(PROOF_HEADER)
        problem = "This client must solve a proof-of-work challenge first"
        if proof:
            # The challenge's own difficulty was signed when it was issued: a client whose count rose
            # while it solved is not sent round again.
            checked = self.pow.check(proof, binding, self.suspicion.base_difficulty)
            if isinstance(checked, Solved):
                if await self.spent.spend(checked.proof_id, math.ceil(checked.expires_at - time.time()) + 1):
                    return
                problem = "This solution was used before; solve the new challenge"
            else:
                problem = f"The proof was refused ({checked}); solve the new challenge"
        raise HttpError(
            429,
            "challenge_required",
            problem,
            headers={"Retry-After": "1"},
            retry_after_seconds=1,
            challenge=self.pow.issue(binding, difficulty),
            difficulty=difficulty,
            proof_header=PROOF_HEADER,
            how="find a nonce such that SHA-256('<challenge>:<nonce>') starts with <difficulty> zero bits; "
            "send the same request with the header 'Ticketgate-Proof: <challenge>:<nonce>'",
        )


_SOLVER = (Path(__file__).parent / "solver.js").read_bytes()


async def solver_script(_: web.Request) -> web.Response:
    """``GET /v1/challenge/solver.js``: the solver a portal's page uses (``ticketgateProof.solve``)."""
    return web.Response(
        body=_SOLVER,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )
