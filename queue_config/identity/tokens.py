"""Verifying a citizen's bearer token: signature (against the provider's JWKS), issuer, audience and
expiry, with PyJWT doing the cryptography and the claim checks."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from queue_config.errors import TicketgateError
from queue_config.identity.jwks import ALGORITHMS, KeySet


class InvalidToken(TicketgateError):
    """The token proves nothing: missing, malformed, badly signed, expired, or meant for someone else."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str  # the resident ID the provider vouches for
    expires_at: float


class TokenVerifier:
    # A citizen's browser sends one token for many requests (submission, status reads); a verified one is
    # remembered until it expires, so the signature is checked once per token, not once per request.
    # Bounded, oldest first out: a flood of distinct valid tokens only costs their verifications again.
    CACHE_SIZE = 65_536

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, leeway: float) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified: OrderedDict[str, Identity] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        """The token's identity, or InvalidToken; KeysUnavailable when the provider's keys cannot be
        fetched (then nothing can be told about the token)."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at + self._leeway:
                return known
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        # Claims that refuse the token whoever signed it are checked before the signature, so a script
        # replaying expired or foreign tokens costs a base64 decode, not a signature check. (Only
        # refusals are taken from unverified claims.)
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        expires = unverified.get("exp")
        if isinstance(expires, int | float) and expires + self._leeway < time.time():
            raise InvalidToken("Signature has expired")
        if unverified.get("iss") != self._issuer:
            raise InvalidToken("Invalid issuer")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"tokens must be signed with one of {', '.join(ALGORITHMS)}")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key (kid)")
        key = await self._keys.key(kid)
        if key is None:
            raise InvalidToken("the token is signed with a key the identity provider does not publish")
        if key.algorithm_name != alg:
            raise InvalidToken("the token's algorithm does not match its key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token's subject is empty")
        identity = Identity(subject.upper(), float(claims["exp"]))
        self._remember(token, identity)
        return identity

    def _remember(self, token: str, identity: Identity) -> None:
        self._verified[token] = identity
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
