"""``POST``/``GET /v1/admin/enterprises`` and ``DELETE /v1/admin/enterprises/{id}``: operators create
enterprises (their API key and webhook secret are shown in the 201 and never again), list them without
secrets, and revoke a key. Every change is in the audit log."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from frontdoor.app_keys import STORES
from frontdoor.intake.request_body import HttpError, read_object
from frontdoor.operator.auth import operator_only
from queue_config.stores.enterprises import DEFAULT_QUOTA_PER_MINUTE
from queue_config.web.http import error_response, json_response

MAX_QUOTA_PER_MINUTE = 10_000_000


def _problems(doc: dict[str, Any]) -> dict[str, str]:
    errors = {name: "unknown field" for name in doc.keys() - {"name", "quota_per_minute"}}
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        errors["name"] = "required: 1-200 characters"
    quota = doc.get("quota_per_minute", DEFAULT_QUOTA_PER_MINUTE)
    if isinstance(quota, bool) or not isinstance(quota, int) or not 1 <= quota <= MAX_QUOTA_PER_MINUTE:
        errors["quota_per_minute"] = f"must be an integer from 1 to {MAX_QUOTA_PER_MINUTE}"
    return errors


@operator_only
async def create_enterprise(request: web.Request, token: str) -> web.Response:
    try:
        doc = await read_object(request)
    except HttpError as exc:
        return exc.response
    errors = _problems(doc)
    if errors:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=errors)
    new = await request.app[STORES].enterprises.create(
        doc["name"].strip(), doc.get("quota_per_minute", DEFAULT_QUOTA_PER_MINUTE)
    )
    enterprise = new.enterprise
    await request.app[STORES].audit.record(
        token=token,
        action="enterprise.create",
        before=None,
        after=enterprise.public(),
    )
    return json_response(
        {
            **enterprise.public(),
            "api_key": new.api_key,
            "webhook_secret": enterprise.webhook_secret,
        },
        status=201,
    )


@operator_only
async def list_enterprises(request: web.Request, _: str) -> web.Response:
    found = await request.app[STORES].enterprises.all()
    return json_response({"enterprises": [e.public() for e in found]})


@operator_only
async def revoke_enterprise(request: web.Request, token: str) -> web.Response:
    store = request.app[STORES].enterprises
    enterprise_id = request.match_info["enterprise_id"]
    before = await store.get(enterprise_id)
    revoked = await store.revoke(enterprise_id)
    if before is None or revoked is None:
        return error_response(404, "not_found", "No such enterprise")
    await request.app[STORES].audit.record(
        token=token,
        action="enterprise.revoke",
        before=before.public(),
        after=revoked.public(),
    )
    return json_response(revoked.public())
