"""HTTP plumbing shared by the front door and the status API: request IDs, JSON errors, JSON replies.

Every response carries ``X-Request-ID``; every error, including aiohttp's own 404/405/413, is the SPEC's
``{"error", "message"}`` JSON; an unexpected exception is logged and answered 500 without details.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from queue_config.errors import BackendUnavailable

log = structlog.get_logger("http")


class _OutageLog:
    """One warning a second while a backend is down, with the number of refusals it stands for: at a
    thousand requests a second, a line per refused request would drown the log in the same news."""

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._next_at = 0.0
        self._suppressed = 0

    def refused(self, error: str, path: str) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._suppressed += 1
            return
        log.warning("backend_unavailable", error=error, path=path, also_refused=self._suppressed)
        self._suppressed = 0
        self._next_at = now + self._interval


_outage_log = _OutageLog()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def iso_utc(ts: float) -> str:
    """A unix time as ISO 8601 in UTC with milliseconds and a ``Z``: the one format of every answer."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return json_response({"error": code, "message": message, **extra}, status, headers)


def retry_later(
    status: int,
    code: str,
    message: str,
    retry_after_seconds: float,
    suggested_time: dt.datetime | None = None,
) -> web.Response:
    """SPEC's shape for every "not now" answer (429, 503): a whole-second ``Retry-After`` header, the
    same number in the body, and ``suggested_time`` (ISO 8601, UTC) when a better time is known."""
    retry_after = max(1, math.ceil(retry_after_seconds))
    extra: dict[str, Any] = {"retry_after_seconds": retry_after}
    if suggested_time is not None:
        extra["suggested_time"] = (
            suggested_time.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
    return error_response(status, code, message, headers={"Retry-After": str(retry_after)}, **extra)


def enterprise_unauthorized() -> web.Response:
    """The bulk API's and the batch status's answer to a missing, unknown or revoked enterprise key."""
    return error_response(
        401,
        "unauthorized",
        "A valid enterprise API key is required",
        headers={"WWW-Authenticate": 'Bearer realm="ticketgate-bulk"'},
    )


def unavailable(exc: BackendUnavailable, retry_after: int = 5) -> web.Response:
    return retry_later(
        503, "unavailable", "The service cannot safely queue requests right now; please retry.", retry_after
    )


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own answers carry headers that belong to them (``Allow`` on a 405).
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
        response = error_response(
            exc.status, _REASONS.get(exc.status, "http_error"), exc.reason or "error", headers=kept or None
        )
    except BackendUnavailable as exc:
        _outage_log.refused(str(exc), request.path)
        response = unavailable(exc)
    except ConnectionResetError:
        # The client went away mid-request (a load generator stopping, a phone losing signal): nobody is
        # left to answer and nothing was accepted, so it is no error of ours; aiohttp drops it quietly.
        log.info("client_disconnected", path=request.path)
        raise
    except Exception:
        log.exception("unhandled_error", path=request.path)
        response = error_response(500, "internal_error", "Unexpected error; it has been logged.")
    response.headers["X-Request-ID"] = request_id
    return response
