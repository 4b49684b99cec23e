"""Verifying a citizen's bearer token: signature (against the provider's JWKS), issuer, audience and
expiry, with PyJWT doing the cryptography and the claim checks."""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
import orjson

from queue_config.errors import TicketgateError
from queue_config.identity.jwks import ALGORITHMS, KeySet


class InvalidToken(TicketgateError):
    """The token proves nothing: missing, malformed, badly signed, expired, or meant for someone else.
    ``final``: no later moment makes it good (not so for a key not yet fetched, or a token not yet valid)."""

    def __init__(self, reason: str, *, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str  # the resident ID the provider vouches for
    expires_at: float


class TokenVerifier:
    # A citizen's browser sends one token for many requests (submission, status reads); a verified one is
    # remembered until it expires, so the signature is checked once per token, not once per request.
    # A script replays its tokens too: a refusal that no later moment can undo (a bad signature, an
    # expiry, another audience) is remembered as well. Both bounded, oldest first out: a flood of
    # distinct tokens only costs their checks again.
    CACHE_SIZE = 65_536

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, leeway: float) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified: OrderedDict[str, Identity] = OrderedDict()
        self._refused: OrderedDict[str, str] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        """The token's identity, or InvalidToken; KeysUnavailable when the provider's keys cannot be
        fetched (then nothing can be told about the token)."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at + self._leeway:
                return known
            del self._verified[token]
        refused = self._refused.get(token)
        if refused is not None:
            raise InvalidToken(refused)
        try:
            identity = await self._check(token)
        except InvalidToken as exc:
            if exc.final:
                _bounded_put(self._refused, token, str(exc), self.CACHE_SIZE)
            raise
        _bounded_put(self._verified, token, identity, self.CACHE_SIZE)
        return identity

    async def _check(self, token: str) -> Identity:
        header, unverified = _unverified_parts(token)
        # Claims that refuse the token whoever signed it are checked before the signature, so a script
        # replaying expired or foreign tokens costs a base64 decode, not a signature check. (Only
        # refusals are taken from unverified claims.)
        expires = unverified.get("exp")
        if isinstance(expires, int | float) and expires + self._leeway < time.time():
            raise InvalidToken("Signature has expired", final=True)
        if unverified.get("iss") != self._issuer:
            raise InvalidToken("Invalid issuer", final=True)
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"tokens must be signed with one of {', '.join(ALGORITHMS)}", final=True)
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key (kid)", final=True)
        key = await self._keys.key(kid)
        if key is None:
            # Not final: the provider may publish this key yet (a rotation we have not fetched).
            raise InvalidToken("the token is signed with a key the identity provider does not publish")
        if key.algorithm_name != alg:
            raise InvalidToken("the token's algorithm does not match its key", final=True)
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
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken(str(exc)) from None  # nbf or iat ahead of us: good later
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc) or type(exc).__name__, final=True) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token's subject is empty", final=True)
        return Identity(subject.upper(), float(claims["exp"]))


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A JWS compact token's header and claims, unverified. Not PyJWT's: its unverified decode runs its
    whole option machinery, three times the cost of this on a refused token."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed token: not three dot-separated parts", final=True)
    try:
        header, claims = (orjson.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2])
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidToken("malformed token: its parts are not base64url JSON", final=True) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("malformed token: its parts are not JSON objects", final=True)
    return header, claims


def _bounded_put(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
