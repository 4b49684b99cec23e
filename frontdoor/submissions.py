"""``POST /v1/submissions``: the HTTP edge of intake (parsing, validation, status codes)."""

from __future__ import annotations

import re

from aiohttp import web

from frontdoor.intake import IdempotencyConflict, Intake
from frontdoor.rate_limits import ClientLimits, too_many_requests
from frontdoor.request_body import HttpError, read_json
from frontdoor.validation import ValidationFailed, validate_submission
from queue_config.http import error_response, json_response

INTAKE = web.AppKey("intake", Intake)
LIMITS = web.AppKey("limits", ClientLimits)
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


async def post_submission(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    try:
        doc = await read_json(request)
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise HttpError(
                422,
                "validation_failed",
                "Invalid Idempotency-Key header",
                fields={"header.Idempotency-Key": "must be 1-255 printable ASCII characters"},
            )
        submission = validate_submission(doc)
    except HttpError as exc:
        return exc.response
    except ValidationFailed as exc:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=exc.fields)

    verdict = await request.app[LIMITS].check(request, submission.citizen_id)
    if not verdict.allowed:
        return too_many_requests(verdict)
    try:
        accepted = await request.app[INTAKE].submit(submission, key)
    except IdempotencyConflict as exc:
        return error_response(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different body",
            ticket_id=exc.ticket_id,
        )
    return json_response(
        accepted.body,
        status=202 if accepted.created else 200,
        headers={"Location": accepted.body["status_url"]},
    )
