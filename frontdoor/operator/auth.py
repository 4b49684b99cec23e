"""Operator authentication: ``Authorization: Bearer <OPERATOR_TOKEN>``, compared in constant time. With no
token configured the operator API is closed: every call is 401."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from frontdoor.app_keys import OPERATOR_TOKEN
from queue_config.stores.enterprises import bearer
from queue_config.web.http import error_response

OperatorHandler = Callable[[web.Request, str], Awaitable[web.Response]]


def token_fingerprint(token: str) -> str:
    """What the audit log records of a token: enough to tell tokens apart, useless to an attacker."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def operator_only(handler: OperatorHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def guarded(request: web.Request) -> web.Response:
        expected = request.app.get(OPERATOR_TOKEN)
        token = bearer(request.headers)
        if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
            # Said apart: an operator trying token after token against a server that has none learns
            # at once that no token will do.
            message = (
                "A valid operator bearer token is required"
                if expected
                else "This front door has no OPERATOR_TOKEN: the operator API stays closed until one is set"
            )
            return error_response(
                401,
                "unauthorized",
                message,
                headers={"WWW-Authenticate": 'Bearer realm="ticketgate-operator"'},
            )
        return await handler(request, token_fingerprint(token))

    return guarded
