"""The development identity provider (SPEC "Additions"): a JWKS endpoint and a token-minting endpoint.

It stands in for the portal's login: whoever asks gets a token for any resident ID, so it must never be
reachable from outside a test or development machine (it listens on the loopback by default). Keys are
made at start and live as long as the process; ``POST /v1/keys/rotate`` adds a new signing key, as a real
provider's rotation would, so that tests can check that verifiers pick it up.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from queue_config.web.http import error_response, json_response, request_context

ALGORITHMS = ("RS256", "ES256")
DEFAULT_TTL_SECONDS = 600
# Negative lifetimes are allowed (a token that is already expired, for tests of refusal) within a day.
MAX_TTL_SECONDS = 86_400
KEPT_KEYS_PER_ALGORITHM = 3

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _new_key(alg: str) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Provider:
    issuer: str
    # Per algorithm, its keys newest last; the newest signs.
    keys: dict[str, list[tuple[str, PrivateKey]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for alg in ALGORITHMS:
            self.rotate(alg)

    def rotate(self, alg: str) -> str:
        kid = f"{alg.lower()}-{uuid.uuid4().hex[:12]}"
        kept = self.keys.setdefault(alg, [])
        kept.append((kid, _new_key(alg)))
        del kept[:-KEPT_KEYS_PER_ALGORITHM]
        return kid

    def jwks(self) -> dict[str, Any]:
        published = []
        for alg, kept in self.keys.items():
            for kid, key in kept:
                public = key.public_key()
                jwk = (
                    RSAAlgorithm.to_jwk(public, as_dict=True)
                    if isinstance(public, rsa.RSAPublicKey)
                    else ECAlgorithm.to_jwk(public, as_dict=True)
                )
                published.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": published}

    def mint(self, sub: str, ttl: int, aud: str, alg: str) -> str:
        kid, key = self.keys[alg][-1]
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


PROVIDER = web.AppKey("provider", Provider)


async def openid_configuration(request: web.Request) -> web.Response:
    issuer = request.app[PROVIDER].issuer
    return json_response(
        {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "token_endpoint": f"{issuer}/v1/tokens",
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(ALGORITHMS),
        }
    )


async def jwks(request: web.Request) -> web.Response:
    return json_response(request.app[PROVIDER].jwks(), headers={"Cache-Control": "max-age=300"})


async def post_token(request: web.Request) -> web.Response:
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return error_response(400, "malformed_json", "Body is not valid JSON")
    if not isinstance(doc, dict):
        return error_response(
            422, "validation_failed", "Body must be a JSON object", fields={"body": "object"}
        )
    fields: dict[str, str] = {}
    sub, ttl = doc.get("sub"), doc.get("ttl_seconds", DEFAULT_TTL_SECONDS)
    aud, alg = doc.get("aud", "ticketgate"), doc.get("alg", "RS256")
    if not isinstance(sub, str) or not 1 <= len(sub) <= 64:
        fields["sub"] = "a string of 1 to 64 characters (the resident ID)"
    if not isinstance(ttl, int) or isinstance(ttl, bool) or abs(ttl) > MAX_TTL_SECONDS:
        fields["ttl_seconds"] = f"an integer from -{MAX_TTL_SECONDS} to {MAX_TTL_SECONDS}"
    if not isinstance(aud, str) or not aud:
        fields["aud"] = "a non-empty string"
    if alg not in ALGORITHMS:
        fields["alg"] = f"one of {', '.join(ALGORITHMS)}"
    if unknown := set(doc) - {"sub", "ttl_seconds", "aud", "alg"}:
        fields.update({name: "unknown field" for name in sorted(unknown)})
    if fields:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=fields)
    token = request.app[PROVIDER].mint(str(sub), ttl, aud, alg)
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


async def post_rotate(request: web.Request) -> web.Response:
    alg = request.query.get("alg", "RS256")
    if alg not in ALGORITHMS:
        return error_response(
            422, "validation_failed", "Unknown algorithm", fields={"query.alg": "RS256 or ES256"}
        )
    return json_response({"kid": request.app[PROVIDER].rotate(alg), "alg": alg}, status=201)


async def healthz(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def build_app(issuer: str) -> web.Application:
    app = web.Application(middlewares=[request_context])
    app[PROVIDER] = Provider(issuer.rstrip("/"))
    app.add_routes(
        [
            web.get("/.well-known/openid-configuration", openid_configuration),
            web.get("/.well-known/jwks.json", jwks),
            web.post("/v1/tokens", post_token),
            web.post("/v1/keys/rotate", post_rotate),
            web.get("/healthz", healthz),
        ]
    )
    return app
