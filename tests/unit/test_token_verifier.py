"""The token verifier's memory of tokens (``queue_config.identity.tokens``), with a key set of its own."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK
from jwt.algorithms import RSAAlgorithm

from queue_config.identity.tokens import InvalidToken, TokenVerifier

ISSUER = "http://idp.test"


class Keys:
    """A provider's key set that counts lookups (each is what a signature check starts with)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.published: dict[str, PyJWK] = {"k1": PyJWK({**jwk, "kid": "k1", "alg": "RS256"})}
        self.lookups = 0

    async def key(self, kid: str) -> PyJWK | None:
        self.lookups += 1
        return self.published.get(kid)


def _token(keys: Keys, kid: str = "k1", **claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": "ticketgate",
        "sub": "110101198001010010",
        "exp": time.time() + 600,
        **claims,
    }
    return jwt.encode(body, keys.private, algorithm="RS256", headers={"kid": kid})


def _verifier(keys: Keys) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience="ticketgate", leeway=30)  # type: ignore[arg-type]


async def test_a_good_token_is_checked_once_and_its_subject_upper_cased() -> None:
    keys = Keys()
    verifier = _verifier(keys)
    token = _token(keys, sub="11010119800101001x")
    assert (await verifier.verify(token)).subject == "11010119800101001X"
    await verifier.verify(token)
    assert keys.lookups == 1


async def test_a_refusal_no_moment_can_undo_is_remembered_and_one_a_rotation_can_is_not() -> None:
    keys = Keys()
    verifier = _verifier(keys)
    forged = _token(keys)[:-6] + "AAAAAA"
    for _ in range(3):
        with pytest.raises(InvalidToken):
            await verifier.verify(forged)
    assert keys.lookups == 1
    # Expired, or for another audience: refused before any key is looked up
    for token in (_token(keys, exp=time.time() - 120), _token(keys, iss="http://elsewhere")):
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert keys.lookups == 1
    # A key the provider publishes later: refused now, good once it is published
    rotated = _token(keys, kid="k2")
    with pytest.raises(InvalidToken, match="does not publish"):
        await verifier.verify(rotated)
    keys.published["k2"] = PyJWK({**keys.published["k1"]._jwk_data, "kid": "k2"})
    assert (await verifier.verify(rotated)).subject == "110101198001010010"


async def test_a_remembered_token_still_expires() -> None:
    keys = Keys()
    verifier = _verifier(keys)
    token = _token(keys, exp=time.time() - 25)  # expired, but within the 30 s of skew
    await verifier.verify(token)
    verifier._leeway = 0  # the skew is gone: the remembered token is past its expiry now
    with pytest.raises(InvalidToken):
        await verifier.verify(token)
