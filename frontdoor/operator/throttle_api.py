"""``GET``/``PUT /v1/admin/throttle`` and ``GET /v1/admin/audit``: the operator's live knobs.

PUT merges the fields given into the stored document, validates the result as a whole, keeps the change
in the audit log (when, which token, before, after) and announces it; every front door re-reads the
document twice a second, so a change is in force everywhere within a second. ``?dry_run=true`` answers
with the predicted effect on admission, shedding and waits, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from aiohttp import web

from frontdoor.admission.policy import effective_rate
from frontdoor.app_keys import PLAN_READER, STORES
from frontdoor.intake.request_body import HttpError, read_object
from frontdoor.operator.auth import operator_only
from queue_config.kinds import KINDS
from queue_config.planning.throttle import Mode, Throttle, merged
from queue_config.web.http import error_response, iso_utc, json_response
from queue_config.web.openapi import DRY_RUN_FALSE, DRY_RUN_TRUE


def _number(value: Any, low: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= low


def _problems(doc: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    known = set(Throttle.__struct_fields__)
    for name in doc.keys() - known:
        errors[name] = "unknown field"
    if "mode" in doc and doc["mode"] not in tuple(Mode):  # a tuple: an unhashable value is no error
        errors["mode"] = "must be one of: " + ", ".join(Mode)
    rates = doc.get("rates", {})
    if not isinstance(rates, dict):
        errors["rates"] = "must be an object of kind: number or null"
    else:
        for kind, rate in rates.items():
            if kind not in KINDS:
                errors[f"rates.{kind}"] = "unknown kind"
            elif rate is not None and (
                isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0
            ):
                errors[f"rates.{kind}"] = "must be a number >= 0 or null"
    for name, low in (("max_wait_seconds", 1), ("per_client_per_minute", 0), ("per_ip_per_minute", 0)):
        value = doc.get(name)
        if name in doc and not _number(value, low):
            errors[name] = f"must be a number >= {low}"
    share: Any = doc.get("enterprise_share")
    if "enterprise_share" in doc and not (_number(share, 0) and share <= 1):
        errors["enterprise_share"] = "must be a number from 0 to 1"
    until = doc.get("maintenance_until")
    if until is not None:
        try:
            parsed = dt.datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                errors["maintenance_until"] = "must carry a UTC offset"
        except ValueError:
            errors["maintenance_until"] = "must be ISO 8601 or null"
    return errors


_TRUE, _FALSE = frozenset(DRY_RUN_TRUE), frozenset(DRY_RUN_FALSE)


def _flag(value: str | None) -> bool | None:
    """A boolean query parameter: absent is False; an unknown spelling, an empty one included, None."""
    if value is None:
        return False
    word = value.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else None


@operator_only
async def get_throttle(request: web.Request, _: str) -> web.Response:
    return json_response(msgspec.to_builtins(await request.app[STORES].throttle.get()))


@operator_only
async def put_throttle(request: web.Request, token: str) -> web.Response:
    dry_run = _flag(request.query.get("dry_run"))
    if dry_run is None:
        # Fail closed: an operator who asked for a dry run in words we do not know must not have the
        # change applied (``?dry_run=on`` used to apply it).
        return error_response(
            422,
            "validation_failed",
            "dry_run must be true or false",
            fields={"query.dry_run": "true, false, 1, 0, yes or no"},
        )
    try:
        changes = await read_object(request)
    except HttpError as exc:
        return exc.response
    store = request.app[STORES].throttle
    current = await store.get()
    before = msgspec.to_builtins(current)
    proposed = merged(current, changes)
    errors = _problems(changes) or _problems(proposed)
    if errors:
        return error_response(422, "validation_failed", "Some fields are invalid", fields=errors)
    after = msgspec.to_builtins(msgspec.convert(proposed, Throttle))
    if dry_run:
        return json_response({"dry_run": True, "throttle": after, "predicted": _predict(request, after)})
    await store.put(msgspec.convert(after, Throttle))
    await request.app[STORES].audit.record(
        token=token,
        action="throttle",
        before=before,
        after=after,
        throttle_changed=True,
    )
    return json_response(after)


@operator_only
async def get_audit(request: web.Request, _: str) -> web.Response:
    entries = await request.app[STORES].audit.entries()
    for entry in entries:
        entry["at"] = iso_utc(entry["at"])
    return json_response({"entries": entries})


def _predict(request: web.Request, after: dict[str, Any]) -> dict[str, Any]:
    """Per kind, from the current plan: the admission rate the change would give, the share of current
    demand that would be shed, and the longest wait of a ticket admitted now."""
    reader = request.app[PLAN_READER]
    out: dict[str, Any] = {}
    for kind in KINDS:
        plan = reader.kind(kind)
        if plan is None:
            out[kind] = None
            continue
        rates = effective_rate(
            msgspec.convert(after, Throttle),
            kind,
            capacity=plan.capacity,
            backlog=plan.backlog,
            enterprise_demand=plan.enterprise_rate or 0.0,
        )
        rate = rates.total
        shed = max(0.0, 1 - rates.citizens / plan.demand) if plan.demand > 0 else 0.0
        wait = (plan.backlog + max(0.0, min(rate, plan.demand) - plan.capacity) * 60) / plan.capacity
        out[kind] = {
            "admission_rate": round(rate, 3),
            "current_rate": plan.rate,
            "demand": plan.demand,
            "capacity": plan.capacity,
            "shed_share": round(shed, 3),
            "eta_seconds_in_a_minute": round(wait, 1) if plan.capacity > 0 else None,
        }
    return out
