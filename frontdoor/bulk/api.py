"""``POST /v1/bulk``: an enterprise's batch, as JSON ``{"items": [...], "callback_url"}`` or NDJSON.

The request as a whole fails only for what concerns all of it (the key, the body's framing, the item
count, the quota, the callback URL); each item is validated on its own and a bad one is reported in
``rejected`` while the good ones are accepted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from typing import Any

import orjson
from aiohttp import web

from frontdoor.app_keys import BULK_INTAKE, BULK_LIMITS, CALLBACK_POLICY, STORES
from frontdoor.bulk.intake import BatchConflict, QuotaExceeded
from frontdoor.intake.request_body import body_timeout
from frontdoor.intake.validation import Submission, ValidationFailed, validate_submission
from queue_config.stores.enterprises import bearer
from queue_config.web.http import enterprise_unauthorized, error_response, retry_later
from queue_config.web.serving import BODY_TIMEOUT

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_TOP_LEVEL = frozenset({"items", "callback_url"})


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _unprocessable(fields: dict[str, str], message: str = "The batch is invalid") -> _Refused:
    return _Refused(error_response(422, "validation_failed", message, fields=fields))


async def _read_body(request: web.Request, limit: int) -> bytes:
    # Read here rather than with request.read(): the application's size limit is the single
    # submission's, and a batch may be much larger.
    if request.content_length is not None and request.content_length > limit:
        raise _Refused(error_response(413, "payload_too_large", f"Body is larger than {limit} bytes"))
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            async for chunk in request.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise _Refused(
                        error_response(413, "payload_too_large", f"Body is larger than {limit} bytes")
                    )
                chunks.append(chunk)
    except TimeoutError as exc:
        raise _Refused(body_timeout().response) from exc
    return b"".join(chunks)


def _parse(request: web.Request, raw: bytes) -> tuple[list[Any], str | None]:
    """The items (undecodable NDJSON lines as ``_BadLine``) and the callback URL."""
    charset = (request.charset or "utf-8").lower().replace("_", "-")
    if charset not in ("utf-8", "utf8"):
        raise _Refused(error_response(415, "unsupported_media_type", "The body must be UTF-8"))
    if request.content_type == "application/json":
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _Refused(
                error_response(400, "malformed_json", f"Body is not valid JSON: {exc.msg}")
            ) from exc
        if not isinstance(doc, dict):
            raise _unprocessable({"body": "must be an object with an items array"})
        unknown = {name: "unknown field" for name in doc.keys() - _TOP_LEVEL}
        if unknown:
            raise _unprocessable(unknown)
        items = doc.get("items")
        if not isinstance(items, list):
            raise _unprocessable({"items": "required: an array of submissions"})
        return items, doc.get("callback_url")
    if request.content_type == "application/x-ndjson":
        items = []
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                items.append(_BadLine())
        return items, request.query.get("callback_url")
    raise _Refused(
        error_response(
            415,
            "unsupported_media_type",
            "Content-Type must be application/json or application/x-ndjson",
        )
    )


class _BadLine:
    """An NDJSON line that is not JSON: that item is rejected, the others go on."""


def _validate(items: list[Any]) -> tuple[list[tuple[int, Submission]], list[dict[str, Any]]]:
    valid: list[tuple[int, Submission]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, _BadLine):
            rejected.append({"index": index, "fields": {"body": "this line is not valid JSON"}})
            continue
        try:
            valid.append((index, validate_submission(item)))
        except ValidationFailed as exc:
            rejected.append({"index": index, "fields": exc.fields})
    return valid, rejected


async def post_bulk(request: web.Request) -> web.Response:
    enterprise = await request.app[STORES].enterprises.authenticate(bearer(request.headers))
    if enterprise is None:
        return enterprise_unauthorized()
    max_items, max_body = request.app[BULK_LIMITS]
    key = request.headers.get("Idempotency-Key")
    try:
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise _unprocessable(
                {"header.Idempotency-Key": "must be 1-255 printable ASCII characters"}, "Invalid header"
            )
        items, callback_url = _parse(request, await _read_body(request, max_body))
        if not items:
            raise _unprocessable({"items": "must hold at least one submission"})
        if len(items) > max_items:
            raise _unprocessable({"items": f"at most {max_items} submissions a batch"})
        if callback_url is not None and (problem := request.app[CALLBACK_POLICY].problem(callback_url)):
            raise _unprocessable({"callback_url": problem})
        valid, rejected = _validate(items)
        if not valid:
            return error_response(
                422, "validation_failed", "No item of the batch is valid", rejected=rejected
            )
        if len(valid) > enterprise.quota_per_minute:
            raise _unprocessable(
                {"items": f"more than the enterprise's quota of {enterprise.quota_per_minute} a minute"},
                "Split the batch",
            )
    except _Refused as refused:
        return refused.response
    try:
        answer = await request.app[BULK_INTAKE].accept(
            enterprise,
            valid,
            rejected,
            total=len(items),
            idempotency_key=key,
            callback_url=callback_url,
        )
    except BatchConflict as exc:
        return error_response(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different batch",
            batch_id=exc.batch_id,
        )
    except QuotaExceeded as exc:
        return retry_later(
            429,
            "quota_exceeded",
            "This enterprise is over its quota of items a minute; retry after the indicated time.",
            exc.retry_after_seconds,
            dt.datetime.fromtimestamp(time.time() + exc.retry_after_seconds, dt.UTC),
        )
    return web.Response(
        body=answer.body,
        status=202 if answer.created else 200,
        content_type="application/json",
        charset="utf-8",
        headers={"Location": answer.status_url},
    )
