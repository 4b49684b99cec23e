"""``POST /v1/submissions``: the HTTP edge of intake (parsing, validation, admission, status codes)."""

from __future__ import annotations

import re
import time

from aiohttp import web

from frontdoor.app_keys import DEFENSE, GATE, INTAKE, TRAFFIC
from frontdoor.intake.acceptance import IdempotencyConflict
from frontdoor.intake.citizen_auth import authenticated_subject, ensure_owner
from frontdoor.intake.request_body import HttpError, read_json
from frontdoor.intake.validation import ValidationFailed, validate_submission
from queue_config.observability.metrics import INTAKE_STAGE, labelled
from queue_config.stores import traffic
from queue_config.web.http import error_response, json_response

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_AUTH, _GATE = labelled(INTAKE_STAGE, "auth"), labelled(INTAKE_STAGE, "gate")


async def post_submission(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    try:
        began = time.perf_counter()
        subject = await authenticated_subject(request)
        await request.app[DEFENSE].admit(request, subject)
        _AUTH.observe(time.perf_counter() - began)
        doc = await read_json(request)
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise HttpError(
                422,
                "validation_failed",
                "Invalid Idempotency-Key header",
                fields={"header.Idempotency-Key": "must be 1-255 printable ASCII characters"},
            )
        submission = validate_submission(doc)
        ensure_owner(subject, submission.citizen_id)
    except HttpError as exc:
        return exc.response
    except ValidationFailed as exc:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=exc.fields)

    counter = request.app[TRAFFIC]
    kind = submission.kind
    counter.count(kind, traffic.ARRIVALS)
    began = time.perf_counter()
    decision = await request.app[GATE].check(request, submission)
    _GATE.observe(time.perf_counter() - began)
    if not decision.admitted:
        counter.count(kind, traffic.LIMITED if decision.status == 429 else traffic.SHED)
        return decision.response()
    try:
        accepted = await request.app[INTAKE].submit(submission, key)
    except IdempotencyConflict as exc:
        return error_response(
            409,
            "idempotency_conflict",
            "This Idempotency-Key was already used with a different body",
            ticket_id=exc.ticket_id,
        )
    if accepted.created:
        counter.count(kind, traffic.ADMITTED)
    return json_response(
        accepted.body,
        status=202 if accepted.created else 200,
        headers={"Location": accepted.body["status_url"]},
    )
