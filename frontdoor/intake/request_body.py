"""Reading a JSON request body the way SPEC wants errors reported: 413, 415, 400, in that order."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from frontdoor.app_keys import MAX_BODY
from queue_config.web.http import error_response
from queue_config.web.serving import BODY_TIMEOUT


class HttpError(Exception):
    """An error answer decided while reading or checking a request."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"{status} {code}")
        self.response = error_response(status, code, message, **extra)


def body_timeout() -> HttpError:
    """408 for a body that trickles in slower than ``BODY_TIMEOUT`` allows (a slowloris client); the
    connection is closed with it, not kept to read the rest of the body."""
    error = HttpError(408, "request_timeout", f"The body did not arrive within {BODY_TIMEOUT:.0f} seconds")
    error.response.force_close()
    return error


async def read_object(request: web.Request) -> dict[str, Any]:
    """A JSON object body (the operator API's), or an HttpError: 413, 415, 400, or 422 for another type."""
    doc = await read_json(request)
    if not isinstance(doc, dict):
        raise HttpError(422, "validation_failed", "Body must be a JSON object", fields={"body": "object"})
    return doc


async def read_json(request: web.Request) -> object:
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, "payload_too_large", f"Body is larger than {limit} bytes")
    if request.content_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")
    if (request.charset or "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise HttpError(415, "unsupported_media_type", "JSON must be encoded as UTF-8")
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await request.read()  # aiohttp enforces client_max_size on chunked bodies too
    except web.HTTPRequestEntityTooLarge as exc:
        raise HttpError(413, "payload_too_large", f"Body is larger than {limit} bytes") from exc
    except TimeoutError as exc:
        raise body_timeout() from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, "malformed_json", f"Body is not valid JSON: {exc.msg}") from exc
