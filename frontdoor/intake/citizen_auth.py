"""A submission's citizen: 401 without a valid token, 403 when the token is another citizen's (SPEC
"Additions"). Checked before the body is read, so a refused request costs no Redis or RabbitMQ work."""

from __future__ import annotations

from aiohttp import web

from frontdoor.app_keys import DEFENSE, IDENTITY
from frontdoor.intake.request_body import HttpError
from queue_config import resident_id
from queue_config.identity.citizens import InvalidToken, KeysUnavailable

# Seconds a client is told to wait while the identity provider's keys cannot be fetched.
KEYS_RETRY_AFTER = 5


async def authenticated_subject(request: web.Request) -> str | None:
    """The resident ID the request is vouched for, None where no token is required and none given."""
    identity = request.app[IDENTITY]
    suspicion = request.app[DEFENSE].suspicion
    try:
        subject = await identity.subject(request.headers, request.remote)
    except InvalidToken as exc:
        suspicion.verified(False)  # a door seeing mostly failures is under attack
        raise unauthenticated(str(exc), invalid=True) from None
    except KeysUnavailable:
        raise HttpError(
            503,
            "identity_unavailable",
            "Tokens cannot be verified now: the identity provider's keys are unreachable",
            headers={"Retry-After": str(KEYS_RETRY_AFTER)},
            retry_after_seconds=KEYS_RETRY_AFTER,
        ) from None
    if subject is None and identity.required:
        suspicion.verified(False)
        raise unauthenticated("A bearer token from the portal's login is required")
    if identity.required:
        suspicion.verified(True)
    return subject


def unauthenticated(reason: str, *, invalid: bool = False) -> HttpError:
    challenge = 'Bearer realm="ticketgate"'
    if invalid:
        # RFC 6750: say the token was the problem, so a client knows to log in again, not just add one.
        challenge += ', error="invalid_token"'
    return HttpError(401, "unauthenticated", reason, headers={"WWW-Authenticate": challenge})


def ensure_owner(subject: str | None, citizen_id: str) -> None:
    """403 when the token speaks for another citizen than the one the submission names."""
    if subject is not None and subject != citizen_id:
        raise HttpError(
            403,
            "forbidden",
            f"This token is for resident ID {resident_id.mask(subject)}, not {resident_id.mask(citizen_id)}",
        )
