"""Strict validation of a submission, reporting every problem at once with its field path.

Written by hand rather than with msgspec/pydantic because SPEC wants all field errors in one 422 with
paths and our own reasons, which a decoder that stops at the first error does not give.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from queue_config import resident_id
from queue_config.kinds import Kind

_TOP_LEVEL = frozenset({"kind", "citizen_id", "payload"})
_REGION = re.compile(r"^[0-9]{6}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
MAX_AMOUNT_CENTS = 10_000_000


class ValidationFailed(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid fields: " + ", ".join(sorted(fields)))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Submission:
    kind: Kind
    citizen_id: str
    payload: dict[str, Any]

    @property
    def digest(self) -> str:
        """Digest of the normalized submission: equal for the same content however it was spelled."""
        canonical = orjson.dumps(
            {"kind": self.kind.value, "citizen_id": self.citizen_id, "payload": self.payload},
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).hexdigest()


def validate_submission(doc: Any, prefix: str = "") -> Submission:
    if not isinstance(doc, dict):
        raise ValidationFailed({prefix or "body": "must be a JSON object"})
    errors: dict[str, str] = {}
    for name in doc.keys() - _TOP_LEVEL:
        errors[prefix + name] = "unknown field"
    for name in _TOP_LEVEL - doc.keys():
        errors[prefix + name] = "required"

    kind: Kind | None = None
    raw_kind = doc.get("kind")
    if "kind" in doc:
        if isinstance(raw_kind, str) and raw_kind in Kind.__members__.values():
            kind = Kind(raw_kind)
        else:
            errors[prefix + "kind"] = "must be one of: " + ", ".join(k.value for k in Kind)

    citizen = doc.get("citizen_id")
    if "citizen_id" in doc and (why := resident_id.problem(citizen)):
        errors[prefix + "citizen_id"] = why

    payload = doc.get("payload")
    if "payload" in doc:
        if not isinstance(payload, dict):
            errors[prefix + "payload"] = "must be an object"
        elif kind is not None:
            errors.update(_PAYLOAD_RULES[kind](payload, prefix + "payload."))

    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and isinstance(citizen, str) and isinstance(payload, dict)
    return Submission(kind, resident_id.normalize(citizen), payload)


def _fields(payload: dict[str, Any], path: str, allowed: frozenset[str]) -> dict[str, str]:
    errors = {path + name: "unknown field" for name in payload.keys() - allowed}
    errors.update({path + name: "required" for name in allowed - payload.keys()})
    return errors


def _date_problem(value: Any, pattern: re.Pattern[str], fmt: str) -> str | None:
    if not isinstance(value, str) or not pattern.match(value):
        return f"must be a string {fmt}"
    # The pattern fixed the digits; the date constructor checks the calendar (strptime did the same at
    # five times the cost, a tenth of a shed answer's CPU).
    parts = [int(x) for x in value.split("-")]
    try:
        dt.date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
    except ValueError:
        return f"not a calendar {'date' if fmt == 'YYYY-MM-DD' else 'month'}"
    return None


def _choice(value: Any, choices: tuple[str, ...]) -> str | None:
    if isinstance(value, str) and value in choices:
        return None
    return "must be one of: " + ", ".join(choices)


def _pension(payload: dict[str, Any], path: str) -> dict[str, str]:
    errors = _fields(payload, path, frozenset({"action", "retirement_date"}))
    if "action" in payload and (why := _choice(payload["action"], ("estimate", "claim"))):
        errors[path + "action"] = why
    if "retirement_date" in payload and (
        why := _date_problem(payload["retirement_date"], _DATE, "YYYY-MM-DD")
    ):
        errors[path + "retirement_date"] = why
    return errors


def _transfer(payload: dict[str, Any], path: str) -> dict[str, str]:
    errors = _fields(payload, path, frozenset({"from_region", "to_region"}))
    for name in ("from_region", "to_region"):
        value = payload.get(name)
        if name in payload and not (isinstance(value, str) and _REGION.match(value)):
            errors[path + name] = "must be a 6-digit administrative division code (a string)"
    if not errors and payload["from_region"] == payload["to_region"]:
        errors[path + "to_region"] = "must differ from from_region"
    return errors


def _payment(payload: dict[str, Any], path: str) -> dict[str, str]:
    errors = _fields(payload, path, frozenset({"scheme", "amount_cents", "period"}))
    if "scheme" in payload and (why := _choice(payload["scheme"], ("medical", "pension", "unemployment"))):
        errors[path + "scheme"] = why
    amount = payload.get("amount_cents")
    if "amount_cents" in payload and (
        isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT_CENTS
    ):
        errors[path + "amount_cents"] = f"must be an integer from 1 to {MAX_AMOUNT_CENTS:,}"
    if "period" in payload and (why := _date_problem(payload["period"], _MONTH, "YYYY-MM")):
        errors[path + "period"] = why
    return errors


_PAYLOAD_RULES: dict[Kind, Callable[[dict[str, Any], str], dict[str, str]]] = {
    Kind.PENSION: _pension,
    Kind.TRANSFER: _transfer,
    Kind.PAYMENT: _payment,
}
