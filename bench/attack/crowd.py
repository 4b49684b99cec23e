"""Who sends the attack scenario's requests: real citizens, and scripts of several kinds.

Every request says where it comes from in ``X-Forwarded-For`` (the door trusts the generator as a
proxy), so scripts can rotate addresses as a botnet or a proxy service does, within a few /24 networks,
while each real citizen keeps its own home address.
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass
from typing import Any

from bench.submissions import submission
from queue_config.resident_id import make as make_resident_id

PROOF_HEADER = "Ticketgate-Proof"


class Sender(enum.StrEnum):
    CITIZEN = "citizen"  # a real citizen with its own token, from its own address
    NO_TOKEN = "script: no token"  # noqa: S105 (a label) valid-looking resident IDs, no token at all
    EXPIRED = "script: expired token"  # tokens stolen from citizens, expired since
    REPLAYED = "script: replayed token"  # a few stolen tokens still valid, from rotating addresses
    FORGED = "script: forged token"  # a token of the right shape signed by the script's own key


# Of the scripts' requests: their mix over the kinds above.
SCRIPT_MIX: dict[Sender, float] = {
    Sender.NO_TOKEN: 0.35,
    Sender.EXPIRED: 0.25,
    Sender.REPLAYED: 0.25,
    Sender.FORGED: 0.15,
}
SCRIPT_NETWORKS = 20  # the /24 networks the scripts' addresses rotate within
STOLEN_TOKENS = 10


def citizen_address(citizen_id: str) -> str:
    """A real citizen's home address: one per citizen, stable, in 10.0.0.0/8."""
    h = hashlib.sha256(citizen_id.encode()).digest()
    return f"10.{h[0]}.{h[1]}.{h[2] or 1}"


@dataclass
class Crowd:
    tokens: dict[str, str]  # the real citizens' (bench.citizen_tokens)
    expired: list[tuple[str, str]]  # stolen tokens, expired since (citizen, token)
    stolen: list[tuple[str, str]]  # stolen tokens still valid (citizen, token)
    forged: list[tuple[str, str]]  # (citizen, forged token)
    script_share: float
    rng: random.Random
    seed: int = 900_000_000

    def next(self) -> tuple[Sender, dict[str, Any], dict[str, str]]:
        """The next request: who sends it, its body and its headers."""
        self.seed += 1
        body = submission(self.seed)
        if self.rng.random() >= self.script_share:
            citizen = body["citizen_id"]
            headers = {"Authorization": f"Bearer {self.tokens[citizen]}"}
            return Sender.CITIZEN, body, {**headers, "X-Forwarded-For": citizen_address(citizen)}
        sender = self.rng.choices(list(SCRIPT_MIX), weights=list(SCRIPT_MIX.values()))[0]
        network = 16 + self.rng.randrange(SCRIPT_NETWORKS)
        headers = {"X-Forwarded-For": f"172.{network}.{self.rng.randrange(4)}.{self.rng.randrange(1, 255)}"}
        if sender is Sender.NO_TOKEN:
            # A fresh valid-looking resident ID each time, outside the citizens' pool
            body["citizen_id"] = _script_resident_id(self.seed)
        elif sender is Sender.EXPIRED:
            citizen, token = self.rng.choice(self.expired)
            body["citizen_id"] = citizen
            headers["Authorization"] = f"Bearer {token}"
        elif sender is Sender.REPLAYED:
            citizen, token = self.rng.choice(self.stolen)
            body["citizen_id"] = citizen
            headers["Authorization"] = f"Bearer {token}"
        else:
            citizen, token = self.rng.choice(self.forged)
            body["citizen_id"] = citizen
            headers["Authorization"] = f"Bearer {token}"
        return sender, body, headers


def _script_resident_id(seed: int) -> str:
    return make_resident_id(seed % 900_000, region="440305")


def victim(n: int) -> str:
    """A citizen whose token a script stole: none of the benchmark's real citizens."""
    return make_resident_id(n, region="330106")
