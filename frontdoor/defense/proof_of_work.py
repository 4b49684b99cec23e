"""Hashcash-style proof of work: a challenge the door signs, a nonce the client searches for.

A challenge is ``<expires>.<difficulty>.<salt>.<mac>``: the door keeps nothing for it (the MAC, under a
key derived from the ticket secret, proves it issued it, to this client, with this difficulty). The
client finds a ``nonce`` such that SHA-256(``<challenge>:<nonce>``) starts with ``difficulty`` zero bits
and sends ``Ticketgate-Proof: <challenge>:<nonce>``. Checking costs one HMAC and one SHA-256; a solution
is good once (the caller spends its MAC, ``queue_config.stores.proofs``) and until it expires.

Written here rather than taken from a library: the scheme is the dozen lines below, and the libraries
that offer it (hashcash stamps for mail) bind it to a mail address and a date format of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass

# How long a challenge may be solved and used: longer than a slow phone's search, short enough that a
# stock of solutions goes stale.
CHALLENGE_SECONDS = 120
PROOF_HEADER = "Ticketgate-Proof"


@dataclass(frozen=True, slots=True)
class Solved:
    proof_id: str  # the challenge's MAC: what is spent so that the solution is good once
    expires_at: float


class ProofOfWork:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"ticketgate proof-of-work\0" + key).digest()
        # A challenge's salt need only be unique (its MAC makes it unforgeable): a random prefix per
        # process and a counter, rather than a read of the OS's random source per challenge.
        self._prefix = secrets.token_hex(4)
        self._issued = itertools.count()

    def issue(self, binding: str, difficulty: int, now: float | None = None) -> str:
        """A challenge for the client ``binding`` names (its network and token subject)."""
        expires = int((now or time.time()) + CHALLENGE_SECONDS)
        body = f"{expires}.{difficulty}.{self._prefix}{next(self._issued):x}"
        return f"{body}.{self._mac(body, binding)}"

    def check(self, proof: str, binding: str, minimum: int, now: float | None = None) -> Solved | str:
        """The solved challenge, or why the proof is no good (a short reason for the answer)."""
        challenge, sep, nonce = proof.rpartition(":")
        parts = challenge.split(".")
        if not sep or len(parts) != 4 or not 0 < len(nonce) <= 64:
            return "malformed proof"
        expires, difficulty, _salt, mac = parts
        if not hmac.compare_digest(mac, self._mac(".".join(parts[:3]), binding)):
            return "not a challenge of ours for this client"
        if not (expires.isdigit() and difficulty.isdigit()):
            return "malformed proof"
        if int(expires) < (now or time.time()):
            return "the challenge has expired"
        if int(difficulty) < minimum:
            return "the challenge is easier than the one now required"
        if leading_zero_bits(hashlib.sha256(proof.encode()).digest()) < int(difficulty):
            return "the nonce does not solve the challenge"
        return Solved(mac, float(expires))

    def _mac(self, body: str, binding: str) -> str:
        return hmac.new(self._key, f"{body}|{binding}".encode(), hashlib.sha256).hexdigest()[:32]


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(challenge: str, max_tries: int = 1 << 30) -> str:
    """A proof for ``challenge`` (clients' side, for tests and the benchmark's citizens; the page's
    JavaScript does the same, ``frontdoor/defense/solver.js``)."""
    difficulty = int(challenge.split(".")[1])
    prefix = challenge.encode() + b":"
    for n in range(max_tries):
        nonce = format(n, "x").encode()
        if leading_zero_bits(hashlib.sha256(prefix + nonce).digest()) >= difficulty:
            return f"{challenge}:{nonce.decode()}"
    raise RuntimeError("no solution within max_tries")
